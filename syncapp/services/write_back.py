"""Clockify-side values written back to the Notion page, and the Clockify ID.

A value moves into the baseline only once Notion holds it (`confirm` after `write`): a
refused or failed write keeps the old baseline, so the next run tries again instead of
reading Notion's old value as a change made in Notion. A status is chosen among the live
property's options; one Notion cannot hold is never sent but flagged with the fix.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from syncapp.clients.errors import ApiError
from syncapp.clients.notion import NotionClient
from syncapp.clients.notion_values import rich_text, write_value
from syncapp.engine.plan import Change
from syncapp.engine.records import MappingConfig
from syncapp.models import EntityMapping, Outcome
from syncapp.services import review
from syncapp.services.recorder import REJECTED_NOTE, Recorder


class Unwritable(Exception):
    """A value Notion would refuse (a status option it does not have): never sent."""


class NotionWriteBack:
    def __init__(self, notion: NotionClient, configs: dict[str, MappingConfig],
                 database_ids: dict[str, str], recorder: Recorder) -> None:
        self.notion = notion
        self.configs = configs
        self.database_ids = database_ids
        self.recorder = recorder
        self._schemas: dict[str, dict[str, dict]] = {}  # kind → live Notion schema, per run

    def confirm(self, mapping: EntityMapping, change: Change, written: set[str]) -> None:
        """Notion now holds these values too: only now does their baseline move."""
        if not written:
            return
        for name in written:
            for side in ("notion", "clockify"):
                mapping.baseline.setdefault(side, {})[name] = change.to_notion[name]
        mapping.save(update_fields=["baseline"])

    def write(self, change: Change, mapping: EntityMapping) -> set[str]:
        """Write the Clockify ID and Clockify-side values to the page; the fields written."""
        try:
            properties, written = self._notion_properties(change, mapping)
            if not properties:
                return written
            if change.notion.trashed:  # a trashed page takes no edit; it stays closed
                return set(change.to_notion)
            self.notion.update_page(change.page_id, properties)
        except ApiError as exc:
            self.recorder.count(change.kind, "failed")
            self.recorder.record(
                change, Outcome.FAILED, action="write_back", mapping=mapping,
                error=f"Could not write to the Notion page: {exc}. The baseline is unchanged, "
                      "so the next run tries again.",
                fields={k: change.diff[k] for k in change.to_notion if k in change.diff})
            return set()
        if written:
            self.recorder.count(change.kind, "written_back")
            self.recorder.record(
                change, Outcome.APPLIED, action="write_back", mapping=mapping,
                fields={k: v for k, v in change.diff.items() if k in written})
        return written

    def _notion_properties(self, change: Change, mapping: EntityMapping
                           ) -> tuple[dict[str, Any], set[str]]:
        """The properties to send, and which Clockify-side fields they carry."""
        names = self.configs[change.kind].properties
        properties: dict[str, Any] = {}
        written: set[str] = set()
        if (change.write_clockify_id or change.action == "create") and "clockify_id" in names:
            properties[names["clockify_id"]] = {"rich_text": rich_text(mapping.clockify_id)}
        for key, value in change.to_notion.items():
            try:
                properties[self._property_name(change, key)] = self._notion_value(
                    change, key, value)
            except Unwritable as exc:
                self._flag_unwritable(change, mapping, key, str(exc))
                continue
            written.add(key)
        return properties, written

    def _property_name(self, change: Change, key: str) -> str:
        if key == "closed":
            return self.configs[change.kind].properties["closed"]
        return change.notion.props[key][0]

    def _notion_value(self, change: Change, key: str, value: Any) -> dict:
        if key == "closed" and "closed" in self.configs[change.kind].properties:
            return self._closed_value(change, value)
        if key not in change.notion.props:
            raise Unwritable(f"The Notion page has no property for {key}.")
        prop_name, prop_type = change.notion.props[key]
        body = None if str(value or "").startswith("clockify:") else write_value(prop_type, value)
        if body is None:
            raise Unwritable(f"Clockify's {key} ({value}) cannot be written to “{prop_name}” "
                             f"(a {prop_type} property). Fix: set it in Notion, or undo the "
                             "change in Clockify.")
        return body

    def _flag_unwritable(self, change: Change, mapping: EntityMapping, key: str,
                         fix: str) -> None:
        """A Clockify-side value Notion cannot hold becomes a validation item, not a write."""
        flagged = dataclasses.replace(
            change, action="write_back", verdict="flag", reason="validation", error=fix,
            to_clockify={}, conflicts={}, diff={key: change.diff.get(key, {})})
        self.recorder.flagged.add((change.page_id, "validation"))
        if review.flag(self.recorder.run, flagged, mapping) == "rejected":
            self.recorder.count(change.kind, "skipped")
            self.recorder.record(flagged, Outcome.SKIPPED, mapping=mapping, error=REJECTED_NOTE)
            return
        self.recorder.count(change.kind, "flagged")
        self.recorder.record(flagged, Outcome.FLAGGED, mapping=mapping)

    def _closed_value(self, change: Change, closed: bool) -> dict:
        kind_type = change.notion.closed_type
        if kind_type == "checkbox":
            return {"checkbox": closed}
        prop_name = self.configs[change.kind].properties["closed"]
        options = self._options(change.kind, prop_name)
        wanted = self._closed_names(change) if closed else self._open_names(change, options)
        for name in wanted:
            if name in options or (kind_type == "select" and closed):
                return {kind_type: {"name": name}}  # Notion adds a missing select option
        raise Unwritable(self._status_fix(change, prop_name, closed, wanted))

    def _closed_names(self, change: Change) -> list[str]:
        values = self.configs[change.kind].closed_values or ["Done"]
        return sorted(values, key=lambda v: v != "Archived")  # "Archived" first, if closed

    def _open_names(self, change: Change, options: list[str]) -> list[str]:
        closed = set(self.configs[change.kind].closed_values)
        previous = (change.known.baseline.get("notion", {}).get("_status")
                    if change.known else None)
        names = [previous, "Not started", *options]
        return [n for n in names if n and n not in closed]

    def _status_fix(self, change: Change, prop_name: str, closed: bool,
                    wanted: list[str]) -> str:
        plural = f"{change.kind}s"
        if closed:
            want = wanted[0] if wanted else "Done"
            return (f"Notion's “{prop_name}” has no option meaning closed, so the archive made "
                    f"in Clockify was not written back. Fix: add the option “{want}” to "
                    f"“{prop_name}” in Notion, or add one of its options to the closed values "
                    f"of the {plural.capitalize()} mapping; then retry.")
        return (f"Notion's “{prop_name}” has no open option, so the reopening made in Clockify "
                f"was not written back. Fix: add the option “Not started” to “{prop_name}” in "
                f"Notion; then retry.")

    def _options(self, kind: str, prop_name: str) -> list[str]:
        """The option names the live Notion property offers (read once per kind per run)."""
        if kind not in self._schemas:
            self._schemas[kind] = self.notion.schema(self.database_ids[kind])
        prop = self._schemas[kind].get(prop_name) or {}
        return [o.get("name") for o in (prop.get(prop.get("type", "")) or {}).get("options", [])]
