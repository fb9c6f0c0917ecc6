"""django-q2 task entry points (referenced by dotted path in schedules and async_task)."""

from __future__ import annotations

from syncapp.models import Mode, Trigger
from syncapp.services import runs, syncing

NOT_STARTED = "syncing not started (or paused): nothing to do"


def execute_run(run_id: int) -> str:
    return runs.execute_run(run_id)


def poll() -> int | str:
    """Every minute: pick up pages created or edited in Notion (once syncing started)."""
    if not syncing.syncing_started():
        return NOT_STARTED
    return runs.request_sync(trigger=Trigger.POLL, mode=Mode.INCREMENTAL,
                             triggered_by="every-minute poll").pk


def daily_full_sync() -> int | str:
    if not syncing.syncing_started():
        return NOT_STARTED
    return runs.request_sync(trigger=Trigger.SCHEDULE, mode=Mode.FULL,
                             triggered_by="daily full sync").pk


def full_audit() -> int | str:
    """Weekly (editable in the admin): read Clockify completely and report what the change
    feed missed."""
    if not syncing.syncing_started():
        return NOT_STARTED
    return runs.request_sync(trigger=Trigger.SCHEDULE, mode=Mode.AUDIT,
                             triggered_by="weekly full audit").pk


def resume_after_budget() -> int | str:
    """Once the Clockify budget is back: a full run continues where the waiting one stopped
    (merged into a run already queued, so never two)."""
    if not syncing.syncing_started():
        return NOT_STARTED
    return runs.request_sync(trigger=Trigger.SCHEDULE, mode=Mode.FULL,
                             triggered_by="follow-up after the Clockify budget").pk


def apply_pending(pending_id: int) -> str:
    """Apply an approved review decision (enqueued when it is approved)."""
    from syncapp.services.review_apply import apply_pending as apply

    return apply(pending_id)


def prune() -> dict:
    """Daily: drop poll runs that did nothing, and old handled webhook deliveries."""
    from syncapp.services.retention import prune as prune_tables

    return prune_tables()
