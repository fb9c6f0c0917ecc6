"""Hours per client, project, task and person for a period: the time report and its CSV.

Completed, non-deleted time entries whose start lies in the period (local days, TIME_ZONE)
count; running timers are listed apart. A period of whole months reads the monthly sums
kept as entries are written (services/time_sums.py); a period that cuts a month is summed
from the entries by the database (GROUP BY queries). Names and Notion pages come from the
mappings, one query per kind, so the number of queries does not grow with the entries.

A client is reached through its project's mapping parent: Clockify entries name a
project and a task, never a client.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Max, Q, Sum, Window
from django.utils import timezone

from syncapp.models import EntityMapping, Kind, TimeEntry, TimeReportSum
from syncapp.services import time_sums
from syncapp.services.export import FORMULA_START, local_day_bounds

RUNNING_LIMIT = 50  # running timers listed; there are rarely more than a handful
NO_CLIENT, NO_PROJECT, NO_TASK = "(no client)", "(no project)", "(no task)"
CSV_COLUMNS = ("level", "clockify_id", "project_clockify_id", "client", "project", "task",
               "person", "billable_hours", "non_billable_hours", "total_hours", "notion_url")


def hours(seconds: int) -> Decimal:
    """Seconds as hours, 2 decimals (half up): the one rounding the page and CSV share."""
    return (Decimal(seconds) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def month_of(day: date) -> tuple[date, date]:
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def default_period(today: date | None = None) -> tuple[date, date]:
    """The current month in TIME_ZONE."""
    return month_of(today or timezone.localdate())


@dataclass
class Row:
    """One client, project, task or person with its billable and non-billable seconds."""

    level: str
    key: str
    name: str
    client: str = ""
    project: str = ""
    task: str = ""
    person: str = ""
    project_key: str = ""  # a task's project: task rows are per project ("(no task)" too)
    notion_page_id: str = ""
    billable_seconds: int = 0
    non_billable_seconds: int = 0

    @property
    def seconds(self) -> int:
        return self.billable_seconds + self.non_billable_seconds

    @property
    def ident(self) -> str:
        """Unique within its level: a task's id is prefixed with its project's."""
        return f"{self.project_key}:{self.key}" if self.level == "task" else self.key

    @property
    def billable_hours(self) -> Decimal:
        return hours(self.billable_seconds)

    @property
    def non_billable_hours(self) -> Decimal:
        return hours(self.non_billable_seconds)

    @property
    def total_hours(self) -> Decimal:
        return hours(self.seconds)

    def add(self, billable: bool, seconds: int) -> None:
        if billable:
            self.billable_seconds += seconds
        else:
            self.non_billable_seconds += seconds


@dataclass
class Report:
    start: date
    end: date
    clients: list[Row] = field(default_factory=list)
    projects: list[Row] = field(default_factory=list)
    tasks: list[Row] = field(default_factory=list)
    people: list[Row] = field(default_factory=list)
    total: Row = field(default_factory=lambda: Row("total", "", "Total"))
    running: list[dict] = field(default_factory=list)
    running_count: int = 0
    more_tasks: int = 0  # tasks left out of the page (build(top=...)); the CSV has them

    def rows(self) -> Iterator[Row]:
        yield from self.clients
        yield from self.projects
        yield from self.tasks
        yield from self.people
        yield self.total


def completed_entries(start: date, end: date):
    lower, upper = local_day_bounds(start, end)
    return TimeEntry.objects.filter(deleted=False, running=False, end__isnull=False,
                                    duration_seconds__isnull=False,
                                    start__gte=lower, start__lt=upper).order_by()


@dataclass
class Named:
    """What the report shows of a mapping: read as plain values, not model instances (a
    month may name a thousand projects and their clients)."""

    clockify_id: str
    name: str
    notion_page_id: str
    parent: Named | None = None


def _mappings(kind: str, clockify_ids: set[str]) -> dict[str, Named]:
    ids = sorted(i for i in clockify_ids if i)
    if not ids:
        return {}
    fields = ["clockify_id", "name", "notion_page_id"]
    parents = [f"parent__{name}" for name in fields] if kind == Kind.PROJECT else []
    found = {}
    for row in EntityMapping.objects.filter(kind=kind, clockify_id__in=ids) \
            .values_list(*fields, *parents):
        parent = Named(*row[3:]) if parents and row[3] is not None else None
        found[row[0]] = Named(row[0], row[1], row[2], parent)
    return found


def build(start: date, end: date, top: int | None = None) -> Report:
    """The report for days start…end (inclusive, local time).

    With `top` (the page), only the `top` tasks with the most hours are read and named,
    by the database (ORDER BY hours LIMIT top), and `report.more_tasks` says how many more
    there are: a month of 10,000 tasks would otherwise be 10,000 rows to load, name and
    show on every view. Clients, projects, people and the total stay complete; the CSV
    (top=None) has every row."""
    report = Report(start, end)
    months = time_sums.whole_months(start, end)
    if months:  # the kept monthly sums (services/time_sums.py)
        time_sums.ensure(months)
        groups, people, task_groups, more = _kept_sums(months, top)
    else:  # days that cut a month: summed from the entries
        groups, people, task_groups, more = _entry_sums(start, end, top)
    lower, upper = local_day_bounds(start, end)
    running = TimeEntry.objects.filter(running=True, deleted=False, start__lt=upper)
    report.running_count = running.count()
    running_rows = list(running.order_by("start", "id")
                        .values("clockify_id", "description", "start", "user_id",
                                "project_id", "task_id", "raw__user__name")[:RUNNING_LIMIT])

    groups += task_groups
    projects = _mappings(Kind.PROJECT, {g["project_id"] for g in groups}
                         | {r["project_id"] for r in running_rows})
    report.more_tasks = more
    tasks = _mappings(Kind.TASK, {g["task_id"] for g in groups if "task_id" in g})

    by_client, by_project, by_task = _by_work(groups, projects, tasks, report.total)
    report.clients = _ordered(by_client.values())
    report.projects = _ordered(by_project.values())
    report.tasks = _ordered(by_task.values())
    report.people = _ordered(_by_person(people).values())
    for timer in running_rows:
        project = projects.get(timer["project_id"])
        timer["project_name"] = _name(project, timer["project_id"], NO_PROJECT)
        timer["person"] = timer["raw__user__name"] or timer["user_id"]
    report.running = running_rows
    return report


def _entry_sums(start: date, end: date, top: int | None) -> tuple[list, list, list, int]:
    """(project[, task], billable) groups, person groups, the top task groups and how many
    tasks are left out, summed from the entries. Three queries."""
    entries = completed_entries(start, end)
    per = ("project_id", "billable") if top else ("project_id", "task_id", "billable")
    groups = list(entries.values(*per).annotate(seconds=Sum("duration_seconds")))
    people = list(entries.values("user_id", "billable")
                  .annotate(seconds=Sum("duration_seconds"),
                            user_name=Max(time_sums.StringName("raw"))))
    task_groups, more = _top_task_groups(entries, top) if top else ([], 0)
    return groups, people, task_groups, more


def _split(seconds: int, billable_seconds: int, *,
           keep_empty: bool = True) -> Iterator[tuple[bool, int]]:
    """Billable and non-billable seconds as (billable, seconds), an empty one left out; a
    sum of only zero-second entries is one empty group (`keep_empty`): its row is shown
    with 0 hours, as summed from the entries."""
    parts = [(True, billable_seconds), (False, seconds - billable_seconds)]
    yield from [(b, part) for b, part in parts if part] or (
        [(False, 0)] if keep_empty else [])


def _kept_sums(months: list[date], top: int | None) -> tuple[list, list, list, int]:
    """The same as _entry_sums, from the kept sums of whole months. Two queries."""
    kept = TimeReportSum.objects.filter(time_zone=timezone.get_current_timezone_name(),
                                        month__in=months).order_by()
    groups, people = [], []
    for row in kept.filter(level__in=(TimeReportSum.Level.PROJECT, TimeReportSum.Level.PERSON)) \
            .values("level", "project_id", "user_id", "user_name") \
            .annotate(total=Sum("seconds"), billable_total=Sum("billable_seconds")):
        for billable, seconds in _split(int(row["total"]), int(row["billable_total"])):
            if row["level"] == TimeReportSum.Level.PROJECT:
                groups.append({"project_id": row["project_id"], "billable": billable,
                               "seconds": seconds})
            else:
                people.append({"user_id": row["user_id"], "billable": billable,
                               "seconds": seconds, "user_name": row["user_name"]})
    people = _one_name_per_person(people)
    tasks = kept.filter(level=TimeReportSum.Level.TASK).values("project_id", "task_id")
    if len(months) == 1:  # one row per task already: read in the index's order
        ranked = tasks.annotate(total=F("seconds"), billable_total=F("billable_seconds"),
                                pairs=Window(Count("*")))
    else:
        ranked = tasks.annotate(total=Sum("seconds"), billable_total=Sum("billable_seconds"),
                                pairs=Window(Count("*")))
    ranked = list(ranked.order_by("-total", "project_id", "task_id")[:top] if top else ranked)
    more = max(0, ranked[0]["pairs"] - len(ranked)) if ranked and top else 0
    task_groups = [{"project_id": pair["project_id"], "task_id": pair["task_id"],
                    "billable": billable, "seconds": seconds, "task_only": bool(top)}
                   for pair in ranked
                   for billable, seconds in _split(int(pair["total"]), int(pair["billable_total"]),
                                                   keep_empty=not top)]
    if not top:  # the CSV: tasks carry the client, project and total sums, as from entries
        groups = []
    return groups, people, task_groups, more


def _one_name_per_person(people: list[dict]) -> list[dict]:
    """A person's name is the greatest their entries carry (MAX, as summed from entries)."""
    names: dict[str, str] = {}
    for group in people:
        name = group["user_name"] or ""
        names[group["user_id"]] = max(names.get(group["user_id"], ""), name)
    return [{**group, "user_name": names[group["user_id"]] or None} for group in people]


