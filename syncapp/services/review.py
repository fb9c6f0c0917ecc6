"""The review queue: flag what needs a human, remember decisions, apply approvals once."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from syncapp.engine.plan import Change
from syncapp.engine.policy import Policy
from syncapp.models import (
    Decision,
    EntityMapping,
    FieldPolicy,
    PendingChange,
    ReviewStatus,
    RunStatus,
    SyncPolicy,
    SyncRun,
)

log = logging.getLogger(__name__)

OPEN = (ReviewStatus.PENDING, ReviewStatus.APPROVED)


def load_policy() -> Policy:
    row = SyncPolicy.current()
    fields = list(FieldPolicy.objects.all())
    return Policy(
        directions={(f.kind, f.field): f.direction for f in fields},
        conflicts={(f.kind, f.field): f.on_conflict for f in fields},
        archives_need_review=row.archives_need_review,
        name_matching=row.name_matching,
        mass_change_percent=row.mass_change_percent,
        mass_change_count=row.mass_change_count,
    )


def flag_reason(change: Change) -> str | None:
    """The review reason of a planned change, or None when it needs no review."""
    if change.verdict == "flag":
        return change.reason
    if change.verdict == "fail" and change.reason == "validation":
        return "validation"
    if change.conflicts:
        return "conflict"
    return None


def fingerprint(change: Change, reason: str) -> str:
    """Identifies the diff: the same values on both sides give the same fingerprint."""
    payload = {
        "kind": change.kind, "page": change.page_id, "clockify": change.clockify_id,
        "reason": reason, "action": change.action, "name": change.name,
        "conflicts": change.conflicts if reason == "conflict" else None,
        "to_clockify": change.to_clockify if reason != "conflict" else None,
        "candidates": [c["id"] for c in change.candidates],
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _diff_for(change: Change, reason: str) -> dict[str, Any]:
    if reason == "conflict":
        return {name: {**values, "proposed": values["notion"]}
                for name, values in change.conflicts.items()}
    if reason == "unreachable":
        return {"closed": {"baseline": False, "notion": "unreachable", "clockify": False,
                           "proposed": True}}
    if reason == "ambiguous_match":
        first = change.candidates[0] if change.candidates else {}
        return {"name": {"baseline": None, "notion": change.name,
                         "clockify": first.get("name"), "proposed": f"link {first.get('id')}"}}
    return {name: {"baseline": None, "notion": entry.get("after"),
                   "clockify": entry.get("before"), "proposed": entry.get("after")}
            for name, entry in change.diff.items()}


def flag(run: SyncRun, change: Change, mapping: EntityMapping | None, *,
         key: str | None = None) -> str:
    """Queue `change` for review. Returns "new", "pending" (already queued) or "rejected".

    `key` replaces the fingerprint where the caller knows better what the item depends on
    (a write Clockify refused: services/refusals.py)."""
    reason = flag_reason(change)
    print_ = key or fingerprint(change, reason)
    same = PendingChange.objects.filter(kind=change.kind, notion_page_id=change.page_id or "",
                                        reason=reason, fingerprint=print_)
    if same.filter(status=ReviewStatus.REJECTED).exists():
        return "rejected"
    if same.filter(status__in=OPEN).exists():
        return "pending"
    # Something changed since an older flag of this record: that one is out of date.
    PendingChange.objects.filter(kind=change.kind, notion_page_id=change.page_id or "",
                                 reason=reason, status=ReviewStatus.PENDING) \
        .update(status=ReviewStatus.SUPERSEDED, result="A newer diff replaced this one.")
    PendingChange.objects.create(
        run=run, kind=change.kind, mapping=mapping, name=change.name[:2000],
        notion_page_id=change.page_id or "", clockify_id=change.clockify_id or "",
        action=change.action, reason=reason, explanation=change.error,
        diff=_diff_for(change, reason), candidates=change.candidates, fingerprint=print_,
    )
    return "new"


# -- decisions ------------------------------------------------------------------------------------
def decide(pending_id: int, user, decision: str) -> bool:
    """Record a person's decision (compare-and-set: two clicks decide once)."""
    status = ReviewStatus.REJECTED if decision == Decision.REJECT else ReviewStatus.APPROVED
    decided = PendingChange.objects.filter(pk=pending_id, status=ReviewStatus.PENDING).update(
        status=status, decision=decision, decided_by=user, decided_at=timezone.now())
    if not decided:
        return False
    log.info("Review %s: %s by %s", pending_id, decision, getattr(user, "username", user))
    if status == ReviewStatus.APPROVED:
        transaction.on_commit(lambda: enqueue_apply(pending_id))
    release_hold(PendingChange.objects.filter(pk=pending_id).values_list("run_id", flat=True)
                 .first(), user)
    return True


