# ruff: noqa: F811 - pytest fixtures imported by name
"""The time report's kept monthly sums (issue 11, "pages that stay fast"): once a month is
shown, its sums are adjusted by every write of a time entry (webhooks in any order,
deletions, reconciliation, backfill) and stay equal to a direct sum over the entries, in
every time zone a month was shown in; the page's query count does not grow."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from syncapp.models import Kind, TimeEntry, TimeReportMonth, TimeReportSum
from syncapp.services import connections, time_backfill, time_report, time_sums, timeentries
from tests.dashboard import staff, staff_client  # noqa: F401
from tests.test_time_report import (
    ZONE,
    deliver,
    expected_seconds,
    hooks,  # noqa: F401
    mapped,
    workspace,
)

pytestmark = pytest.mark.django_db
OCTOBER, NOVEMBER, DECEMBER = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)
BUILD = time_sums._build  # the real one: the tests count calls through a spy
MONTHS = ((OCTOBER, date(2026, 10, 31)), (NOVEMBER, date(2026, 11, 30)),
          (DECEMBER, date(2026, 12, 31)))


def shape(report: time_report.Report) -> list:
    """Everything the page and the CSV show of a report's sums, row by row."""
    return [(row.level, row.ident, row.name, row.billable_seconds, row.non_billable_seconds)
            for row in report.rows()] + [report.more_tasks]


def direct(start: date, end: date, top: int | None, monkeypatch) -> time_report.Report:
    """The report summed from the entries, as for a period that cuts months."""
    with monkeypatch.context() as patch:
        patch.setattr(time_sums, "whole_months", lambda start, end: None)
        return time_report.build(start, end, top=top)


def assert_kept_sums_exact(monkeypatch) -> None:
    """Every month, page (top tasks) and CSV (all rows): the kept sums give the same
    report as a direct sum over the entries, and a month summed afresh the same rows."""
    zone = timezone.get_current_timezone_name()
    for start, end in MONTHS:
        for top in (3, None):
            assert shape(time_report.build(start, end, top=top)) == \
                shape(direct(start, end, top, monkeypatch)), (start, top)
        kept = sorted(TimeReportSum.objects.filter(time_zone=zone, month=start).values_list(
            "level", "project_id", "task_id", "user_id", "user_name", "seconds",
            "billable_seconds", "entries"))
        BUILD(zone, start)
        assert kept == sorted(TimeReportSum.objects.filter(time_zone=zone, month=start)
                              .values_list("level", "project_id", "task_id", "user_id",
                                           "user_name", "seconds", "billable_seconds",
                                           "entries")), start


@pytest.fixture
def builds(monkeypatch) -> list:
    """The months summed from the entries by the report (not by these tests' checks)."""
    calls: list = []
    monkeypatch.setattr(time_sums, "_build",
                        lambda zone, month: (calls.append((zone, month)), BUILD(zone, month)))
    return calls


