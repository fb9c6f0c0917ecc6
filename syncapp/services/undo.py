"""Undo a run: put back, on both sides, every value the run changed.

The plan comes from the run's audit trail alone (its applied ChangeRecords): per record,
the fields it wrote with their value before and after. The rule is one sentence: **every
field the run changed goes back, in Clockify and in Notion, to the value the run
replaced**, and the baseline with it. Both sides must agree, or the next sync would redo
the change (Notion stays the source of truth: a rename that came from Notion is renamed
back in Notion too). What it came to per record:

- a rename, a new parent or another field: set back on both sides;
- an archive (a page closed or trashed in Notion): unarchived in Clockify, the Notion page
  reopened (taken out of the trash if it is there);
- a reopening, or a status written back to Notion: closed again on both sides;
- a create: the Clockify entity is archived (a task set DONE), never deleted, and the
  Notion page is closed, so the next sync does not reopen it. The Clockify ID written
  into the page stays: it names the archived entity. A link (a match by name or by
  Clockify ID) stays linked; only the fields it changed go back.
- a task moved to another project cannot be undone here (Clockify cannot move a task;
  the sync made a new one): listed as "by hand".

Nothing is overwritten that changed since: just before writing, the Notion page and the
Clockify entity are read again and compared with what the run left. A record that either
side changed since becomes a review item (reason "undo"): approving it applies the undo
anyway, rejecting it keeps the later change. A dry run, a run that applied nothing, an
undo, and a run already undone are refused with the reason (`why_not`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from syncapp import logcontext
from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import ApiError
from syncapp.clients.notion import NotionClient
from syncapp.engine import kinds
from syncapp.engine.plan import Change, Snapshot, canonical_clockify
from syncapp.models import (
    KIND_ORDER,
    ChangeRecord,
    EntityMapping,
    Mode,
    Outcome,
    PendingChange,
    ReviewStatus,
    RunStatus,
    SyncRun,
    Trigger,
)
from syncapp.services import connections, snapshots
from syncapp.services.sync import SyncOptions, SyncSession

log = logging.getLogger(__name__)

CLOCKIFY_WRITES = {"update", "archive", "unarchive", "reparent", "link"}
BY_HAND = ("The task was moved to another project: Clockify cannot move a task, so the sync "
           "made a new one under the new project. Move it back in Notion; the next sync "
           "follows.")

NOTHING_TO_UNDO = ("This run changed no value that can be set back: it only linked records "
                   "(and wrote their Clockify ID into Notion), which the next sync would do "
                   "again.")


class NotUndoable(Exception):
    """The run cannot be undone (or is being undone): the message says why, for people."""


@dataclass
class FieldUndo:
    after: Any  # what the run left on both sides
    target: Any  # what the undo writes on both sides
    write: bool = True  # False: only compared (a created record's name), never written
    status: str | None = None  # closed: the Notion status to reopen to (before the run)


@dataclass
class Inverse:
    """The undo of one record of the run: one Notion page and its Clockify entity."""

    kind: str
    page_id: str
    clockify_id: str
    name: str
    created: bool = False
    fields: dict[str, FieldUndo] = field(default_factory=dict)
    by_hand: str = ""  # why this one cannot be undone automatically

    @property
    def what(self) -> str:
        """The inverse in a few words, for the plan and the records."""
        if self.by_hand:
            return "by hand"
        if self.created:
            return "archive what the run created" if self.kind != "task" \
                else "set DONE what the run created"
        closed = self.fields.get("closed")
        if closed and closed.target is False:
            return "unarchive" if self.kind != "task" else "reopen"
        if closed and closed.target is True:
            return "archive again" if self.kind != "task" else "set DONE again"
        if "name" in self.fields:
            return "rename back"
        return "set back"


# -- can it be undone ---------------------------------------------------------------------------
def undone_by(run: SyncRun) -> SyncRun | None:
    """The undo that counts for `run`: the newest one that did not fail."""
    return run.undos.exclude(status=RunStatus.FAILED).order_by("-id").first()


def why_not(run: SyncRun) -> str:
    """Why `run` cannot be undone, in plain words; "" when it can."""
    if run.dry_run:
        return "A dry run wrote nothing to Notion or Clockify: there is nothing to undo."
    if run.undo_of_id:
        return (f"This run is the undo of run #{run.undo_of_id}. An undo is not undone in turn; "
                "to go forward again, make the change in Notion and sync.")
    if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        return "This run has not finished yet: undo it once it has."
    earlier = undone_by(run)
    if earlier is not None:
        return (f"This run was already undone by run #{earlier.pk} "
                f"({earlier.get_status_display().lower()}); it is not undone twice.")
    if not run.changes.filter(outcome=Outcome.APPLIED).exists():
        return ("This run applied nothing (its records failed, were skipped or flagged): "
                "there is nothing to undo.")
    return ""


# -- the plan, from the audit trail ---------------------------------------------------------------
def plan(run: SyncRun) -> list[Inverse]:
    """The inverse of every record the run applied, parents first (clients, projects, tasks)."""
    inverses: dict[tuple[str, str], Inverse] = {}
    for record in run.changes.filter(outcome=Outcome.APPLIED).order_by("id"):
        if not record.notion_page_id or kinds.find(record.kind) is None:
            continue
        key = (record.kind, record.notion_page_id)
        inverse = inverses.setdefault(key, Inverse(record.kind, record.notion_page_id,
                                                   record.clockify_id, record.name))
        inverse.clockify_id = record.clockify_id or inverse.clockify_id
        _take(inverse, record)
    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    planned = [i for i in inverses.values() if i.fields or i.by_hand]
    return sorted(planned, key=lambda i: (order[i.kind], i.name.casefold(), i.page_id))


def _take(inverse: Inverse, record: ChangeRecord) -> None:
    """Add what one applied record wrote to the inverse of its page."""
    entries = {name: entry for name, entry in (record.fields or {}).items()
               if name != "conflicts" and isinstance(entry, dict) and "after" in entry}
    if record.action == "create":
        inverse.created = True
        for name, entry in entries.items():
            if name == "color" and entry.get("after") is None:  # Clockify picked one
                continue
            inverse.fields[name] = FieldUndo(entry.get("after"), None, write=False)
        # Created open; undone by closing both sides (never by deleting).
        inverse.fields["closed"] = FieldUndo(False, True)
        return
    if record.action == "write_back":  # written into Notion
        wrote = entries
    elif record.action in CLOCKIFY_WRITES:  # written into Clockify (no side: older records)
        wrote = {n: e for n, e in entries.items() if e.get("side", "clockify") == "clockify"}
    else:
        return
    for name, entry in wrote.items():
        if kinds.get(inverse.kind).under_parent and name == "parent":
            inverse.by_hand = BY_HAND
            continue
        earlier = inverse.fields.get(name)
        if earlier and not earlier.write:  # created by this run: the create's undo rules
            continue
        if earlier:  # written twice in one run: back to the first value it replaced
            earlier.after = entry.get("after")
            continue
        inverse.fields[name] = FieldUndo(entry.get("after"), entry.get("before"),
                                         status=entry.get("status_before"))


# -- asking for it ------------------------------------------------------------------------------
def request_undo(run: SyncRun, by: str) -> SyncRun:
    """Queue the undo of `run` as a new run linked to it. NotUndoable says why not."""
    reason = why_not(run)
    if reason:
        raise NotUndoable(reason)
    inverses = plan(run)
    if not inverses:
        raise NotUndoable(NOTHING_TO_UNDO)
    try:
        with transaction.atomic():
            undo = SyncRun.objects.create(
                trigger=Trigger.UNDO, mode=Mode.INCREMENTAL, targeted=True,
                status=RunStatus.QUEUED, undo_of=run, triggered_by=by[:200],
                kinds=sorted({i.kind for i in inverses}, key=KIND_ORDER.index))
            transaction.on_commit(lambda: _enqueue(undo.pk))
    except IntegrityError:  # another click won the race (one undo per run, by constraint)
        raise NotUndoable(why_not(run) or "This run is being undone already.") from None
    log.info("Run %s: undo queued as run %s by %s", run.pk, undo.pk, by)
    return undo


def _enqueue(run_id: int) -> None:
    from syncapp.services import runs  # runs imports this module lazily

    runs.enqueue(run_id)


# -- doing it ------------------------------------------------------------------------------------
def execute(run: SyncRun, *, notion: NotionClient | None = None,
            clockify: ClockifyClient | None = None) -> SyncRun:
    """Apply the undo of `run.undo_of` as `run` (already started, under the sync lock)."""
    inverses = plan(run.undo_of)
    notion = notion or connections.notion_client()
    clockify = clockify or connections.clockify_client()
    options = SyncOptions(trigger=Trigger.UNDO, mode=Mode.INCREMENTAL, targeted=True,
                          page_ids=[i.page_id for i in inverses],
                          kinds=sorted({i.kind for i in inverses}, key=KIND_ORDER.index),
                          triggered_by=run.triggered_by)
    with logcontext.bound_run(run.pk):
        session = SyncSession(run, options, notion, clockify)
        try:
            _read_pages(session, inverses)
            for kind in session.kinds:
                snapshot = session.snapshot(kind)
                if snapshot is None:
                    continue
                session.progress(f"Undoing {kind}s of run #{run.undo_of_id}")
                for inverse in (i for i in inverses if i.kind == kind):
                    _undo_one(session, snapshot, inverse, run.undo_of_id)
                    session.tick()
        except BaseException as exc:
            run.fail(f"The undo stopped: {exc!r}", phase=None)
            raise
        return session.finish()


def _read_pages(session: SyncSession, inverses: list[Inverse]) -> None:
    """Read each page once, into its kind (a page gone for good is left out: it fails)."""
    for kind in session.kinds:
        session.notion_records[kind] = {}
    for inverse in inverses:
        if inverse.kind in session.failed_kinds:
            continue
        try:
            page = snapshots.fetch_raw_page(session.notion, inverse.page_id)
        except ApiError as exc:
            session._kind_failed(inverse.kind, f"Reading the Notion {inverse.kind}s to undo "
                                               f"failed; nothing of them was undone: {exc}")
            continue
        if page is not None:
            session.notion_records[inverse.kind][page["id"]] = snapshots.to_record(
                session.notion, session.configs[inverse.kind], page)


def _undo_one(session: SyncSession, snapshot: Snapshot, inverse: Inverse, undone: int) -> None:
    recorder = session.applier.recorder
    known = snapshot.known.get(inverse.page_id)
    record = snapshot.notion.get(inverse.page_id)
    entity = snapshot.clockify.get(known.clockify_id) if known and known.clockify_id else None
    change = Change(kind=inverse.kind, action="update", page_id=inverse.page_id,
                    clockify_id=inverse.clockify_id, name=inverse.name, notion=record,
                    clockify=entity, known=known, reason="undo")
    mapping = session.applier._mapping(change) if known else None
    if inverse.by_hand:
        recorder.count(inverse.kind, "skipped")
        recorder.record(change, Outcome.SKIPPED, action="skip", mapping=mapping,
                        fields={}, error=f"Not undone: {inverse.by_hand}")
        return
    if record is None or entity is None:
        side = "Notion page" if record is None else "Clockify entity"
        recorder.count(inverse.kind, "failed")
        recorder.record(change, Outcome.FAILED, mapping=mapping, fields={},
                        error=f"The {side} can no longer be read (deleted, or access lost): "
                              "nothing was undone for this record.")
        return
    change.name = record.name or inverse.name
    if record.trashed and "closed" not in inverse.fields:  # a trashed page takes no edit
        recorder.count(inverse.kind, "failed")
        recorder.record(change, Outcome.FAILED, mapping=mapping, fields={},
                        error="The Notion page was moved to the trash since this run: nothing "
                              "was undone for it. Restore it in Notion and set it back by hand.")
        return
    now_n, now_c = record.fields, canonical_clockify(snapshot, entity)
    drifted = _drifted(inverse, now_n, now_c)
    if drifted:
        _flag(session, change, mapping, inverse, now_n, now_c, drifted, undone)
        return
    _apply(session, snapshot, change, inverse, undone)


def _drifted(inverse: Inverse, now_n: dict, now_c: dict) -> list[str]:
    """Fields a side changed since the run: holding neither what it left nor the target."""
    out = []
    for name, undo in inverse.fields.items():
        fine = [undo.after] + ([undo.target] if undo.write else [])
        if now_n.get(name) not in fine or now_c.get(name) not in fine:
            out.append(name)
    return out


def _apply(session: SyncSession, snapshot: Snapshot, change: Change, inverse: Inverse,
           undone: int, note: str = "") -> str:
    """Write the targets where a side does not hold them yet; the outcome recorded."""
    recorder = session.applier.recorder
    note = note or f"undo of run #{undone}"
    targets = {n: u.target for n, u in inverse.fields.items() if u.write}
    reopen_trashed = targets.get("closed") is False and change.notion.trashed
    if reopen_trashed and not _untrash(session, change, note):
        return Outcome.FAILED
    now_n, now_c = change.notion.fields, canonical_clockify(snapshot, change.clockify)
    change.to_clockify = {n: v for n, v in targets.items() if now_c.get(n) != v}
    change.to_notion = {n: v for n, v in targets.items() if now_n.get(n) != v}
    if not change.to_clockify and not change.to_notion:
        recorder.count(change.kind, "unchanged")
        recorder.record(change, Outcome.SKIPPED, action="skip", fields={},
                        mapping=session.applier._mapping(change),
                        error=f"Already as before run #{undone}: nothing to undo.")
        return Outcome.SKIPPED
    change.diff = {n: _entry(n, change, now_n, now_c, note) for n in targets
                   if n in change.to_clockify or n in change.to_notion}
    change.action = _action(change)
    if "parent" in change.to_clockify:
        change.parent_clockify_id = snapshot.parents.clockify_parent(targets["parent"])
    # The page as it will be: the baseline and the mapping's parent follow the targets.
    change.notion = dataclasses.replace(change.notion,
                                        fields={**change.notion.fields, **targets})
    status = inverse.fields["closed"].status if "closed" in inverse.fields else None
    if status and change.known:  # the write-back reopens to the status before the run
        baseline = {**change.known.baseline,
                    "notion": {**change.known.baseline.get("notion", {}), "_status": status}}
        change.known = dataclasses.replace(change.known, baseline=baseline)
    return session.applier.apply(snapshot, change).outcome


def _entry(name: str, change: Change, now_n: dict, now_c: dict, note: str) -> dict:
    both = name in change.to_clockify and name in change.to_notion
    side = "both" if both else ("clockify" if name in change.to_clockify else "notion")
    before = now_c.get(name) if name in change.to_clockify else now_n.get(name)
    return {"before": before, "after": (change.to_clockify | change.to_notion)[name],
            "side": side, "note": note}


def _action(change: Change) -> str:
    closed = {**change.to_notion, **change.to_clockify}.get("closed")
    if closed is True:
        return "archive"
    if closed is False:
        return "unarchive"
    if "parent" in change.to_clockify:
        return "reparent"
    return "update" if change.to_clockify else "write_back"


def _untrash(session: SyncSession, change: Change, note: str) -> bool:
    """A page the run archived because it was trashed: restore it from Notion's trash."""
    recorder = session.applier.recorder
    mapping = session.applier._mapping(change)
    fields = {"closed": {"before": True, "after": False, "side": "notion",
                         "note": f"{note}: restored from the Notion trash"}}
    try:
        session.notion.set_in_trash(change.page_id, False)
        page = session.notion.retrieve_page(change.page_id)
    except ApiError as exc:
        recorder.count(change.kind, "failed")
        recorder.record(change, Outcome.FAILED, action="write_back", mapping=mapping,
                        fields=fields, error=f"Could not restore the page from the Notion "
                                             f"trash: {exc}. Nothing else was undone for it.")
        return False
    recorder.count(change.kind, "written_back")
    recorder.record(change, Outcome.APPLIED, action="write_back", mapping=mapping,
                    fields=fields)
    change.notion = snapshots.to_record(session.notion, session.configs[change.kind], page)
    return True