def enqueue_apply(pending_id: int) -> None:
    from django_q.tasks import async_task

    async_task("syncapp.tasks.apply_pending", pending_id, task_name=f"review-{pending_id}",
               group="review")


def pending_count() -> int:
    return PendingChange.objects.filter(status=ReviewStatus.PENDING).count()


# -- held runs ------------------------------------------------------------------------------------
def decide_run(run_id: int, user, decision: str) -> int:
    """Approve or reject every pending item of a held run; then release its hold."""
    ids = list(PendingChange.objects.filter(run_id=run_id, status=ReviewStatus.PENDING)
               .values_list("pk", flat=True))
    decided = sum(decide(pk, user, decision) for pk in ids)
    release_hold(run_id, user)
    return decided


def release_hold(run_id: int | None, user=None, note: str = "") -> bool:
    """A held run whose items are all decided is no longer held: it ends as partial.

    Compare-and-set on the status, so two last decisions release once.
    """
    if run_id is None or PendingChange.objects.filter(
            run_id=run_id, status=ReviewStatus.PENDING).exists():
        return False
    note = note or f"Hold released after review by {getattr(user, 'username', user)}."
    run = SyncRun.objects.filter(pk=run_id, status=RunStatus.HELD).first()
    if run is None:
        return False
    summary = "\n".join(filter(None, [run.error_summary, note]))
    return bool(SyncRun.objects.filter(pk=run_id, status=RunStatus.HELD).update(
        status=RunStatus.PARTIAL, error_summary=summary))


def mass_change_open(kind: str) -> bool:
    """Does a mass change of `kind` still wait for a decision? (A rejected one holds nothing.)"""
    return PendingChange.objects.filter(kind=kind, reason="mass_change",
                                        status__in=OPEN).exists()


# -- stale items ----------------------------------------------------------------------------------
def resolve_stale(run: SyncRun, kind: str, read: set[str], changes: list[Change],
                  flagged_while_applying: set[tuple[str, str]] = frozenset()) -> int:
    """Pending items of pages this run read whose difference is gone become "resolved".

    `read` holds the pages the run read completely (Notion and Clockify); an item stays
    pending while the run still plans a change that needs review for the same reason, or
    flagged it while applying (a write-back Notion cannot hold: (page, reason) pairs).
    """
    still = {(c.page_id, flag_reason(c)) for c in changes if flag_reason(c)}
    still |= set(flagged_while_applying)
    # An undo's item compares with the undone run, not with what a sync plans: never stale.
    stale = [pk for pk, page, reason in PendingChange.objects.filter(
        kind=kind, status=ReviewStatus.PENDING, notion_page_id__in=list(read),
    ).exclude(reason="undo").values_list("pk", "notion_page_id", "reason")
        if (page, reason) not in still]
    if not stale:
        return 0
    resolved = PendingChange.objects.filter(pk__in=stale, status=ReviewStatus.PENDING).update(
        status=ReviewStatus.RESOLVED, resolved_by=run, applied_at=timezone.now(),
        result=f"Resolved by run {run.pk}: the difference is gone (both sides agree now).")
    log.info("Run %s resolved %s stale review item(s) of %ss", run.pk, resolved, kind)
    for run_id in set(PendingChange.objects.filter(pk__in=stale).values_list("run_id", flat=True)):
        release_hold(run_id, note=f"Hold released: run {run.pk} found the held changes gone.")
    return resolved