def _top_task_groups(entries, top: int) -> tuple[list[dict], int]:
    """The `top` (project, task) pairs with the most seconds, as (project, task, billable)
    groups, and how many pairs are left out. One query."""
    ranked = list(entries.values("project_id", "task_id").annotate(
        seconds=Sum("duration_seconds"),
        billable_seconds=Sum("duration_seconds", filter=Q(billable=True)),
        pairs=Window(Count("*")))  # how many pairs in all, counted in the same query
        .order_by("-seconds", "project_id", "task_id")[:top])
    more = max(0, ranked[0]["pairs"] - len(ranked)) if ranked else 0
    groups = []
    for pair in ranked:
        billable = int(pair["billable_seconds"] or 0)
        for is_billable, seconds in ((True, billable), (False, int(pair["seconds"]) - billable)):
            if seconds:
                groups.append({"project_id": pair["project_id"], "task_id": pair["task_id"],
                               "billable": is_billable, "seconds": seconds, "task_only": True})
    return groups, more


def _ordered(rows) -> list[Row]:
    return sorted(rows, key=lambda r: (-r.seconds, r.name.casefold(), r.key))


def _by_work(groups: list[dict], projects: dict, tasks: dict, total: Row) -> tuple[dict, ...]:
    """Rows per client, project and task from (project, task, billable) sums."""
    by_client: dict[str, Row] = {}
    by_project: dict[str, Row] = {}
    by_task: dict[tuple[str, str], Row] = {}
    for group in groups:
        project_id, task_id = group["project_id"], group.get("task_id", "")
        seconds, billable = int(group["seconds"] or 0), group["billable"]
        project = projects.get(project_id)
        client = project.parent if project else None
        client_key = (client.clockify_id or "") if client else ""
        client_name = client.name if client else NO_CLIENT
        project_name = _name(project, project_id, NO_PROJECT)
        if client_key not in by_client:
            by_client[client_key] = Row("client", client_key, client_name, client=client_name,
                                        notion_page_id=client.notion_page_id if client else "")
        if project_id not in by_project:
            by_project[project_id] = Row(
                "project", project_id, project_name, client=client_name, project=project_name,
                notion_page_id=project.notion_page_id if project else "")
        adding = [] if group.get("task_only") else [by_client[client_key],
                                                      by_project[project_id], total]
        if "task_id" in group:  # the page reads tasks apart (build(top=...))
            if (project_id, task_id) not in by_task:
                task = tasks.get(task_id)
                task_name = _name(task, task_id, NO_TASK)
                by_task[project_id, task_id] = Row(
                    "task", task_id, task_name, client=client_name, project=project_name,
                    task=task_name, project_key=project_id,
                    notion_page_id=task.notion_page_id if task else "")
            adding.append(by_task[project_id, task_id])
        for row in adding:
            row.add(billable, seconds)
    return by_client, by_project, by_task