def test_sums_follow_out_of_order_webhooks_deletions_reconciliation_and_a_backfill(
        client, hooks, monkeypatch, builds):
    rng = random.Random(11)
    made = workspace(hooks, clients=2, projects=4, tasks=2)
    api = connections.clockify_client()
    for start, end in MONTHS:  # shown before any entry arrives: the months are kept, empty
        time_report.build(start, end, top=3)
    assert builds == [(ZONE, start) for start, _ in MONTHS]

    # Webhooks, in any order: updates before creations, tombstones first or last, entries
    # moved across the month's edge (local midnight in Berlin), a timer started and stopped.
    edge = datetime(2026, 10, 31, 22, 30, tzinfo=UTC)  # 31 Oct 23:30 in Berlin
    created = []
    for n in range(120):
        project = rng.choice(made["projects"] + [None])
        task = rng.choice(made["tasks"][project]) if project and rng.random() < .8 else None
        start = edge + timedelta(hours=rng.choice([-1, 1]) * rng.randrange(0, 900) / 10)
        entry = hooks.clockify.add_time_entry(
            start=start, end=start + timedelta(minutes=rng.randrange(0, 240)),
            projectId=project, taskId=task, billable=rng.random() < .6, description=f"E{n}")
        created.append((entry["id"], api.get_time_entry(entry["id"])))
    for n, (entry_id, first) in enumerate(created):
        fate = n % 6
        if fate == 0:  # moved over the edge, another task and billability; update first
            moved = rng.choice(made["projects"])
            began = edge + timedelta(minutes=rng.choice([-20, 20]))
            hooks.clockify.update_time_entry(
                entry_id, start=began, end=began + timedelta(minutes=rng.randrange(5, 90)),
                projectId=moved, taskId=rng.choice(made["tasks"][moved]),
                billable=not first["billable"])
            deliver(client, "TIME_ENTRY_UPDATED", api.get_time_entry(entry_id))
            deliver(client, "NEW_TIME_ENTRY", first)
        elif fate == 1:  # deleted, the tombstone first
            hooks.clockify.delete_time_entry(entry_id)
            deliver(client, "TIME_ENTRY_DELETED", first)
            deliver(client, "NEW_TIME_ENTRY", first)
        elif fate == 2:  # deleted after its creation
            deliver(client, "NEW_TIME_ENTRY", first)
            hooks.clockify.delete_time_entry(entry_id)
            deliver(client, "TIME_ENTRY_DELETED", first)
        else:
            deliver(client, "NEW_TIME_ENTRY", first)
    timer = hooks.clockify.add_time_entry(start=edge + timedelta(hours=2),
                                          projectId=made["projects"][0], description="Live")
    deliver(client, "NEW_TIMER_STARTED", api.get_time_entry(timer["id"]))
    assert_kept_sums_exact(monkeypatch)
    hooks.clockify.update_time_entry(timer["id"], end=edge + timedelta(hours=3))
    deliver(client, "TIMER_STOPPED", api.get_time_entry(timer["id"]))
    assert len(builds) == 3  # adjusted in place, not summed again
    assert_kept_sums_exact(monkeypatch)
    expected = expected_seconds(hooks, NOVEMBER, date(2026, 11, 30))
    report = time_report.build(NOVEMBER, date(2026, 11, 30))
    assert report.total.seconds == sum(expected["total"].values()) > 0

    # Changes webhooks never brought: reconciliation repairs them, sums follow.
    missed = [entry_id for entry_id, _ in created[3::6]]
    hooks.clockify.delete_time_entry(missed[0])
    hooks.clockify.update_time_entry(missed[1], billable=True, projectId=made["projects"][1],
                                     taskId=made["tasks"][made["projects"][1]][0])
    hooks.clockify.update_time_entry(missed[2], start=edge + timedelta(days=31),
                                     end=edge + timedelta(days=31, hours=1))  # to December
    counts = timeentries.reconcile(60, now=datetime(2026, 12, 20, tzinfo=UTC))
    assert counts["deleted"] >= 1 and counts["repaired"] >= 2, counts
    assert len(builds) == 3
    assert_kept_sums_exact(monkeypatch)

    # A backfill of entries tracked but never delivered, October to December.
    for n in range(40):
        start = datetime(2026, 10, 2, 8, tzinfo=UTC) + timedelta(hours=n * 37)
        project = rng.choice(made["projects"])
        hooks.clockify.add_time_entry(start=start, end=start + timedelta(minutes=50),
                                      projectId=project, billable=n % 2 == 0,
                                      taskId=rng.choice(made["tasks"][project]))
    totals = time_backfill.backfill_window(OCTOBER, until=datetime(2026, 12, 31, tzinfo=UTC))
    assert totals["added"] == 40, totals
    assert len(builds) == 3
    assert_kept_sums_exact(monkeypatch)
    for start, end in MONTHS:
        expected = expected_seconds(hooks, start, end)
        assert time_report.build(start, end).total.seconds == sum(expected["total"].values())


