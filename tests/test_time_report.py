# ruff: noqa: F811 - pytest fixtures imported by name
"""The time report (issue 15): hours per client, project, task and person for a period,
billable apart, as a page and a CSV, from time entries delivered by Clockify's webhooks."""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from syncapp.models import EntityMapping, Kind, MappingState, TimeEntry
from syncapp.sandbox import ids
from syncapp.services import connections, time_report
from syncapp.views.links import notion_url
from tests.dashboard import broker, staff, staff_client  # noqa: F401
from tests.webhooking import CLOCKIFY_TOKEN, post_clockify

pytestmark = pytest.mark.django_db
ZONE = "Europe/Berlin"
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}
# Entries start from mid-October to mid-December: the period cuts some off on both sides.
FIRST_START = datetime(2026, 10, 15, 6, 0, tzinfo=UTC)


@pytest.fixture
def hooks(sandbox, settings):
    settings.CLOCKIFY_WEBHOOK_TOKENS = [CLOCKIFY_TOKEN]
    settings.TIME_ZONE = ZONE
    return sandbox


def mapped(kind: str, clockify_id: str, name: str, parent: EntityMapping | None = None):
    return EntityMapping.objects.create(kind=kind, clockify_id=clockify_id, name=name,
                                        notion_page_id=str(uuid.uuid4()), parent=parent,
                                        state=MappingState.LINKED)


def workspace(box, *, clients: int = 3, projects: int = 6, tasks: int = 3) -> dict:
    """Clients, projects (the last without a client) and tasks in the emulator, mapped."""
    made: dict = {"projects": [], "tasks": defaultdict(list)}
    client_maps = []
    for n in range(clients):
        client = box.clockify.create_client(f"Client {n}")
        client_maps.append(mapped(Kind.CLIENT, client["id"], client["name"]))
    for n in range(projects):
        parent = client_maps[n % clients] if n < projects - 1 else None
        project = box.clockify.create_project(f"Project {n}",
                                              parent.clockify_id if parent else None)
        project_map = mapped(Kind.PROJECT, project["id"], project["name"], parent)
        made["projects"].append(project["id"])
        for t in range(tasks):
            task = box.clockify.create_task(project["id"], f"Task {n}.{t}")
            mapped(Kind.TASK, task["id"], task["name"], project_map)
            made["tasks"][project["id"]].append(task["id"])
    return made


def deliver(client, event: str, body: dict) -> None:
    response = post_clockify(client, event, body)
    assert response.status_code == 200, response.content


def expected_seconds(box, start: date, end: date) -> dict[str, Counter]:
    """A direct sum over the emulator's entries: completed ones starting in the period."""
    zone = ZoneInfo(ZONE)
    projects = {p["id"]: p for p in box.clockify.projects()}
    sums: dict[str, Counter] = defaultdict(Counter)
    for entry in box.clockify.time_entries():
        interval = entry["timeInterval"]
        if interval["end"] is None:
            continue
        began = datetime.fromisoformat(interval["start"].replace("Z", "+00:00"))
        ended = datetime.fromisoformat(interval["end"].replace("Z", "+00:00"))
        if not start <= began.astimezone(zone).date() <= end:
            continue
        seconds = int((ended - began).total_seconds())
        project = entry["projectId"] or ""
        client = (projects[project]["clientId"] or "") if project else ""
        billable = "billable" if entry["billable"] else "non_billable"
        for level, key in (("client", client), ("project", project),
                           ("task", (project, entry["taskId"] or ""))):
            sums[level][key, billable] += seconds
        sums["total"]["", billable] += seconds
    return sums


def as_counter(rows, key=lambda row: row.key) -> Counter:
    counted = Counter()
    for row in rows:
        counted[key(row), "billable"] += row.billable_seconds
        counted[key(row), "non_billable"] += row.non_billable_seconds
    return +counted


