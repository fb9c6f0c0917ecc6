"""Read the whole history of Clockify time entries once, when time reporting is turned on.

Webhooks and the hourly 7-day reconciliation only see recent time; the report and the
tracked hours need the older entries too. The backfill walks back from `until` to `since`
in windows of CHUNK_DAYS, each read through the documented per-user listing
(GET /workspaces/{ws}/user/{userId}/time-entries with start/end, paged, for every user of
GET /workspaces/{ws}/users) by the same code as the reconciliation: entries are upserted by
their Clockify id, an entry a webhook wrote meanwhile is left alone, and an entry Clockify
no longer lists in a window is marked deleted. Reruns change nothing that is already right.
The client's token bucket (CLOCKIFY_REQUESTS_PER_SECOND) paces the reads; a failed read
raises, and what earlier windows stored stays (a rerun completes it).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import BudgetExhausted
from syncapp.services import connections, timeentries
from syncapp.services.export import local_day_bounds

log = logging.getLogger(__name__)

CHUNK_DAYS = 31
TASK = "syncapp.services.time_backfill.backfill_task"
DAY = timedelta(days=1)


def backfill(since: date, *, until: datetime | None = None, client: ClockifyClient | None = None,
             progress: Callable[[datetime, datetime, Counter], None] | None = None) -> Counter:
    """Upsert every time entry that started from `since` (local day) to `until` (now)."""
    until = until or timezone.now()
    lower = local_day_bounds(since, since)[0]
    if lower >= until:
        raise ValueError("The start date is not before the end of the backfill.")
    client = client or connections.clockify_client()
    totals: Counter = Counter()
    end = until
    while end > lower:
        days = min(CHUNK_DAYS, math.ceil((end - lower) / DAY))
        counts = timeentries.reconcile(days, client=client, now=end)
        totals.update(counts)
        if progress:
            progress(end - days * DAY, end, counts)
        end -= days * DAY
    log.info("time entries backfilled since %s: %s", since, dict(totals))
    return totals


def backfill_task(since: str) -> dict:
    """The django-q2 task the dashboard's button enqueues (`since` as YYYY-MM-DD)."""
    try:
        return dict(backfill(date.fromisoformat(since)))
    except BudgetExhausted as exc:  # what was read is kept; pressing again completes it
        from syncapp.services import budget

        return {"stopped": budget.waiting_message(exc.resumes_at)}


def enqueue(since: date) -> None:
    """Queue a backfill once the current transaction commits."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(TASK, since.isoformat(), group="time-backfill",
                                             task_name=f"time-backfill-{since.isoformat()}"))
