"""Apply planned changes to Clockify and Notion, and record each in the audit trail.

Crash safety: a create stores its intent (mapping in state "creating") before
the POST, so a lost response or a dead process is read back by the next run
instead of posted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import ApiError, BudgetExhausted, OutcomeUnknown, ValidationFailed
from syncapp.clients.notion import NotionClient
from syncapp.engine import kinds
from syncapp.engine.kinds.base import CreatedIncompletely
from syncapp.engine.plan import PLACEHOLDER, Change, Snapshot, canonical_clockify
from syncapp.engine.records import ClockifyRecord, MappingConfig, clockify_record
from syncapp.models import EntityMapping, MappingState, Outcome, SyncRun, Trigger
from syncapp.services import refusals, review
from syncapp.services.clockify_reads import state_of
from syncapp.services.recorder import REJECTED_NOTE, Recorder
from syncapp.services.write_back import NotionWriteBack

log = logging.getLogger(__name__)

APPLIED_COUNT = {"create": "created", "update": "updated", "reparent": "updated",
                 "unarchive": "updated", "archive": "archived", "link": "linked",
                 "write_back": "written_back"}
VERDICT_OUTCOME = {"fail": Outcome.FAILED, "skip": Outcome.SKIPPED, "flag": Outcome.FLAGGED}
VERDICT_COUNT = {"fail": "failed", "skip": "skipped", "flag": "flagged"}


UNCHANGED = "unchanged"
MAPPING_BATCH = 500  # page ids per query (SQLite allows 999 parameters)


@dataclass(frozen=True)
class Applied:
    """What applying one planned change came to (the Change itself is never written to)."""

    outcome: str  # an Outcome (applied, failed, flagged, skipped, planned) or "unchanged"
    clockify_id: str | None = None  # the entity it concerns now: a create's new id
    error: str = ""


def checkpoint(stage: str, change: Change) -> None:
    """A seam for tests that simulate a crash between two steps of a change."""


class Applier:
    def __init__(self, notion: NotionClient, clockify: ClockifyClient, run: SyncRun,
                 configs: dict[str, MappingConfig], *, dry_run: bool,
                 database_ids: dict[str, str] | None = None) -> None:
        self.clockify = clockify
        self.run = run
        self.dry_run = dry_run
        self.recorder = Recorder(run)
        self.write_back = NotionWriteBack(notion, configs, database_ids or {}, self.recorder)
        self.mappings: dict[str, dict[str, EntityMapping]] = {}  # kind → page → mapping
        # Pages whose create or link failed this run: their children are skipped.
        self.failed_pages: dict[str, str] = {}
        self.skipped_pages: set[str] = set()
        # Dry run: pages that would be created, so their children plan a create too.
        self.planned_pages: dict[str, str] = {}
        # Clockify ids created by this run: their task lists are known to be empty.
        self.created_ids: set[str] = set()
        self.refusals = refusals.Refusals()

    # -- entry point ----------------------------------------------------------------------------
    def apply(self, snapshot: Snapshot, change: Change) -> Applied:
        """Apply one planned change (or record why not) and say what it came to."""
        if change.verdict:
            return self._decided(snapshot, change)
        flagged = bool(change.conflicts) and \
            self._review(change, self._mapping(change)) != "rejected"
        if flagged:
            self.recorder.count(change.kind, "flagged")
            self.recorder.record(
                change, Outcome.FLAGGED, action="update",
                fields={"conflicts": change.conflicts}, mapping=self._mapping(change),
                error="Changed on both sides since the last sync: "
                      + ", ".join(sorted(change.conflicts)) + ". Nothing applied for these; "
                      "decide in the review queue.")
        if not change.writes:
            self.recorder.count(change.kind, "unchanged")
            return Applied(Outcome.FLAGGED if flagged else UNCHANGED, change.clockify_id)
        if self.dry_run:
            self.recorder.count(change.kind, APPLIED_COUNT.get(change.action, "planned"))
            if change.action in {"create", "link"}:
                self.planned_pages[change.page_id] = change.clockify_id or PLACEHOLDER
            self.recorder.record(change, Outcome.PLANNED)
            return Applied(Outcome.PLANNED, change.clockify_id)
        if self._held_back(snapshot, change):
            return self._still_refused(snapshot, change)
        try:
            if change.action == "create":
                return self._create(snapshot, change)
            return self._update(snapshot, change)
        except BudgetExhausted:
            raise  # nothing was sent: the run stops here and a follow-up continues
        except OutcomeUnknown as exc:
            return self._fail(snapshot, change, f"{exc}. The next run reads Clockify back "
                                                "before trying again, so nothing is duplicated.")
        except ValidationFailed as exc:
            return self._refused(snapshot, change, exc)
        except ApiError as exc:
            return self._fail(snapshot, change, str(exc))
        except Exception as exc:  # one record's bug must not stop the run
            log.exception("Unexpected error applying %s %s", change.kind, change.page_id)
            return self._fail(snapshot, change, f"Internal error: {exc!r}")

    def _decided(self, snapshot: Snapshot, change: Change) -> Applied:
        """A change the plan already failed, skipped or flagged: recorded, nothing written."""
        self._remember_failure(snapshot, change)
        mapping = self._mapping(change)
        if self._review(change, mapping) == "rejected":
            self.recorder.count(change.kind, "skipped")
            self.recorder.record(change, Outcome.SKIPPED, mapping=mapping, error=REJECTED_NOTE)
            return Applied(Outcome.SKIPPED, change.clockify_id, REJECTED_NOTE)
        self.recorder.count(change.kind, VERDICT_COUNT[change.verdict])
        self.recorder.record(change, VERDICT_OUTCOME[change.verdict], mapping=mapping)
        return Applied(VERDICT_OUTCOME[change.verdict], change.clockify_id, change.error)

    def _review(self, change: Change, mapping: EntityMapping | None) -> str | None:
        """Queue what needs a human (not in a dry run, which writes nothing)."""
        if self.dry_run or review.flag_reason(change) is None:
            return None
        return review.flag(self.run, change, mapping)

    # -- writes Clockify refused (services/refusals.py) ---------------------------------------
    def _held_back(self, snapshot: Snapshot, change: Change) -> bool:
        """A write Clockify refused, with nothing it depends on changed: not sent again.
        A person's Retry (a review run) always sends."""
        sends = change.action == "create" or bool(change.to_clockify)
        return sends and self.run.trigger != Trigger.REVIEW \
            and self.refusals.still_refused(snapshot, change)

    def _still_refused(self, snapshot: Snapshot, change: Change) -> Applied:
        message = refusals.not_sent_message()
        self._remember_failure(snapshot, change, message)
        self.recorder.count(change.kind, "flagged")
        self.recorder.flagged.add((change.page_id, "validation"))  # the item stays pending
        self.recorder.record(change, Outcome.FLAGGED, error=message,
                             mapping=self._mapping(change))
        return Applied(Outcome.FLAGGED, change.clockify_id, message)

    def _refused(self, snapshot: Snapshot, change: Change, exc: ValidationFailed) -> Applied:
        """Clockify said no (400): a validation item that holds the write until a change."""
        message = refusals.refused_message(str(exc))
        key = self.refusals.key(snapshot, change)
        review.flag(self.run, refusals.as_validation_item(change, message),
                    self._mapping(change), key=key)
        self.refusals.remember(snapshot, change, key)
        self.recorder.flagged.add((change.page_id, "validation"))
        return self._fail(snapshot, change, message)

    # -- the steps -------------------------------------------------------------------------------
    def _fail(self, snapshot: Snapshot, change: Change, error: str) -> Applied:
        self._remember_failure(snapshot, change, error)
        self.recorder.count(change.kind, "failed")
        self.recorder.record(change, Outcome.FAILED, error=error, mapping=self._mapping(change))
        return Applied(Outcome.FAILED, change.clockify_id, error)

    def _remember_failure(self, snapshot: Snapshot, change: Change, error: str = "") -> None:
        """A page whose create or link did not happen: its children wait for it."""
        saved = self.mappings.get(change.kind, {}).get(change.page_id)
        stored_id = saved.clockify_id if saved else change.known and change.known.clockify_id
        if not change.page_id or change.clockify_id or stored_id:
            return
        if change.verdict == "skip":
            self.skipped_pages.add(change.page_id)
        elif change.action in {"create", "link"}:
            self.failed_pages[change.page_id] = error or change.error or change.reason

    def load_mappings(self, kind: str, page_ids: Iterable[str | None]) -> None:
        """The stored mappings the planned changes will record against or write, in bulk
        (a change without one reads its own); the others are never loaded."""
        loaded = self.mappings[kind] = {}
        wanted = sorted({p for p in page_ids if p})
        for start in range(0, len(wanted), MAPPING_BATCH):
            rows = EntityMapping.objects.filter(
                kind=kind, notion_page_id__in=wanted[start:start + MAPPING_BATCH])
            loaded.update((m.notion_page_id, m) for m in rows)

    def forget(self, kind: str, page_id: str | None) -> None:
        """A change applied: its page's mapping is not needed again this run."""
        self.mappings.get(kind, {}).pop(page_id, None)

    def _mapping(self, change: Change) -> EntityMapping | None:
        if not change.page_id or (change.known and change.known.mapping_id is None
                                  and change.action == "create"):
            return None
        loaded = self.mappings.setdefault(change.kind, {})
        if change.page_id not in loaded:  # not in the snapshot's load (a probe, a race)
            found = EntityMapping.objects.filter(kind=change.kind,
                                                 notion_page_id=change.page_id).first()
            if found is None:
                return None
            loaded[change.page_id] = found
        return loaded[change.page_id]

    def _create(self, snapshot: Snapshot, change: Change) -> Applied:
        # The intent to create is stored before the POST: a lost answer is read back later.
        intent = {"state": MappingState.CREATING, "clockify_id": None,
                  "name": change.name[:2000]}
        if change.known is None:
            mapping = EntityMapping.objects.create(
                kind=change.kind, notion_page_id=change.page_id, **intent)
        else:
            mapping, _ = EntityMapping.objects.update_or_create(
                kind=change.kind, notion_page_id=change.page_id, defaults=intent)
        self.mappings.setdefault(change.kind, {})[change.page_id] = mapping
        spec = kinds.get(change.kind)
        body = spec.create_body(change.to_clockify, change.parent_clockify_id)
        unfinished: CreatedIncompletely | None = None
        try:
            entity = spec.create(self.clockify, body, change.parent_clockify_id)
        except CreatedIncompletely as partly:  # it exists: keep and map it, finish next run
            entity, unfinished = partly.entity, partly
        except OutcomeUnknown:
            raise  # keep the "creating" intent: the next run reads back
        except (ApiError, BudgetExhausted):
            mapping.delete()  # refused outright or never sent: nothing exists to read back
            self.mappings[change.kind].pop(change.page_id, None)
            raise
        checkpoint("after_create", change)
        result = clockify_record(change.kind, entity)
        self.created_ids.add(result.id)
        # Fields not written keep no baseline, so the next run sees them as still to write.
        self._save(snapshot, change, mapping, result,
                   held=set(unfinished.fields) if unfinished else set())
        self.recorder.count(change.kind, "created")
        self.recorder.record(change, Outcome.APPLIED, mapping=mapping)
        self.write_back.write(change, mapping)
        if unfinished:
            return self._unfinished(change, mapping, unfinished)
        return Applied(Outcome.APPLIED, result.id)

    def _unfinished(self, change: Change, mapping: EntityMapping,
                    partly: CreatedIncompletely) -> Applied:
        """A created entity whose follow-up write failed: a failed record of its own."""
        names = ", ".join(partly.fields)
        error = (f"Created in Clockify, but its {names} could not be set: {partly.error}. "
                 "The next run sets it; nothing is created twice.")
        self.recorder.count(change.kind, "failed")
        self.recorder.record(change, Outcome.FAILED, action="update", mapping=mapping,
                             fields={k: change.diff[k] for k in partly.fields
                                     if k in change.diff}, error=error)
        return Applied(Outcome.APPLIED, mapping.clockify_id, error)

    def _update(self, snapshot: Snapshot, change: Change) -> Applied:
        mapping = self._mapping(change) or EntityMapping(
            kind=change.kind, notion_page_id=change.page_id)
        result = change.clockify
        if change.to_clockify:
            result = self._put(change)
        # Values on their way to Notion keep their old baseline until Notion holds them:
        # a refused write must not look like a change made in Notion next run.
        self._save(snapshot, change, mapping, result, held=set(change.to_notion))
        if change.to_clockify or change.action == "link":
            self.recorder.count(change.kind, APPLIED_COUNT[change.action])
            self.recorder.record(change, Outcome.APPLIED, mapping=mapping)
        written = self.write_back.write(change, mapping)
        self.write_back.confirm(mapping, change, written)
        missing = set(change.to_notion) - written  # refused, failed or flagged on the way
        if missing and not (change.to_clockify or change.action == "link"):
            flagged = (change.page_id, "validation") in self.recorder.flagged
            return Applied(Outcome.FLAGGED if flagged else Outcome.FAILED, result.id,
                           "Not written to Notion: " + ", ".join(sorted(missing)))
        return Applied(Outcome.APPLIED, result.id)

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
            # Never closed without its replacement for want of budget: both or neither.
            self.clockify.reserve(2)
            spec.update(self.clockify, entity.id, spec.closed_body(True), entity.parent_id,
                        current=entity.raw)
        body = spec.create_body(change.notion.fields, None)
        return spec.create(self.clockify, body, values[spec.parent_field])

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
        if change.notion.excluded:  # archived for leaving the sync filter: left alone now
            notion_after["_excluded"] = True
        self.refusals.wrote(change.kind, result)
        mapping.clockify_id = result.id
        mapping.name = change.name[:2000]
        mapping.baseline = {"notion": notion_after, "clockify": clockify_after}
        mapping.clockify_state = state_of(result)  # what a change-feed run may assume
        mapping.state = MappingState.ARCHIVED if clockify_after.get("closed") \
            else MappingState.LINKED
        mapping.parent_id = snapshot.parents.to_mapping.get(change.notion.fields.get("parent"))
        mapping.notion_last_edited = _parse_time(change.notion.last_edited)
        mapping.last_synced_at = timezone.now()
        mapping.save()
        self.mappings.setdefault(change.kind, {})[change.page_id] = mapping
        self.failed_pages.pop(change.page_id, None)


def _parse_time(value: str | None):
    if not value:
        return None
    from django.utils.dateparse import parse_datetime

    return parse_datetime(value)
