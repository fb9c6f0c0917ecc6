"""django-q2 task entry points of the webhook features (dotted paths in the schedules).

The schedules are created, by name, by the data migration `webhook_schedules`.
"""

from __future__ import annotations

from syncapp.clients.errors import BudgetExhausted
from syncapp.services import (
    budget,
    rollup,
    salesforce_events,
    syncing,
    time_backfill,
    timeentries,
)

NOT_STARTED = {"skipped": "syncing not started (or paused)"}


def reconcile_time_entries(days: int = timeentries.RECONCILE_DAYS) -> dict:
    """Hourly: repair missed Clockify webhooks from the last `days` of time entries.

    The first time it finds time reporting on (syncing started), it also queues the first
    read of the whole history, once (and again after a failure, until one succeeds)."""
    if not syncing.syncing_started():
        return NOT_STARTED
    first = time_backfill.ensure_first_backfill()
    try:
        counts = dict(timeentries.reconcile(days))
    except BudgetExhausted as exc:  # read before any change: the next hour repairs it
        counts = {"skipped": budget.waiting_message(exc.resumes_at)}
    if first is not None:
        counts["history_backfill_queued"] = first.pk
    return counts


def flush_rollups() -> dict:
    """Every minute: write changed tracked hours to Notion, once per dirty page."""
    if not syncing.syncing_started():
        return NOT_STARTED
    return dict(rollup.flush())


def push_salesforce_due() -> dict:
    """Every minute: send, update or delete the Salesforce Events that are due."""
    if not syncing.syncing_started():
        return NOT_STARTED
    return dict(salesforce_events.push_due())
