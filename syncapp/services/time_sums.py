"""Monthly sums behind the time report, kept exact as time entries are written.

Summing a month of entries three ways on every view costs time in proportion to the entries
(p95 404 ms on SQLite with 100,000 entries, a month of them about 30,000). The report of
whole local months reads these sums instead: per task (project and task), per project and
per person, a few thousand narrow rows at most, the top tasks straight from an index.

Why months, not days: the page's default period is the current month, and a busy agency
logs each day on hundreds of different tasks and people, so daily rows per task are nearly
as many as the entries; a month's are as many as the tasks worked on.

Keying: an entry belongs to the local month (TIME_ZONE) of its start, as the report counts
it. Months are kept per time zone (another zone cuts them differently) and only once shown
(`ensure`, which sums the month from the entries). From then on:

- TimeEntry.save() and delete() hand the entry as it was and as it is to `entry_changed`,
  which subtracts the old contribution and adds the new one, in the same transaction as the
  write and *after* it, so that a month being summed at the same moment either sees the
  write or is seen by it (see `ensure` for the lock);
- bulk writes through the ORM (bulk_create, QuerySet.update of a summed column,
  QuerySet.delete) drop every kept month: they are summed again when next shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Count, F, Func, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

NAME_LENGTH = 255  # TimeReportSum.user_name
# The columns a contribution is made of: an update() that sets one of them drops the sums.
SUMMED_FIELDS = frozenset({"start", "end", "duration_seconds", "project_id", "task_id",
                           "user_id", "billable", "raw", "running", "deleted"})


@dataclass(frozen=True)
class Contribution:
    """What one completed, non-deleted entry adds to the sums."""

    start: datetime
    project_id: str
    task_id: str
    user_id: str
    user_name: str
    billable: bool
    seconds: int


def user_name(raw) -> str:
    """The name an entry's payload gives its person as the sums keep it: "" when none or
    not a string (a number or an object there is not a name)."""
    user = raw.get("user") if isinstance(raw, dict) else None
    name = user.get("name") if isinstance(user, dict) else None
    return name[:NAME_LENGTH] if isinstance(name, str) else ""


def contribution(*, start, end, duration_seconds, project_id, task_id, user_id, billable,
                 raw, running, deleted) -> Contribution | None:
    """The report's own filter (time_report.completed_entries), on one entry's values."""
    if deleted or running or end is None or duration_seconds is None or start is None:
        return None
    return Contribution(start, project_id or "", task_id or "", user_id or "",
                        user_name(raw), bool(billable), int(duration_seconds))


def of_entry(entry) -> Contribution | None:
    return contribution(**{name: getattr(entry, name) for name in CONTRIBUTION_FIELDS})


CONTRIBUTION_FIELDS = ("start", "end", "duration_seconds", "project_id", "task_id", "user_id",
                       "billable", "raw", "running", "deleted")


def month_of(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date().replace(day=1)


def _keys(c: Contribution) -> list[tuple[str, dict]]:
    """The rows one contribution adds to: its task, its project, its person."""
    return [("task", {"project_id": c.project_id, "task_id": c.task_id}),
            ("project", {"project_id": c.project_id}),
            ("person", {"user_id": c.user_id, "user_name": c.user_name})]


# -- keeping the sums as entries are written ----------------------------------------------
def entry_changed(before: Contribution | None, after: Contribution | None) -> None:
    """Move one entry's contribution in the kept months (call after writing the entry, in
    the same transaction). Nothing to do when neither counts or nothing that counts moved."""
    if before == after:
        return
    from syncapp.models import TimeReportMonth

    moments = [c.start for c in (before, after) if c is not None]
    # Whatever the zone, a moment's local month is that of its UTC date, the day before or
    # the day after: read the kept months that may hold it, then decide per zone.
    candidates = {(m.astimezone(UTC) + timedelta(days=d)).date().replace(day=1)
                  for m in moments for d in (-1, 0, 1)}
    kept = list(TimeReportMonth.objects.filter(month__in=candidates)
                .values_list("time_zone", "month"))
    for zone, month in kept:
        for c, sign in ((before, -1), (after, 1)):
            if c is not None and month_of(c.start, zone) == month:
                _add(zone, month, c, sign)


def _add(zone: str, month: date, c: Contribution, sign: int) -> None:
    from syncapp.models import TimeReportSum

    seconds, billable = sign * c.seconds, sign * (c.seconds if c.billable else 0)
    for level, key in _keys(c):
        rows = TimeReportSum.objects.filter(time_zone=zone, month=month, level=level, **key)
        changed = rows.update(seconds=F("seconds") + seconds,
                              billable_seconds=F("billable_seconds") + billable,
                              entries=F("entries") + sign)
        if not changed and sign > 0:
            try:
                with transaction.atomic():
                    TimeReportSum.objects.create(time_zone=zone, month=month, level=level,
                                                 seconds=seconds, billable_seconds=billable,
                                                 entries=1, **key)
            except IntegrityError:  # added by a concurrent write a moment ago
                rows.update(seconds=F("seconds") + seconds,
                            billable_seconds=F("billable_seconds") + billable,
                            entries=F("entries") + 1)
        elif sign < 0:
            rows.filter(entries__lte=0).delete()


def forget_all() -> None:
    """Drop every kept month (after a bulk write whose entries are not known one by one)."""
    from syncapp.models import TimeReportMonth, TimeReportSum

    TimeReportMonth.objects.all().delete()
    TimeReportSum.objects.all().delete()


# -- summing a month from the entries -----------------------------------------------------
def whole_months(start: date, end: date) -> list[date] | None:
    """The months start…end covers if it is whole months (first to last day), else None."""
    if start.day != 1 or (end + timedelta(days=1)).day != 1:
        return None
    months, month = [], start
    while month <= end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def ensure(months: Iterable[date]) -> None:
    """Sum the months not kept yet in the current time zone. One query when all are kept."""
    from syncapp.models import TimeReportMonth

    zone = timezone.get_current_timezone_name()
    months = list(months)
    kept = set(TimeReportMonth.objects.filter(time_zone=zone, month__in=months)
               .values_list("month", flat=True))
    for month in months:
        if month not in kept:
            _build(zone, month)


def _build(zone: str, month: date) -> None:
    """Sum a month from its entries, by the database: three INSERT … SELECT … GROUP BY (as
    many queries for ten entries as for a million)."""
    from syncapp.models import TimeEntry, TimeReportMonth, TimeReportSum

    with transaction.atomic():
        # Writers of entries wait until this month is summed and kept, so each write is
        # either in the sum or adjusts it afterwards (entry_changed reads the kept months
        # after its own write). PostgreSQL: SHARE blocks row writes to entries; taken
        # first, before any lock a waiting writer could need (no deadlock). SQLite has one
        # writer at a time: the marker written first takes the database's write lock.
        # Two views summing the same month meet at the marker's row: the second waits,
        # then sums again.
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f'LOCK TABLE "{TimeEntry._meta.db_table}" IN SHARE MODE')
        TimeReportMonth.objects.update_or_create(time_zone=zone, month=month,
                                                 defaults={"built_at": timezone.now()})
        TimeReportSum.objects.filter(time_zone=zone, month=month).delete()
        lower, upper = _bounds(month, zone)
        entries = TimeEntry.objects.filter(_counted(), start__gte=lower, start__lt=upper) \
            .order_by()
        sums = {"s_seconds": Sum("duration_seconds"),
                "s_billable": Coalesce(Sum("duration_seconds", filter=Q(billable=True)), 0),
                "s_entries": Count("*")}
        empty = Value("")
        for level, grouped in (
                ("task", entries.values("project_id", "task_id").annotate(
                    s_user=empty, s_name=empty, **sums)),
                ("project", entries.values("project_id").annotate(
                    s_task=empty, s_user=empty, s_name=empty, **sums)),
                ("person", entries.values("user_id", s_name=StringName("raw")).annotate(
                    s_project=empty, s_task=empty, **sums))):
            _insert(TimeReportSum._meta.db_table, zone, month, level, grouped)


LEVEL_COLUMNS = {  # the SELECT's names for project_id, task_id, user_id, user_name
    "task": ("project_id", "task_id", "s_user", "s_name"),
    "project": ("project_id", "s_task", "s_user", "s_name"),
    "person": ("s_project", "s_task", "user_id", "s_name"),
}


def _insert(table: str, zone: str, month: date, level: str, grouped) -> None:
    sql, params = grouped.query.sql_with_params()
    names = ", ".join(f'"{name}"' for name in (*LEVEL_COLUMNS[level], "s_seconds",
                                               "s_billable", "s_entries"))
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (time_zone, month, level, project_id, task_id, user_id, '  # noqa: S608
            f"user_name, seconds, billable_seconds, entries) "
            f"SELECT %s, %s, %s, {names} FROM ({sql}) AS grouped",
            (zone, month, level, *params))


class StringName(Func):
    """raw.user.name when it is a JSON string (cut to NAME_LENGTH), else "": the same as
    user_name() in Python, so that a sum made here is the one an entry's write adjusts."""

    output_field = CharField()
    path = "'$.\"user\".\"name\"'"
    template = (f"CASE WHEN JSON_TYPE(%(expressions)s, {path}) = 'text' "
                f"THEN SUBSTR(JSON_EXTRACT(%(expressions)s, {path}), 1, {NAME_LENGTH}) "
                "ELSE '' END")

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template=(
            "CASE WHEN jsonb_typeof(%(expressions)s -> 'user' -> 'name') = 'string' "
            f"THEN LEFT(%(expressions)s -> 'user' ->> 'name', {NAME_LENGTH}) ELSE '' END"),
            **extra)


def _counted() -> Q:
    return Q(deleted=False, running=False, end__isnull=False, duration_seconds__isnull=False)


def _bounds(month: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    after = (month + timedelta(days=32)).replace(day=1)
    return (datetime.combine(month, datetime.min.time(), tz),
            datetime.combine(after, datetime.min.time(), tz))