class TableRows(HTMLParser):
    """(level, key) -> {field: text} for the report's table rows."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self._row: dict | None = None
        self._field: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "time-row" in (attrs.get("class") or ""):
            self._row = self.rows.setdefault((attrs["data-level"], attrs["data-key"]), {})
        elif tag == "td" and self._row is not None:
            self._field = attrs.get("data-field")
            self._row[self._field] = ""
        elif tag == "a" and self._row is not None and self._field == "name":
            self._row["href"] = attrs["href"]

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None
        if tag == "td":
            self._field = None

    def handle_data(self, data):
        if self._row is not None and self._field:
            self._row[self._field] += data.strip()


def table_rows(html: str) -> dict:
    parser = TableRows()
    parser.feed(html)
    return parser.rows


def test_a_thousand_entries_delivered_out_of_order_add_up_to_the_emulators_sums(
        client, hooks, staff):
    """1,000 entries tracked in the emulator reach the product by webhook: some updated with
    the update delivered before the creation, some deleted (tombstone first or last), one
    timer still running. The report's hours equal a direct sum over the emulator."""
    rng = random.Random(15)
    made = workspace(hooks)
    api = connections.clockify_client()
    created = []
    for n in range(1000):
        project = rng.choice(made["projects"] + [None])
        task = rng.choice(made["tasks"][project]) if project and rng.random() < .8 else None
        start = FIRST_START + timedelta(hours=n * 1.5 + rng.random())
        entry = hooks.clockify.add_time_entry(
            start=start, end=start + timedelta(minutes=rng.randrange(5, 240)),
            projectId=project, taskId=task, billable=rng.random() < .7,
            description=f"Entry {n}")
        created.append((entry["id"], api.get_time_entry(entry["id"])))
    for n, (entry_id, first) in enumerate(created):
        fate = n % 10
        if fate in (0, 1):  # edited later; the update is delivered before the creation
            moved = rng.choice(made["projects"])
            hooks.clockify.update_time_entry(
                entry_id, end=datetime.fromisoformat(first["timeInterval"]["start"]
                                                     .replace("Z", "+00:00"))
                + timedelta(minutes=rng.randrange(10, 300)),
                projectId=moved, taskId=rng.choice(made["tasks"][moved]),
                billable=not first["billable"])
            deliver(client, "TIME_ENTRY_UPDATED", api.get_time_entry(entry_id))
            deliver(client, "NEW_TIME_ENTRY", first)
        elif fate == 2:  # deleted; the tombstone arrives first
            hooks.clockify.delete_time_entry(entry_id)
            deliver(client, "TIME_ENTRY_DELETED", first)
            deliver(client, "NEW_TIME_ENTRY", first)
        elif fate == 3:  # deleted after its creation was delivered
            deliver(client, "NEW_TIME_ENTRY", first)
            hooks.clockify.delete_time_entry(entry_id)
            deliver(client, "TIME_ENTRY_DELETED", first)
        else:
            deliver(client, "NEW_TIME_ENTRY", first)
    timer = hooks.clockify.add_time_entry(start=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
                                          projectId=made["projects"][0], description="Live")
    deliver(client, "NEW_TIMER_STARTED", api.get_time_entry(timer["id"]))
    assert TimeEntry.objects.count() == 1001

    expected = expected_seconds(hooks, date(2026, 11, 1), date(2026, 11, 30))
    report = time_report.build(date(2026, 11, 1), date(2026, 11, 30))
    assert as_counter(report.clients) == +expected["client"]
    assert as_counter(report.projects) == +expected["project"]
    assert as_counter(report.tasks, key=lambda r: (r.project_key, r.key)) == +expected["task"]
    assert as_counter([report.total]) == +expected["total"]
    assert as_counter(report.people) == Counter(
        {(ids.CLOCKIFY_USER_ID, b): s for (_, b), s in expected["total"].items()})
    assert len(report.clients) == 4  # three clients and "(no client)"
    assert [t["clockify_id"] for t in report.running] == [timer["id"]]

    client.force_login(staff)
    page = client.get("/time/", NOVEMBER)
    assert page.status_code == 200
    shown = table_rows(page.content.decode())
    exported = client.get("/time/report.csv", NOVEMBER)
    assert exported["Content-Type"].startswith("text/csv")
    lines = time_report.read_csv(exported.content.decode())
    assert lines[-1]["level"] == "total"
    assert lines[-1]["total_hours"] == str(time_report.hours(sum(expected["total"].values())))
    csv_rows = {(line["level"], f'{line["project_clockify_id"]}:{line["clockify_id"]}'
                 if line["level"] == "task" else line["clockify_id"]): line
                for line in lines[:-1]}
    assert set(csv_rows) == set(shown)
    for key, line in csv_rows.items():
        cells = shown[key]
        assert (line["billable_hours"], line["non_billable_hours"], line["total_hours"]) == \
            (cells["billable"], cells["non-billable"], cells["total"]), key
        assert line["notion_url"] == cells.get("href", ""), key
    # Every mapped project, task and client links to its Notion page.
    project_map = EntityMapping.objects.get(kind=Kind.PROJECT, clockify_id=made["projects"][0])
    assert shown["project", project_map.clockify_id]["href"] == \
        notion_url(project_map.notion_page_id)
    assert shown["client", project_map.parent.clockify_id]["href"] == \
        notion_url(project_map.parent.notion_page_id)


