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

from django.db import connections
from django.db.models import Count, Q, Value
from django.utils import timezone

# Outcome / status values as stored (the migration passes historical models, no enums).
APPLIED = "applied"
PROBLEM_OUTCOMES = ("failed", "flagged")
TROUBLE = ("failed", "held")
UNSETTLED = ("queued", "running", "held")  # may still change the day's figures
DAYS_PER_QUERY = 90  # columns per aggregate query stay far below the databases' limits


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


def _on(field: str, day: date) -> Q:
    return Q(**{f"{field}__gte": _start(day), f"{field}__lt": _start(day + timedelta(days=1))})


def count_days(run_model, record_model, days: list[date]) -> dict[date, Day]:
    """The figures of `days` (local time) from the runs and change records: two queries per
    DAYS_PER_QUERY days. Each day is a filtered COUNT over its time range, not a GROUP BY
    on a truncated date: SQLite truncates through a Python function called for every row,
    which costs more than the whole rest of the overview."""
    result = {day: Day() for day in days}
    for chunk in range(0, len(days), DAYS_PER_QUERY):
        _count_chunk(run_model, record_model, days[chunk:chunk + DAYS_PER_QUERY], result)
    return result


def _count_chunk(run_model, record_model, days: list[date], result: dict[date, Day]) -> None:
    runs = {}
    records = {}
    for i, day in enumerate(days):
        on_run, on_record = _on("started_at", day), _on("created_at", day)
        runs[f"r{i}"] = Count("id", filter=on_run)
        runs[f"f{i}"] = Count("id", filter=on_run & Q(status__in=TROUBLE))
        runs[f"u{i}"] = Count("id", filter=on_run & Q(status__in=UNSETTLED))
        records[f"a{i}"] = Count("id", filter=on_record & Q(outcome=APPLIED))
        records[f"p{i}"] = Count("id", filter=on_record & Q(outcome__in=PROBLEM_OUTCOMES))
    # Dry runs' records left out by a NOT IN over the (few) dry runs, not by a join: with
    # the join a planner may walk every run's records instead of the created_at range.
    dry_runs = run_model.objects.filter(dry_run=True).values("pk")
    counts = _one_row(
        run_model.objects.filter(_within("started_at", days), dry_run=False), runs,
        record_model.objects.filter(_within("created_at", days)).exclude(run_id__in=dry_runs),
        records, run_model._meta.db_table)
    for i, day in enumerate(days):
        result[day] = Day(runs=counts[f"r{i}"], failed_runs=counts[f"f{i}"],
                          unsettled=counts[f"u{i}"], changes=counts[f"a{i}"],
                          problems=counts[f"p{i}"])


def _one_row(runs, run_aggregates: dict, records, record_aggregates: dict,
             table: str) -> dict[str, int]:
    """Both aggregates in one round trip: each is a one-row SELECT (no GROUP BY), joined
    side by side. The overview has a budget of queries, and this saves one."""
    parts, params = [], []
    for queryset, aggregates in ((runs, run_aggregates), (records, record_aggregates)):
        # values() on a constant: Django groups by nothing, so one row even with no rows.
        sql, args = queryset.order_by().values(one=Value(1)).annotate(**aggregates) \
            .values(*aggregates).query.sql_with_params()
        parts.append(sql)
        params.extend(args)
    connection = connections[runs.db]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({parts[0]}) AS r, ({parts[1]}) AS c", params)  # noqa: S608
        names = [column[0] for column in cursor.description]
        row = cursor.fetchone()
    return {name: int(value or 0) for name, value in zip(names, row, strict=True)}


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