def _by_person(people: list[dict]) -> dict[str, Row]:
    by_person: dict[str, Row] = {}
    for group in people:
        user_id = group["user_id"]
        if user_id not in by_person:
            name = group["user_name"] or user_id or "(unknown person)"
            by_person[user_id] = Row("person", user_id, name, person=name)
        by_person[user_id].add(group["billable"], int(group["seconds"] or 0))
    return by_person


def _name(mapping: Named | None, clockify_id: str, missing: str) -> str:
    if mapping is not None and mapping.name:
        return mapping.name
    return f"{clockify_id} (not mapped)" if clockify_id else missing


def chart(rows: list[Row]) -> tuple[list[dict], Decimal]:
    """Bars as percentages of the largest total; the axis maximum in hours."""
    peak = max((row.seconds for row in rows), default=0)
    bars = [{"row": row,
             "billable_pct": round(100 * row.billable_seconds / peak, 2) if peak else 0,
             "non_billable_pct": round(100 * row.non_billable_seconds / peak, 2) if peak else 0}
            for row in rows]
    return bars, hours(peak)


# -- CSV --------------------------------------------------------------------------------------
def _cell(value) -> str:
    value = "" if value is None else str(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_text(report: Report, link: Callable[[str], str]) -> str:
    """The report's rows as CSV: the same hours as the page, formula cells guarded.

    `link` turns a Notion page id into its URL (views/links.py decides where it leads)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in report.rows():
        writer.writerow([_cell(v) for v in (
            row.level, row.key, row.project_key, row.client, row.project, row.task,
            row.person, row.billable_hours, row.non_billable_hours, row.total_hours,
            link(row.notion_page_id))])
    return buffer.getvalue()


def read_csv(text: str) -> list[dict]:
    """Parse an export back, the formula guard removed (for tests and scripts)."""
    return [{k: (v[1:] if v.startswith("'") else v) for k, v in raw.items()}
            for raw in csv.DictReader(io.StringIO(text))]


def parse_period(start: str | None, end: str | None, *,
                 today: date | None = None) -> tuple[date, date]:
    """Dates from the query string; ValueError with a message a person can act on."""
    default_start, default_end = default_period(today)
    try:
        first = date.fromisoformat(start) if start else default_start
        last = date.fromisoformat(end) if end else default_end
    except ValueError:
        raise ValueError("Give the period as dates, e.g. start=2026-11-01 and "
                         "end=2026-11-30.") from None
    if last < first:
        raise ValueError("The end date is before the start date.")
    return first, last