def test_the_page_makes_as_many_queries_for_a_thousand_entries_as_for_ten(
        staff_client, settings):
    settings.TIME_ZONE = ZONE

    def fill(count: int, projects: int) -> None:
        TimeEntry.objects.all().delete()
        EntityMapping.objects.all().delete()
        for p in range(projects):
            client = mapped(Kind.CLIENT, f"c{p}", f"Client {p}")
            project = mapped(Kind.PROJECT, f"p{p}", f"Project {p}", client)
            mapped(Kind.TASK, f"t{p}", f"Task {p}", project)
        start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        TimeEntry.objects.bulk_create(TimeEntry(
            clockify_id=f"e{n}", user_id=f"u{n % 7}", project_id=f"p{n % projects}",
            task_id=f"t{n % projects}", billable=n % 3 > 0, start=start + timedelta(hours=n % 600),
            end=start + timedelta(hours=n % 600, minutes=30), duration_seconds=1800,
            running=n % 250 == 0, deleted=n % 97 == 0) for n in range(count))

    counts = []
    for count, projects in ((10, 3), (1000, 60)):
        fill(count, projects)
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get("/time/", NOVEMBER)
        assert response.status_code == 200
        assert len(table_rows(response.content.decode())) > projects  # rows were rendered
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_period_defaults_to_the_current_month_in_the_time_zone():
    assert time_report.parse_period(None, None, today=date(2028, 2, 10)) == \
        (date(2028, 2, 1), date(2028, 2, 29))
    assert time_report.parse_period("2026-11-03", "", today=date(2027, 1, 20)) == \
        (date(2026, 11, 3), date(2027, 1, 31))


def test_a_bad_period_is_refused_with_a_message(staff_client):
    response = staff_client.get("/time/", {"start": "2026-11-30", "end": "2026-11-01"})
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()
    response = staff_client.get("/time/report.csv", {"start": "yesterday", "end": "2026-11-01"})
    assert response.status_code == 400
    assert "as dates" in response.content.decode()


def test_days_are_cut_in_the_time_zone_and_running_or_deleted_entries_do_not_count(
        staff_client, settings):
    settings.TIME_ZONE = ZONE  # UTC+1 in November
    project = mapped(Kind.PROJECT, "p1", "Website")

    def entry(clockify_id: str, start: datetime, minutes: int | None, **fields):
        TimeEntry.objects.create(
            clockify_id=clockify_id, project_id="p1", start=start, billable=True,
            end=start + timedelta(minutes=minutes) if minutes else None,
            duration_seconds=minutes * 60 if minutes else None, running=minutes is None,
            **fields)

    entry("in", datetime(2026, 10, 31, 23, 30, tzinfo=UTC), 60)  # 1 Nov 00:30 in Berlin
    entry("out", datetime(2026, 11, 30, 23, 30, tzinfo=UTC), 60)  # 1 Dec in Berlin
    entry("gone", datetime(2026, 11, 5, 9, tzinfo=UTC), 120, deleted=True)
    entry("live", datetime(2026, 11, 6, 9, tzinfo=UTC), None)
    report = time_report.build(date(2026, 11, 1), date(2026, 11, 30))
    assert [(r.name, r.billable_seconds) for r in report.projects] == [("Website", 3600)]
    assert [t["clockify_id"] for t in report.running] == ["live"]
    page = staff_client.get("/time/", NOVEMBER).content.decode()
    assert notion_url(project.notion_page_id) in page
    assert 'data-key="live"' in page


def test_csv_cells_that_look_like_formulas_are_guarded(staff_client, settings):
    settings.TIME_ZONE = ZONE
    mapped(Kind.PROJECT, "p1", "=HYPERLINK(\"http://evil\")")
    TimeEntry.objects.create(clockify_id="e1", project_id="p1", billable=False,
                             start=datetime(2026, 11, 2, 9, tzinfo=UTC),
                             end=datetime(2026, 11, 2, 10, 15, tzinfo=UTC),
                             duration_seconds=4500)
    text = staff_client.get("/time/report.csv", NOVEMBER).content.decode()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    project = [r for r in time_report.read_csv(text) if r["level"] == "project"][0]
    assert (project["project"], project["non_billable_hours"], project["total_hours"]) == \
        ('=HYPERLINK("http://evil")', "1.25", "1.25")