def test_each_time_zone_keeps_its_own_months_and_both_follow_writes(settings, monkeypatch,
                                                                   builds):
    settings.TIME_ZONE = ZONE
    mapped(Kind.PROJECT, "p1", "Website")
    # 31 Oct 23:30 UTC: November in Berlin, October in UTC; 1 Nov 10:30 UTC: November in both.
    late = TimeEntry.objects.create(
        clockify_id="late", project_id="p1", user_id="u1", billable=True,
        start=datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
        end=datetime(2026, 11, 1, 0, 30, tzinfo=UTC), duration_seconds=3600,
        raw={"user": {"name": "Ada"}})
    TimeEntry.objects.create(
        clockify_id="day", project_id="p1", user_id="u2", start=datetime(2026, 11, 1, 10, 30,
                                                                         tzinfo=UTC),
        end=datetime(2026, 11, 1, 11, 0, tzinfo=UTC), duration_seconds=1800,
        raw={"user": {"name": 42}})  # not a name: the person's id is shown
    berlin = time_report.build(NOVEMBER, date(2026, 11, 30))
    assert berlin.total.seconds == 5400
    assert [(r.name, r.seconds) for r in berlin.people] == [("Ada", 3600), ("u2", 1800)]
    with timezone.override("UTC"):
        assert time_report.build(NOVEMBER, date(2026, 11, 30)).total.seconds == 1800
        assert time_report.build(OCTOBER, date(2026, 10, 31)).total.seconds == 3600
    assert set(builds) == {(ZONE, NOVEMBER), ("UTC", NOVEMBER), ("UTC", OCTOBER)}

    late.start = datetime(2026, 11, 2, 9, tzinfo=UTC)  # into November everywhere
    late.end = late.start + timedelta(hours=2)
    late.duration_seconds = 7200
    late.save()
    TimeEntry.objects.get(clockify_id="day").delete()
    for zone in (ZONE, "UTC"):
        with timezone.override(zone):
            assert_kept_sums_exact(monkeypatch)
    assert len(builds) == 3 + 3  # the months first shown by the check: Oct, Dec (Berlin), Dec
    assert time_report.build(NOVEMBER, date(2026, 11, 30)).total.seconds == 7200


def test_a_bulk_write_drops_the_kept_months_and_the_next_view_sums_again(settings,
                                                                        monkeypatch):
    settings.TIME_ZONE = ZONE
    start = datetime(2026, 11, 3, 9, tzinfo=UTC)

    def entries(prefix: str, count: int) -> list[TimeEntry]:
        return [TimeEntry(clockify_id=f"{prefix}{n}", project_id=f"p{n % 4}", task_id=f"t{n}",
                          user_id=f"u{n % 3}", start=start + timedelta(hours=n),
                          end=start + timedelta(hours=n, minutes=30), duration_seconds=1800,
                          billable=n % 2 == 0) for n in range(count)]

    TimeEntry.objects.bulk_create(entries("a", 10))
    assert time_report.build(NOVEMBER, date(2026, 11, 30)).total.seconds == 18000
    for write in (lambda: TimeEntry.objects.bulk_create(entries("b", 5)),
                  lambda: TimeEntry.objects.filter(clockify_id__startswith="a").update(
                      billable=True),
                  lambda: TimeEntry.objects.filter(clockify_id="a1").delete(),
                  lambda: TimeEntry.objects.bulk_update(
                      [TimeEntry(pk=TimeEntry.objects.get(clockify_id="a2").pk,
                                 duration_seconds=60)], ["duration_seconds"])):
        write()
        assert not TimeReportMonth.objects.exists()
        assert_kept_sums_exact(monkeypatch)
    assert time_report.build(NOVEMBER, date(2026, 11, 30)).total.seconds == 14 * 1800 - 1740
    TimeEntry.objects.update(sf_error="not summed")  # a column the sums do not use
    assert TimeReportMonth.objects.exists()


def test_the_page_reads_kept_sums_in_as_many_queries_for_ten_thousand_entries_as_for_ten(
        staff_client, settings):
    settings.TIME_ZONE = ZONE
    counts = []
    for count in (10, 10_000):
        TimeEntry.objects.all().delete()
        start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        TimeEntry.objects.bulk_create(TimeEntry(
            clockify_id=f"e{n}", user_id=f"u{n % 20}", project_id=f"p{n % 300}",
            task_id=f"t{n % 3000}", billable=n % 3 > 0, start=start + timedelta(minutes=n % 40000),
            end=start + timedelta(minutes=n % 40000 + 30), duration_seconds=1800,
            raw={"user": {"name": f"Person {n % 20}"}}) for n in range(count))
        staff_client.get("/time/", {"start": "2026-11-01", "end": "2026-11-30"})  # sums kept
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get("/time/", {"start": "2026-11-01", "end": "2026-11-30"})
        assert response.status_code == 200
        assert not any("syncapp_timeentry" in q["sql"] and "SUM(" in q["sql"]
                       for q in queries.captured_queries)  # no sum over the entries
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 12, counts