# -- changed since: a review item ---------------------------------------------------------------
def _review_diff(inverse: Inverse, now_n: dict, now_c: dict) -> dict:
    return {name: {"baseline": undo.after, "notion": now_n.get(name),
                   "clockify": now_c.get(name),
                   "proposed": undo.target if undo.write else now_n.get(name),
                   "write": undo.write, **({"status": undo.status} if undo.status else {})}
            for name, undo in inverse.fields.items()}


def _fingerprint(undone: int, kind: str, page_id: str, diff: dict) -> str:
    text = json.dumps({"undo_of": undone, "kind": kind, "page": page_id, "diff": diff},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _flag(session: SyncSession, change: Change, mapping: EntityMapping | None,
          inverse: Inverse, now_n: dict, now_c: dict, drifted: list[str], undone: int) -> None:
    recorder = session.applier.recorder
    diff = _review_diff(inverse, now_n, now_c)
    print_ = _fingerprint(undone, inverse.kind, inverse.page_id, diff)
    listed = ", ".join(drifted)
    explanation = (f"Undo of run #{undone}: since that run, {listed} changed in Notion or "
                   f"Clockify (the “Baseline” column is what the run left). Nothing was "
                   f"written. Approve to set both sides back to the values before run "
                   f"#{undone} anyway; reject to keep the later change.")
    PendingChange.objects.create(
        run=session.run, kind=inverse.kind, mapping=mapping, name=change.name[:2000],
        notion_page_id=inverse.page_id, clockify_id=inverse.clockify_id or "",
        action="archive" if inverse.created else "update", reason="undo",
        explanation=explanation, diff=diff, fingerprint=print_)
    recorder.flagged.add((inverse.page_id, "undo"))
    recorder.count(inverse.kind, "flagged")
    recorder.record(change, Outcome.FLAGGED, mapping=mapping,
                    fields={n: {"before": diff[n]["baseline"], "after": diff[n]["proposed"],
                                "note": f"changed since: Notion {diff[n]['notion']!r}, "
                                        f"Clockify {diff[n]['clockify']!r}"}
                            for n in drifted},
                    error=explanation)


def apply_item(pending: PendingChange, run: SyncRun, notion: NotionClient,
               clockify: ClockifyClient) -> tuple[str, str]:
    """An approved undo item: applied once, and only if neither side changed since the flag."""
    undone = SyncRun.objects.filter(pk=pending.run_id).values_list(
        "undo_of_id", flat=True).first()
    inverse = Inverse(pending.kind, pending.notion_page_id, pending.clockify_id, pending.name,
                      fields={n: FieldUndo(e.get("baseline"), e.get("proposed"),
                                           bool(e.get("write")), e.get("status"))
                              for n, e in (pending.diff or {}).items()})
    options = SyncOptions(trigger=Trigger.REVIEW, mode=Mode.INCREMENTAL, targeted=True,
                          page_ids=[pending.notion_page_id], kinds=[pending.kind])
    session = SyncSession(run, options, notion, clockify)
    _read_pages(session, [inverse])
    snapshot = session.snapshot(pending.kind)
    record = snapshot.notion.get(pending.notion_page_id) if snapshot else None
    known = snapshot.known.get(pending.notion_page_id) if snapshot else None
    entity = snapshot.clockify.get(known.clockify_id) if known and known.clockify_id else None
    if record is None or entity is None:
        return ReviewStatus.FAILED, ("The Notion page or the Clockify entity can no longer be "
                                     "read: nothing was undone.")
    now_n, now_c = record.fields, canonical_clockify(snapshot, entity)
    if _fingerprint(undone, pending.kind, pending.notion_page_id,
                    _review_diff(inverse, now_n, now_c)) != pending.fingerprint:
        return ReviewStatus.SUPERSEDED, ("Notion or Clockify changed since this was flagged; "
                                        "nothing was written.")
    change = Change(kind=pending.kind, action="update", page_id=pending.notion_page_id,
                    clockify_id=entity.id, name=record.name, notion=record, clockify=entity,
                    known=known, reason="undo")
    outcome = _apply(session, snapshot, change, inverse, undone,
                     note=f"undo of run #{undone}, approved in review #{pending.pk}")
    finished = session.finish()
    if outcome in (Outcome.APPLIED, Outcome.SKIPPED) and finished.status == RunStatus.SUCCEEDED:
        return ReviewStatus.APPLIED, f"Undone in run {finished.pk}."
    errors = ChangeRecord.objects.filter(run=finished).exclude(error="")
    return ReviewStatus.FAILED, "; ".join(e.error for e in errors[:3]) or "not applied"