def test_the_report_is_for_staff_only(client, django_user_model):
    assert client.get("/time/").status_code == 302
    assert client.get("/time/report.csv").status_code == 302
    user = django_user_model.objects.create_user("someone", password="x-long-password-1")
    client.force_login(user)
    assert client.get("/time/").status_code == 403


# -- backfill: the history before webhooks --------------------------------------------------
def history(box, made: dict, count: int) -> None:
    """`count` entries tracked in Clockify from June 2025 to October 2026, never delivered."""
    rng = random.Random(7)
    for n in range(count):
        project = rng.choice(made["projects"])
        start = datetime(2025, 6, 1, 7, tzinfo=UTC) + timedelta(hours=n * 40 + rng.random())
        box.clockify.add_time_entry(start=start, end=start + timedelta(minutes=rng.randrange(
            5, 300)), projectId=project, taskId=rng.choice(made["tasks"][project]),
            billable=rng.random() < .6)


def test_backfill_reads_every_users_history_and_a_rerun_changes_nothing(hooks, monkeypatch):
    from io import StringIO

    from django.core.management import call_command

    made = workspace(hooks)
    history(hooks, made, 300)
    build = connections.clockify_client
    monkeypatch.setattr(connections, "clockify_client", lambda: build(page_size=10))  # paged
    hooks.clockify.reset_calls()
    out = StringIO()
    call_command("backfill_time", "--since", "2025-06-01", "--until", "2026-10-31", stdout=out,
                 stderr=StringIO())
    assert "'added': 300" in out.getvalue()
    assert TimeEntry.objects.filter(deleted=False).count() == 300
    reads = Counter("entries" if path.endswith(f"/user/{ids.CLOCKIFY_USER_ID}/time-entries")
                    else "users" if path.endswith("/users") else f"{method} {path}"
                    for method, path in hooks.clockify.calls)
    windows = reads["users"]  # one listing of the users per 31-day window
    assert set(reads) == {"users", "entries"} and windows == 17
    assert reads["entries"] > windows  # windows holding over 10 entries were read page by page
    for first, last in ((date(2025, 6, 1), date(2026, 10, 31)), (date(2026, 2, 1),
                                                                 date(2026, 2, 28))):
        expected = expected_seconds(hooks, first, last)
        report = time_report.build(first, last)
        assert as_counter(report.projects) == +expected["project"]
        assert as_counter(report.clients) == +expected["client"]

    # Idempotent: a rerun adds nothing; one deleted in Clockify since is marked deleted.
    gone = hooks.clockify.time_entries()[10]["id"]
    hooks.clockify.delete_time_entry(gone)
    out = StringIO()
    call_command("backfill_time", "--since", "2025-06-01", "--until", "2026-10-31", stdout=out,
                 stderr=StringIO())
    assert "added" not in out.getvalue() and "'deleted': 1" in out.getvalue()
    assert TimeEntry.objects.count() == 300
    assert TimeEntry.objects.get(clockify_id=gone).deleted


def test_backfill_command_refuses_a_bad_date_and_reports_a_failed_read(hooks):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="not a date"):
        call_command("backfill_time", "--since", "last year")
    hooks.clockify.api_key = "another-key"  # every read is refused: 401
    with pytest.raises(CommandError, match="Reading Clockify failed"):
        call_command("backfill_time", "--since", "2026-01-01", "--until", "2026-03-01")


def test_the_dashboard_button_queues_the_backfill_and_the_worker_runs_it(
        staff_client, hooks, broker, django_capture_on_commit_callbacks):
    from tests.dashboard import work_off

    made = workspace(hooks)
    history(hooks, made, 40)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/time/backfill/", {"since": "2025-06-01", **NOVEMBER})
    assert response.status_code == 302 and response["Location"] == \
        "/time/?start=2026-11-01&end=2026-11-30"
    assert broker.queue_size() == 1
    [result] = work_off(broker)
    assert result["added"] == 40
    assert TimeEntry.objects.count() == 40
    bad = staff_client.post("/time/backfill/", {"since": "soon"}, follow=True)
    assert "Give the first day" in bad.content.decode() and broker.queue_size() == 0
    assert staff_client.get("/time/backfill/").status_code == 405
