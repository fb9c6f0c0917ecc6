"""Apply an approved review decision: once, and only if nothing changed since it was flagged."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import timedelta

from django.utils import timezone

from syncapp.clients.errors import ApiError, BudgetExhausted, NotFound
from syncapp.engine import kinds
from syncapp.engine.policy import CLOCKIFY_WINS, NOTION_WINS, Policy
from syncapp.models import (
    ChangeRecord,
    Decision,
    EntityMapping,
    MappingState,
    Mode,
    Outcome,
    PendingChange,
    ReviewStatus,
    RunStatus,
    SyncRun,
    Trigger,
)
from syncapp.services import budget, connections, review, runs
from syncapp.services.sync import SyncOptions, SyncSession

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(seconds=30)


def apply_pending(pending_id: int) -> str:
    """The django-q2 task. Two workers or two clicks apply a decision at most once."""
    claimed = PendingChange.objects.filter(
        pk=pending_id, status=ReviewStatus.APPROVED, apply_started_at__isnull=True,
    ).update(apply_started_at=timezone.now())
    if not claimed:
        return "not approved, or already being applied"
    pending = PendingChange.objects.select_related("decided_by").get(pk=pending_id)
    run = SyncRun.objects.create(
        trigger=Trigger.REVIEW, mode=Mode.INCREMENTAL, targeted=True, status=RunStatus.RUNNING,
        page_ids=[pending.notion_page_id] if pending.notion_page_id else [],
        kinds=[pending.kind], triggered_by=f"review #{pending.pk} by {pending.decided_by}")
    try:
        with runs.exclusive_run("review", run, notify_run=False):
            status, message = _apply_safely(pending, run)
            _record_outcome(run, status, message)
            PendingChange.objects.filter(pk=pending_id).update(
                status=status, result=message, applied_at=timezone.now())
    except runs.SyncBusy:
        PendingChange.objects.filter(pk=pending_id).update(apply_started_at=None)
        _retry_later(pending_id)
        return "a sync is running: retrying shortly"
    except BudgetExhausted as exc:  # stopped before sending: the decision stays approved
        PendingChange.objects.filter(pk=pending_id).update(apply_started_at=None)
        message = budget.waiting_message(exc.resumes_at)
        run.resumes_at = exc.resumes_at
        run.finish(RunStatus.WAITING, errors=f"{message}: the decision is applied then.")
        _retry_later(pending_id, at=exc.resumes_at)
        return f"review {pending_id}: {message}"
    return f"review {pending_id}: {status}"


def _apply_safely(pending: PendingChange, run: SyncRun) -> tuple[str, str]:
    try:
        return _apply(pending, run)
    except BudgetExhausted:
        raise  # not a failure of the decision: it waits for the budget
    except ApiError as exc:
        return ReviewStatus.FAILED, str(exc)
    except Exception as exc:  # keep the decision's outcome visible, whatever happened
        log.exception("Applying review %s failed", pending.pk)
        return ReviewStatus.FAILED, f"Internal error: {exc!r}"


def _record_outcome(run: SyncRun, status: str, message: str) -> None:
    """The run of a decision: succeeded when applied (or superseded), else failed."""
    if status == ReviewStatus.SUPERSEDED:
        # Nothing went wrong: the decision no longer fits the data, and nothing was written.
        run.finish(RunStatus.SUCCEEDED, phase=f"Superseded: {message}")
    elif run.status == RunStatus.RUNNING:  # a session that finished has said how it went
        if status == ReviewStatus.APPLIED:
            run.finish(RunStatus.SUCCEEDED, phase=None)
        else:
            run.fail(message, phase=None)


def _retry_later(pending_id: int, at=None) -> None:
    from django_q.tasks import schedule

    name = f"review-{pending_id}-retry-{uuid.uuid4().hex[:6]}"
    schedule("syncapp.tasks.apply_pending", pending_id, schedule_type="O",
             next_run=at or timezone.now() + RETRY_AFTER, name=name)


def _apply(pending: PendingChange, run: SyncRun) -> tuple[str, str]:
    notion, clockify = connections.notion_client(), connections.clockify_client()
    if pending.reason == "undo":  # an undo's item re-checks against the undone run
        from syncapp.services import undo

        return undo.apply_item(pending, run, notion, clockify)
    if pending.reason == "unreachable":
        return _archive_unreachable(pending, run, notion, clockify)
    options = SyncOptions(trigger=Trigger.REVIEW, mode=Mode.INCREMENTAL, targeted=True,
                          page_ids=[pending.notion_page_id], kinds=[pending.kind])
    check = SyncSession(run, options, notion, clockify)
    check.read_notion(None)
    current = [c for c in check.probe(pending.kind) if c.page_id == pending.notion_page_id
               and _same_kind_of_change(c, pending)]
    # A retry of a validation item is meant for after the fix in Notion: it syncs the page
    # as it is now, and fails again, with the reason, if Clockify still refuses it.
    retry = pending.reason == "validation"
    if not retry and (not current or review.fingerprint(current[0], pending.reason)
                      != pending.fingerprint):
        return ReviewStatus.SUPERSEDED, ("Notion or Clockify changed since this was flagged; "
                                        "the next run plans afresh.")
    if pending.reason == "ambiguous_match":
        _link(pending)
    session = SyncSession(run, options, notion, clockify,
                          policy=_override(check.policy, pending))
    session.read_notion(None)
    session.sync_kind(pending.kind)
    finished = session.finish()
    counts = finished.counts.get(pending.kind, {})
    if counts.get("failed") or counts.get("flagged"):
        errors = ChangeRecord.objects.filter(run=finished).exclude(error="")
        return ReviewStatus.FAILED, "; ".join(e.error for e in errors[:3]) or "not applied"
    return ReviewStatus.APPLIED, f"Applied in run {finished.pk}."


def _same_kind_of_change(change, pending: PendingChange) -> bool:
    # A mass change is a property of the whole run: one page re-planned alone shows
    # a plain archive, which is what was held.
    if pending.reason == "mass_change":
        return change.action == "archive"
    return review.flag_reason(change) == pending.reason


def _override(policy: Policy, pending: PendingChange) -> Policy:
    """The normal policy, except for what this decision settles."""
    if pending.reason == "conflict":
        winner = CLOCKIFY_WINS if pending.decision == Decision.KEEP_CLOCKIFY else NOTION_WINS
        conflicts = {**policy.conflicts,
                     **{(pending.kind, name): winner for name in pending.diff}}
        return dataclasses.replace(policy, conflicts=conflicts)
    if pending.reason in {"destructive", "mass_change"}:
        return dataclasses.replace(policy, archives_need_review=False,
                                   mass_change_count=10**9, mass_change_percent=100.0)
    return policy


def _link(pending: PendingChange) -> None:
    target = pending.candidates[0]["id"]
    EntityMapping.objects.update_or_create(
        kind=pending.kind, notion_page_id=pending.notion_page_id,
        defaults={"clockify_id": target, "state": MappingState.LINKED, "baseline": {},
                  "name": pending.name})


def _archive_unreachable(pending, run, notion, clockify) -> tuple[str, str]:
    try:
        notion.retrieve_page(pending.notion_page_id)
    except NotFound:
        pass
    else:
        return ReviewStatus.SUPERSEDED, "The Notion page is reachable again: nothing archived."
    mapping = EntityMapping.objects.select_related("parent").get(
        kind=pending.kind, notion_page_id=pending.notion_page_id)
    parent_id = mapping.parent.clockify_id if mapping.parent else None
    kinds.get(pending.kind).close(clockify, mapping.clockify_id, parent_id)
    mapping.state = MappingState.ARCHIVED
    mapping.save(update_fields=["state", "updated_at"])
    ChangeRecord.objects.create(
        run=run, kind=pending.kind, mapping=mapping, name=pending.name,
        notion_page_id=pending.notion_page_id, clockify_id=mapping.clockify_id or "",
        action="archive", outcome=Outcome.APPLIED, reason="unreachable",
        fields={"closed": {"before": False, "after": True}})
    return ReviewStatus.APPLIED, "Archived in Clockify."
