"""Runs and changes per local day for the overview chart, kept per finished day.

Counting 14 days of change records on every overview request costs time in proportion to
the records (488 ms p95 at 100,000 on SQLite). A day that is over and has no queued, running
or held run cannot change any more (records are stamped when written), so its figures are
counted once and kept in DailyActivity; only today and the unsettled days are counted live,
through the created_at / started_at indexes, so each request reads about a day of rows.

`count_days` takes the models as arguments so migration 0015 backfills with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

# Outcome / status values as stored (the migration passes historical models, no enums).
APPLIED = "applied"
PROBLEM_OUTCOMES = ("failed", "flagged")
TROUBLE = ("failed", "held")
UNSETTLED = ("queued", "running", "held")  # may still change the day's figures


@dataclass
class Day:
    runs: int = 0
    failed_runs: int = 0
    changes: int = 0
    problems: int = 0
    unsettled: int = 0


def _start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _spans(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) spans."""
    spans: list[tuple[date, date]] = []
    for day in sorted(days):
        if spans and spans[-1][1] + timedelta(days=1) == day:
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    return spans


def _within(field: str, days: list[date]) -> Q:
    """`field` falls on one of `days`: a range per span, so the index on it is used."""
    spans = [Q(**{f"{field}__gte": _start(first),
                  f"{field}__lt": _start(last + timedelta(days=1))})
             for first, last in _spans(days)]
    condition = spans[0]
    for span in spans[1:]:
        condition |= span
    return condition


def count_days(run_model, record_model, days: list[date]) -> dict[date, Day]:
    """The figures of `days` (local time) from the runs and change records. Two queries."""
    result = {day: Day() for day in days}
    if not days:
        return result
    runs = (run_model.objects.filter(_within("started_at", days), dry_run=False)
            .annotate(day=TruncDate("started_at")).values("day")
            .annotate(total=Count("id"), failed=Count("id", filter=Q(status__in=TROUBLE)),
                      unsettled=Count("id", filter=Q(status__in=UNSETTLED))).order_by())
    for row in runs:
        if row["day"] in result:
            entry = result[row["day"]]
            entry.runs, entry.failed_runs, entry.unsettled = \
                row["total"], row["failed"], row["unsettled"]
    records = (record_model.objects.filter(_within("created_at", days), run__dry_run=False)
               .annotate(day=TruncDate("created_at")).values("day")
               .annotate(applied=Count("id", filter=Q(outcome=APPLIED)),
                         problems=Count("id", filter=Q(outcome__in=PROBLEM_OUTCOMES)))
               .order_by())
    for row in records:
        if row["day"] in result:
            result[row["day"]].changes = row["applied"]
            result[row["day"]].problems = row["problems"]
    return result


def keep(activity_model, counted: dict[date, Day], today: date) -> None:
    """Store the counted days that can no longer change. One query (none if nothing)."""
    zone = timezone.get_current_timezone_name()
    now = timezone.now()
    rows = [activity_model(day=day, time_zone=zone, runs=c.runs, failed_runs=c.failed_runs,
                           changes=c.changes, problems=c.problems, computed_at=now)
            for day, c in counted.items() if day < today and not c.unsettled]
    if rows:
        activity_model.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["day", "time_zone"],
            update_fields=["runs", "failed_runs", "changes", "problems", "computed_at"])


def days(first: date, last: date, today: date | None = None) -> dict[date, Day]:
    """Figures for every day first…last: kept ones read, the others counted (and the
    finished ones kept). Three queries, a fourth the first time a day is over."""
    from syncapp.models import ChangeRecord, DailyActivity, SyncRun

    today = today or timezone.localdate()
    wanted = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    kept = {row.day: Day(row.runs, row.failed_runs, row.changes, row.problems)
            for row in DailyActivity.objects.filter(
                day__gte=first, day__lte=last,
                time_zone=timezone.get_current_timezone_name())}
    counted = count_days(SyncRun, ChangeRecord, [d for d in wanted if d not in kept])
    keep(DailyActivity, counted, today)
    return {**kept, **counted}


def backfill(run_model=None, record_model=None, activity_model=None,
             today: date | None = None) -> int:
    """Count and keep every finished day since the first run (migration 0015 and the
    dashboard benchmark). Returns the number of days kept."""
    if run_model is None:
        from syncapp.models import ChangeRecord, DailyActivity, SyncRun

        run_model, record_model, activity_model = SyncRun, ChangeRecord, DailyActivity
    today = today or timezone.localdate()
    oldest = run_model.objects.order_by("started_at").values_list("started_at", flat=True)[:1]
    if not oldest:
        return 0
    first = timezone.localtime(oldest[0]).date()
    wanted = [first + timedelta(days=i) for i in range((today - first).days)]
    counted = count_days(run_model, record_model, wanted)
    keep(activity_model, counted, today)
    return sum(1 for day, c in counted.items() if not c.unsettled)
