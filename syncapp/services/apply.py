"""Apply planned changes to Clockify and Notion, and record each in the audit trail.

Crash safety: a create stores its intent (mapping in state "creating") before
the POST, so a lost response or a dead process is read back by the next run
instead of posted twice.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from typing import Any

from django.utils import timezone

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import ApiError, OutcomeUnknown
from syncapp.clients.notion import NotionClient
from syncapp.clients.notion_values import rich_text, write_value
from syncapp.engine import kinds
from syncapp.engine.plan import PLACEHOLDER, Change, Snapshot, canonical_clockify
from syncapp.engine.records import ClockifyRecord, MappingConfig, clockify_record
from syncapp.models import ChangeRecord, EntityMapping, MappingState, Outcome, SyncRun
from syncapp.services import review

log = logging.getLogger(__name__)

APPLIED_COUNT = {"create": "created", "update": "updated", "reparent": "updated",
                 "unarchive": "updated", "archive": "archived", "link": "linked",
                 "write_back": "written_back"}
REJECTED_NOTE = "Rejected in review; not flagged again until either side changes."
VERDICT_OUTCOME = {"fail": Outcome.FAILED, "skip": Outcome.SKIPPED, "flag": Outcome.FLAGGED}


def checkpoint(stage: str, change: Change) -> None:
    """A seam for tests that simulate a crash between two steps of a change."""


class Unwritable(Exception):
    """A value Notion would refuse (a status option it does not have): never sent."""


class Applier:
    def __init__(self, notion: NotionClient, clockify: ClockifyClient, run: SyncRun,
                 configs: dict[str, MappingConfig], *, dry_run: bool,
                 database_ids: dict[str, str] | None = None) -> None:
        self.notion = notion
        self.clockify = clockify
        self.run = run
        self.configs = configs
        self.dry_run = dry_run
        self.database_ids = database_ids or {}
        self._schemas: dict[str, dict[str, dict]] = {}  # kind → live Notion schema, per run
        # (page, reason) of review items raised while applying, not while planning.
        self.flagged: set[tuple[str, str]] = set()
        self.counts: dict[str, Counter] = {}
        # Pages whose create or link failed this run: their children are skipped.
        self.failed_pages: dict[str, str] = {}
        self.skipped_pages: set[str] = set()
        # Dry run: pages that would be created, so their children plan a create too.
        self.planned_pages: dict[str, str] = {}
        # Clockify ids created by this run: their task lists are known to be empty.
        self.created_ids: set[str] = set()

    # -- recording --------------------------------------------------------------------------
    def count(self, kind: str, key: str) -> None:
        self.counts.setdefault(kind, Counter())[key] += 1

    def record(self, change: Change, outcome: str, *, error: str = "", action: str = "",
               mapping: EntityMapping | None = None, fields: dict | None = None) -> None:
        ChangeRecord.objects.create(
            run=self.run, kind=change.kind, mapping=mapping,
            name=(change.name or "")[:2000], notion_page_id=change.page_id or "",
            clockify_id=(mapping.clockify_id if mapping and mapping.clockify_id
                         else change.clockify_id) or "",
            action=action or change.action, outcome=outcome, reason=change.reason[:50],
            fields=fields if fields is not None else {**change.diff, **(
                {"conflicts": change.conflicts} if change.conflicts else {})},
            error=error or change.error,
        )

    # -- entry point ----------------------------------------------------------------------------
    def apply(self, snapshot: Snapshot, change: Change) -> None:
        if change.verdict:
            self._remember_failure(snapshot, change)
            mapping = self._mapping(change)
            if self._review(change, mapping) == "rejected":
                self.count(change.kind, "skipped")
                self.record(change, Outcome.SKIPPED, mapping=mapping, error=REJECTED_NOTE)
                return
            self.count(change.kind, {"fail": "failed", "skip": "skipped",
                                     "flag": "flagged"}[change.verdict])
            self.record(change, VERDICT_OUTCOME[change.verdict], mapping=mapping)
            return
        if change.conflicts and self._review(change, self._mapping(change)) != "rejected":
            self.count(change.kind, "flagged")
            self.record(change, Outcome.FLAGGED, action="update", fields={
                "conflicts": change.conflicts}, mapping=self._mapping(change),
                error="Changed on both sides since the last sync: "
                      + ", ".join(sorted(change.conflicts)) + ". Nothing applied for these; "
                      "decide in the review queue.")
        if not change.writes:
            self.count(change.kind, "unchanged")
            return
        if self.dry_run:
            self.count(change.kind, APPLIED_COUNT.get(change.action, "planned"))
            if change.action in {"create", "link"}:
                self.planned_pages[change.page_id] = change.clockify_id or PLACEHOLDER
            self.record(change, Outcome.PLANNED)
            return
        try:
            if change.action == "create":
                self._create(snapshot, change)
            else:
                self._update(snapshot, change)
        except OutcomeUnknown as exc:
            self._fail(snapshot, change, f"{exc}. The next run reads Clockify back before "
                                         "trying again, so nothing is duplicated.")
        except ApiError as exc:
            self._fail(snapshot, change, str(exc))
        except Exception as exc:  # one record's bug must not stop the run
            log.exception("Unexpected error applying %s %s", change.kind, change.page_id)
            self._fail(snapshot, change, f"Internal error: {exc!r}")

    def _review(self, change: Change, mapping: EntityMapping | None) -> str | None:
        """Queue what needs a human (not in a dry run, which writes nothing)."""
        if self.dry_run or review.flag_reason(change) is None:
            return None
        return review.flag(self.run, change, mapping)

    # -- the steps -------------------------------------------------------------------------------
    def _fail(self, snapshot: Snapshot, change: Change, error: str) -> None:
        change.error = error
        self._remember_failure(snapshot, change)
        self.count(change.kind, "failed")
        self.record(change, Outcome.FAILED, error=error, mapping=self._mapping(change))

    def _remember_failure(self, snapshot: Snapshot, change: Change) -> None:
        if not change.page_id or change.clockify_id:
            return
        if change.verdict == "skip":
            self.skipped_pages.add(change.page_id)
        elif change.action in {"create", "link"}:
            self.failed_pages[change.page_id] = change.error or change.reason

    def _mapping(self, change: Change) -> EntityMapping | None:
        if not change.page_id or (change.known and change.known.mapping_id is None
                                  and change.action == "create"):
            return None
        if change.known and change.known.mapping_id:
            return EntityMapping.objects.filter(pk=change.known.mapping_id).first()
        return EntityMapping.objects.filter(kind=change.kind,
                                            notion_page_id=change.page_id).first()

    def _create(self, snapshot: Snapshot, change: Change) -> None:
        # The intent to create is stored before the POST: a lost answer is read back later.
        intent = {"state": MappingState.CREATING, "clockify_id": None,
                  "name": change.name[:2000]}
        if change.known is None:
            mapping = EntityMapping.objects.create(
                kind=change.kind, notion_page_id=change.page_id, **intent)
        else:
            mapping, _ = EntityMapping.objects.update_or_create(
                kind=change.kind, notion_page_id=change.page_id, defaults=intent)
        body = kinds.get(change.kind).create_body(change.to_clockify,
                                                  change.parent_clockify_id)
        try:
            entity = self._post(change, body)
        except OutcomeUnknown:
            raise  # keep the "creating" intent: the next run reads back
        except ApiError:
            mapping.delete()  # refused outright: nothing exists to read back
            raise
        checkpoint("after_create", change)
        result = clockify_record(change.kind, entity)
        change.clockify_id = result.id
        self.created_ids.add(result.id)
        self._save(snapshot, change, mapping, result)
        self.count(change.kind, "created")
        self.record(change, Outcome.APPLIED, mapping=mapping)
        self._write_notion(change, mapping)

    def _post(self, change: Change, body: dict) -> dict:
        return kinds.get(change.kind).create(self.clockify, body, change.parent_clockify_id)

    def _update(self, snapshot: Snapshot, change: Change) -> None:
        mapping = self._mapping(change) or EntityMapping(
            kind=change.kind, notion_page_id=change.page_id)
        result = change.clockify
        if change.to_clockify:
            result = self._put(change)
        # Values on their way to Notion keep their old baseline until Notion holds them:
        # a refused write must not look like a change made in Notion next run.
        self._save(snapshot, change, mapping, result, held=set(change.to_notion))
        if change.to_clockify or change.action == "link":
            self.count(change.kind, APPLIED_COUNT[change.action])
            self.record(change, Outcome.APPLIED, mapping=mapping)
        self._confirm(mapping, change, self._write_notion(change, mapping))

    def _put(self, change: Change) -> ClockifyRecord:
        entity = change.clockify
        spec = kinds.get(change.kind)
        values = spec.to_clockify(change.to_clockify, change.parent_clockify_id)
        if spec.under_parent and spec.parent_field in values:
            answer = self._move(change, entity, values)
        else:
            answer = spec.update(self.clockify, entity.id, values, entity.parent_id,
                                 current=entity.raw)
        return clockify_record(change.kind, answer)

    def _move(self, change: Change, entity: ClockifyRecord, values: dict) -> dict:
        # Clockify cannot move a task to another project: close the old one, create it
        # under the new project.
        spec = kinds.get(change.kind)
        if not entity.fields.get("closed"):
            spec.update(self.clockify, entity.id, spec.closed_body(True), entity.parent_id,
                        current=entity.raw)
        body = spec.create_body(change.notion.fields, None)
        created = spec.create(self.clockify, body, values[spec.parent_field])
        change.clockify_id = created["id"]
        return created

    def _save(self, snapshot: Snapshot, change: Change, mapping: EntityMapping,
              result: ClockifyRecord, held: set[str] = frozenset()) -> None:
        old = (change.known.baseline if change.known else {}) or {}
        notion_after = {**change.notion.fields, **change.to_notion}
        clockify_after = canonical_clockify(snapshot, result)
        for name in {*change.conflicts, *held}:  # not agreed on both sides: old baseline
            notion_after[name] = old.get("notion", {}).get(name)
            clockify_after[name] = old.get("clockify", {}).get(name)
        notion_after["_status"] = change.notion.status_name
        notion_after["_trashed"] = change.notion.trashed
        mapping.clockify_id = result.id
        mapping.name = change.name[:2000]
        mapping.baseline = {"notion": notion_after, "clockify": clockify_after}
        mapping.state = MappingState.ARCHIVED if clockify_after.get("closed") \
            else MappingState.LINKED
        mapping.parent_id = snapshot.parents.to_mapping.get(change.notion.fields.get("parent"))
        mapping.notion_last_edited = _parse_time(change.notion.last_edited)
        mapping.last_synced_at = timezone.now()
        mapping.save()
        self.failed_pages.pop(change.page_id, None)

    def _confirm(self, mapping: EntityMapping, change: Change, written: set[str]) -> None:
        """Notion now holds these values too: only now does their baseline move."""
        if not written:
            return
        for name in written:
            for side in ("notion", "clockify"):
                mapping.baseline.setdefault(side, {})[name] = change.to_notion[name]
        mapping.save(update_fields=["baseline"])

    def _write_notion(self, change: Change, mapping: EntityMapping) -> set[str]:
        """Write the Clockify ID and Clockify-side values to the page; the fields written."""
        try:
            properties, written = self._notion_properties(change, mapping)
            if not properties:
                return written
            if change.notion.trashed:  # a trashed page takes no edit; it stays closed
                return set(change.to_notion)
            self.notion.update_page(change.page_id, properties)
        except ApiError as exc:
            self.count(change.kind, "failed")
            self.record(change, Outcome.FAILED, action="write_back", mapping=mapping,
                        error=f"Could not write to the Notion page: {exc}. The baseline is "
                              "unchanged, so the next run tries again.",
                        fields={k: change.diff[k] for k in change.to_notion if k in change.diff})
            return set()
        if written:
            self.count(change.kind, "written_back")
            self.record(change, Outcome.APPLIED, action="write_back", mapping=mapping,
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
        self.flagged.add((change.page_id, "validation"))
        if review.flag(self.run, flagged, mapping) == "rejected":
            self.count(change.kind, "skipped")
            self.record(flagged, Outcome.SKIPPED, mapping=mapping, error=REJECTED_NOTE)
            return
        self.count(change.kind, "flagged")
        self.record(flagged, Outcome.FLAGGED, mapping=mapping)

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
        kinds = f"{change.kind}s"
        if closed:
            want = wanted[0] if wanted else "Done"
            return (f"Notion's “{prop_name}” has no option meaning closed, so the archive made "
                    f"in Clockify was not written back. Fix: add the option “{want}” to "
                    f"“{prop_name}” in Notion, or add one of its options to the closed values "
                    f"of the {kinds.capitalize()} mapping; then retry.")
        return (f"Notion's “{prop_name}” has no open option, so the reopening made in Clockify "
                f"was not written back. Fix: add the option “Not started” to “{prop_name}” in "
                f"Notion; then retry.")

    def _options(self, kind: str, prop_name: str) -> list[str]:
        """The option names the live Notion property offers (read once per kind per run)."""
        if kind not in self._schemas:
            self._schemas[kind] = self.notion.schema(self.database_ids[kind])
        prop = self._schemas[kind].get(prop_name) or {}
        return [o.get("name") for o in (prop.get(prop.get("type", "")) or {}).get("options", [])]


def _parse_time(value: str | None):
    if not value:
        return None
    from django.utils.dateparse import parse_datetime

    return parse_datetime(value)
