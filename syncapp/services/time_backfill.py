"""Read the whole history of Clockify time entries once, when time reporting is turned on.

Webhooks and the hourly 7-day reconciliation only see recent time; the report and the
tracked hours need the older entries too. Time reporting is on once syncing started (the
time-tracking schedules do nothing before): the hourly reconciliation then queues the first
backfill of the whole history by itself (`ensure_first_backfill`), once, and again an hour
after a failure until one succeeds.

Everything is read through the documented per-user listing
(GET /workspaces/{ws}/user/{userId}/time-entries, paged at 5,000, for every user of
GET /workspaces/{ws}/users) by the same code as the reconciliation: entries are upserted by
their Clockify id, an entry a webhook wrote meanwhile is left alone, and an entry Clockify
no longer lists is marked deleted. The whole history is one listing per user without a
window (the fewest calls: Free workspaces allow 30 an hour); a person may instead read from a
chosen day, walked back in windows of CHUNK_DAYS. Reruns change nothing that is already
right. The client's token bucket (CLOCKIFY_REQUESTS_PER_SECOND) paces the reads; a failed
read is recorded on the backfill (Time page, /health/), and what was stored stays (a rerun
completes it).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import ApiError
from syncapp.models import BackfillStatus, TimeBackfill
from syncapp.services import connections, timeentries
from syncapp.services.export import local_day_bounds

log = logging.getLogger(__name__)

CHUNK_DAYS = 31
TASK = "syncapp.services.time_backfill.run_task"
DAY = timedelta(days=1)
WHOLE_HISTORY = "whole-history"
STALE_AFTER = timedelta(hours=6)


def backfill_window(since: date, *, until: datetime | None = None,
                    client: ClockifyClient | None = None,
                    progress: Callable[[datetime, datetime, Counter], None] | None = None
                    ) -> Counter:
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


# -- recorded backfills: the automatic first one, a person's, the command's ------------------
def _slot(since: date | None) -> str:
    return f"since-{since.isoformat()}" if since else WHOLE_HISTORY


def read(backfill: TimeBackfill, *, client: ClockifyClient | None = None,
         progress: Callable[[datetime, datetime, Counter], None] | None = None) -> Counter:
    """Read what `backfill` asks for: the whole history (one listing per user, no window,
    the fewest calls), or from its first day in windows."""
    if backfill.since is None:
        return timeentries.reconcile(None, client=client)
    return backfill_window(backfill.since, client=client, progress=progress)


def execute(backfill_id: int, *, client: ClockifyClient | None = None,
            progress: Callable[[datetime, datetime, Counter], None] | None = None) -> dict:
    """Run one recorded backfill: claim it (queued → running, compare-and-set), read, and
    record the outcome. A failure is stored with its reason and shown on the Time page and
    /health/ until a later backfill succeeds; what was read stays (upserts)."""
    claimed = TimeBackfill.objects.filter(pk=backfill_id, status=BackfillStatus.QUEUED).update(
        status=BackfillStatus.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1)
    if not claimed:
        return {"skipped": "not queued (already run, or taken by another worker)"}
    backfill = TimeBackfill.objects.get(pk=backfill_id)
    try:
        counts = read(backfill, client=client, progress=progress)
    except Exception as exc:  # noqa: BLE001 - any failure must be recorded, not lost
        log.warning("time backfill #%s failed: %s", backfill_id, exc,
                    exc_info=not isinstance(exc, ApiError))
        _finish(backfill_id, BackfillStatus.FAILED, error=str(exc)[:2000] or repr(exc))
        raise
    _finish(backfill_id, BackfillStatus.SUCCEEDED, counts=dict(counts))
    return dict(counts)


def _finish(backfill_id: int, status: str, *, error: str = "", counts: dict | None = None):
    TimeBackfill.objects.filter(pk=backfill_id).update(
        status=status, error=error, counts=counts or {}, finished_at=timezone.now(), slot=None)


def run_task(backfill_id: int) -> dict:
    """The django-q2 task: run one recorded backfill (a failure is also recorded on it)."""
    try:
        return execute(backfill_id)
    except Exception as exc:  # noqa: BLE001 - recorded on the backfill; the task says so
        return {"failed": str(exc)[:500]}


def request(since: date | None = None, *, automatic: bool = False, now: datetime | None = None,
            queue: bool = True) -> TimeBackfill | None:
    """Record a backfill and queue it for the worker once the transaction commits (`queue`;
    the command runs it itself); None when the same one is already queued or running (the
    unique slot: one claimant wins)."""
    now = now or timezone.now()
    _release_stale(now)
    try:
        with transaction.atomic():
            backfill = TimeBackfill.objects.create(since=since, automatic=automatic,
                                                   slot=_slot(since), requested_at=now)
    except IntegrityError:
        return None
    if queue:
        transaction.on_commit(lambda: _enqueue(backfill.pk))
    return backfill


def _release_stale(now: datetime) -> None:
    """A backfill queued or running for longer than STALE_AFTER lost its worker (a restart,
    the task timeout): it is failed with that reason, so it can be requested again."""
    TimeBackfill.objects.filter(
        slot__isnull=False, status__in=(BackfillStatus.QUEUED, BackfillStatus.RUNNING),
        requested_at__lt=now - STALE_AFTER,
    ).update(status=BackfillStatus.FAILED, slot=None, finished_at=now,
             error="It stopped without finishing (the worker was stopped or the task timed "
                   "out); it is read again.")


def _enqueue(backfill_id: int) -> None:
    from django_q.tasks import async_task

    async_task(TASK, backfill_id, group="time-backfill", task_name=f"time-backfill-{backfill_id}")


def ensure_first_backfill(now: datetime | None = None) -> TimeBackfill | None:
    """Time reporting is on (syncing started): queue the first read of the whole history,
    once. Called by the hourly reconciliation, so it also queues it again after a failure
    (an hour later) until one succeeds; never twice at a time."""
    if TimeBackfill.objects.filter(automatic=True, status=BackfillStatus.SUCCEEDED).exists():
        return None
    return request(None, automatic=True, now=now)


def latest() -> TimeBackfill | None:
    return TimeBackfill.objects.order_by("-requested_at", "-id").first()


def problem() -> str:
    """Why the stored time history is incomplete, for /health/ and the Time page; "" if not.
    Only the latest backfill counts: a later success (or a run under way) replaces a
    failure."""
    last = latest()
    if last is None or last.status != BackfillStatus.FAILED:
        return ""
    first_line = (last.error or "no reason recorded").strip().splitlines()[0][:300]
    return (f"Reading Clockify's time history failed (backfill #{last.pk}): {first_line}. "
            "What was read is kept; it is read again within the hour, or press Read the "
            "whole history on the Time page.")
