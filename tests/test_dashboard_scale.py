"""Every dashboard page and admin changelist asks the same number of queries (at most 12)
with 10 records as with 10,000, and the pieces that keep them fast at 100,000: keyset pages,
the kept daily figures, the estimated count, the indexed search.

The tables are filled once for the module (bulk_create, tests/dashboard_scale.py) inside a
transaction that is rolled back at the end; the timings are benchmarks/dashboard_benchmark.py's.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from syncapp.models import (
    ChangeRecord,
    DailyActivity,
    EntityMapping,
    Outcome,
    RunStatus,
    SyncRun,
    TimeEntry,
    WebhookDelivery,
)
from syncapp.services import activity, config_check
from syncapp.views.keyset import cursor_for
from tests.dashboard_scale import fill

MAX_QUERIES = 12
ADMIN = "/admin/syncapp/"


def urls(filled) -> dict[str, str]:
    big = filled.big_run
    detail = reverse("run-detail", args=[big.pk])
    middle = ChangeRecord.objects.filter(run=big).order_by("id").values_list("id", flat=True)
    deep_record = middle[len(middle) // 2]
    deep_run = SyncRun.objects.order_by("-started_at", "-id")[SyncRun.objects.count() // 2]
    return {
        "overview": reverse("overview"),
        "runs": reverse("run-list"),
        "runs, failed": reverse("run-list") + "?status=failed",
        "runs, deep": reverse("run-list") + "?idle=1&after="
        + quote(cursor_for(deep_run, ("-started_at", "-id"))),
        "run detail": detail,
        "run detail, filtered": detail + "?kind=task&outcome=applied",
        "run detail, search": detail + f"?q={filled.sample_name}",
        "run detail, deep": detail + f"?after={deep_record}",
        "mappings": reverse("mapping-list"),
        "mappings, search": reverse("mapping-list") + "?kind=task&q=Task 1",
        "review console": reverse("review-list"),
        "time report": reverse("time-report"),
        "admin change records": ADMIN + "changerecord/",
        "admin change records, search": ADMIN + f"changerecord/?q={filled.sample_notion_id}",
        "admin change records, failed": ADMIN + "changerecord/?outcome__exact=failed",
        "admin runs": ADMIN + "syncrun/",
        "admin webhook deliveries": ADMIN + "webhookdelivery/",
        "admin webhook deliveries, search": ADMIN + "webhookdelivery/?q=ev1",
        "admin time entries": ADMIN + "timeentry/",
        "admin time entries, search": ADMIN + "timeentry/?q=te1",
    }


def measure(client, pages: dict[str, str]) -> dict[str, int]:
    counts = {}
    for name, url in pages.items():
        config_check.remember(config_check.CheckResult())  # no API call from the overview
        assert client.get(url).status_code == 200, name  # warm: a new day is kept once
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200, name
        counts[name] = len(captured)
    return counts


@pytest.fixture(scope="module")
def query_counts(django_db_setup, django_db_blocker):
    """Query counts per page with 10 records, then with 10,000 (and 500 runs, 10,000 webhook
    deliveries and time entries, 1,000 mappings)."""
    with django_db_blocker.unblock(), transaction.atomic():
        now = timezone.now()
        user = get_user_model().objects.create_user("scale", is_staff=True, is_superuser=True)
        client = Client()
        client.force_login(user)
        small = measure(client, urls(fill(10, now)))
        for model in (TimeEntry, WebhookDelivery, SyncRun, EntityMapping, DailyActivity):
            model.objects.all().delete()  # the same ids come again, 1,000 times as many
        large = measure(client, urls(fill(10_000, now)))
        transaction.set_rollback(True)
    return small, large


NAMES = ["overview", "runs", "runs, failed", "runs, deep", "run detail", "run detail, filtered",
         "run detail, search", "run detail, deep", "mappings", "mappings, search",
         "review console", "time report", "admin change records",
         "admin change records, search", "admin change records, failed", "admin runs",
         "admin webhook deliveries", "admin webhook deliveries, search", "admin time entries",
         "admin time entries, search"]


@pytest.mark.django_db  # also tells pytest-django to set up the database the fixture fills
@pytest.mark.parametrize("name", NAMES)
def test_query_count_is_the_same_at_10_and_10000_records(query_counts, name):
    small, large = query_counts
    assert set(small) == set(NAMES)
    assert small[name] == large[name], (name, small[name], large[name])
    assert large[name] <= MAX_QUERIES, (name, large[name])


# -- keyset pages -----------------------------------------------------------------------------
def follow(client, url: str, rel: str) -> str | None:
    html = client.get(url).content.decode()
    marker = f'" rel="{rel}"'
    if marker not in html:
        return None
    href = html[:html.index(marker)].rsplit('href="', 1)[1]
    return url.split("?")[0] + href.replace("&amp;", "&")


def names_on(client, url: str, marker: str) -> list[str]:
    html = client.get(url).content.decode()
    return [part.split("<")[0] for part in html.split(marker)[1:]]


@pytest.mark.django_db
def test_run_detail_pages_by_keyset_show_each_record_once(admin_client):
    run = SyncRun.objects.create(trigger="manual", status=RunStatus.SUCCEEDED)
    ChangeRecord.objects.bulk_create([
        ChangeRecord(run=run, kind="task", name=f"Rec {i:03d}", action="update",
                     outcome=Outcome.APPLIED) for i in range(120)])
    url = reverse("run-detail", args=[run.pk])
    seen, pages = [], []
    while url:
        names = names_on(admin_client, url, "<td><strong>")
        seen += names
        pages.append(url)
        url = follow(admin_client, url, "next")
    assert seen == [f"Rec {i:03d}" for i in range(120)]
    assert len(pages) == 3 and "120 in all" in admin_client.get(pages[-1]).content.decode()
    back = follow(admin_client, pages[-1], "prev")
    assert names_on(admin_client, back, "<td><strong>") == [f"Rec {i:03d}" for i in range(50, 100)]
    first = follow(admin_client, back, "prev")
    assert names_on(admin_client, first, "<td><strong>")[0] == "Rec 000"
    assert 'rel="prev"' not in admin_client.get(first).content.decode()
    # a cursor that does not parse shows the first page, never an error
    html = admin_client.get(reverse("run-detail", args=[run.pk]) + "?after=x_y").content.decode()
    assert "Rec 000" in html


@pytest.mark.django_db
def test_runs_list_keyset_breaks_ties_of_start_time_by_id(admin_client):
    started = timezone.now() - timedelta(days=1)
    runs = SyncRun.objects.bulk_create([
        SyncRun(trigger="manual", status=RunStatus.SUCCEEDED, started_at=started,
                finished_at=started) for _ in range(75)])  # one start time for all
    url = reverse("run-list")
    seen = []
    while url:
        html = admin_client.get(url).content.decode()
        seen += [int(n) for n in re.findall(r'">#(\d+)</a>', html)]
        url = follow(admin_client, url, "next")
    assert seen == sorted((r.pk for r in runs), reverse=True)


# -- the chart's kept days --------------------------------------------------------------------
DAY = date(2026, 3, 10)  # any fixed day: nothing here reads the clock


def at(day: date, hour: int):
    return activity._start(day) + timedelta(hours=hour)


def run_on(day: date, status=RunStatus.SUCCEEDED, records=(), dry_run=False) -> SyncRun:
    run = SyncRun.objects.create(trigger="manual", status=status, started_at=at(day, 10),
                                 finished_at=at(day, 10), dry_run=dry_run)
    ChangeRecord.objects.bulk_create([
        ChangeRecord(run=run, kind="client", action="update", outcome=outcome,
                     created_at=at(day, 11)) for outcome in records])
    return run


@pytest.mark.django_db
def test_finished_days_are_counted_once_and_kept(django_assert_max_num_queries):
    yesterday, today = DAY - timedelta(days=1), DAY
    run_on(yesterday, RunStatus.FAILED, [Outcome.APPLIED, Outcome.APPLIED, Outcome.FLAGGED])
    run_on(yesterday, dry_run=True, records=[Outcome.APPLIED])  # dry runs never count
    run_on(today, records=[Outcome.APPLIED])
    figures = activity.days(yesterday, today, today)
    assert (figures[yesterday].runs, figures[yesterday].failed_runs,
            figures[yesterday].changes, figures[yesterday].problems) == (1, 1, 2, 1)
    assert figures[today].changes == 1
    kept = DailyActivity.objects.get()  # yesterday only: today may still change
    assert kept.day == yesterday and kept.changes == 2
    # Kept days are read, not counted: a record stamped on a kept day no longer moves it.
    run_on(yesterday, records=[Outcome.APPLIED])
    with django_assert_max_num_queries(3):
        assert activity.days(yesterday, today, today)[yesterday].changes == 2


@pytest.mark.django_db
def test_a_day_with_a_held_or_running_run_is_counted_live_until_it_settles():
    day, today = DAY - timedelta(days=2), DAY
    held = run_on(day, RunStatus.HELD, [Outcome.FLAGGED])
    assert activity.days(day, day, today)[day].failed_runs == 1
    assert not DailyActivity.objects.exists()
    SyncRun.objects.filter(pk=held.pk).update(status=RunStatus.PARTIAL)  # review released it
    assert activity.days(day, day, today)[day].failed_runs == 0
    assert DailyActivity.objects.get(day=day).problems == 1


@pytest.mark.django_db
def test_backfill_keeps_every_finished_day_and_another_time_zone_counts_again(settings):
    run_on(DAY - timedelta(days=5), records=[Outcome.APPLIED])
    run_on(DAY - timedelta(days=1), records=[Outcome.FAILED])
    assert activity.backfill(today=DAY) == 5
    assert sorted(DailyActivity.objects.values_list("day", "changes")) == [
        (DAY - timedelta(days=i), 1 if i == 5 else 0) for i in range(5, 0, -1)]
    settings.TIME_ZONE = "Pacific/Auckland"
    timezone.activate("Pacific/Auckland")
    try:
        activity.days(DAY - timedelta(days=3), DAY - timedelta(days=1), DAY)
        assert DailyActivity.objects.filter(time_zone="Pacific/Auckland").count() == 3
    finally:
        timezone.deactivate()


# -- admin lists ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_admin_change_records_search_ids_exactly_and_count_once(admin_client):
    run = SyncRun.objects.create(trigger="manual", status=RunStatus.SUCCEEDED)
    ChangeRecord.objects.bulk_create([
        ChangeRecord(run=run, kind="task", name=f"Rec {i}", action="update",
                     outcome=Outcome.APPLIED, notion_page_id=f"{i:08x}-0000-4000-8000-"
                     f"{i:012x}", clockify_id=f"ck{i}") for i in range(30)])
    page = ADMIN + "changerecord/?q="
    compact = f"{7:08x}-0000-4000-8000-{7:012x}".replace("-", "")
    with CaptureQueriesContext(connection) as captured:
        html = admin_client.get(page + compact).content.decode()
    assert "Rec 7<" in html and "Rec 17<" not in html  # dashes optional
    assert sum("COUNT(" in q["sql"] for q in captured.captured_queries) == 1  # no full count
    assert "Rec 12<" in admin_client.get(page + "ck12").content.decode()
    assert "Rec 3<" in admin_client.get(page + str(run.pk)).content.decode()  # a run number
    assert "0 change records" in admin_client.get(page + "Rec").content.decode()  # ids only
    assert "A Notion page ID" in html  # the search box says what it searches


@pytest.mark.django_db
def test_admin_paginator_estimates_only_unfiltered_postgres_lists(monkeypatch):
    from syncapp.admin.large import ESTIMATE_ABOVE, EstimatedCountPaginator

    WebhookDelivery.objects.bulk_create([WebhookDelivery(source="clockify") for _ in range(3)])
    assert EstimatedCountPaginator(WebhookDelivery.objects.all(), 100).count == 3
    assert EstimatedCountPaginator(TimeEntry.objects.filter(running=True), 100).count == 0
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:  # the planner's statistics say "many rows"
        cursor.execute("ANALYZE syncapp_webhookdelivery")
    WebhookDelivery.objects.bulk_create([WebhookDelivery(source="clockify") for _ in range(3)])
    monkeypatch.setattr("syncapp.admin.large.ESTIMATE_ABOVE", 0)
    estimated = EstimatedCountPaginator(WebhookDelivery.objects.all(), 100).count
    assert estimated == 3 and ESTIMATE_ABOVE == 10_000  # the statistics' 3, not the 6 rows
    exact = EstimatedCountPaginator(WebhookDelivery.objects.filter(source="clockify"), 100)
    assert exact.count == 6


# -- the time report page ---------------------------------------------------------------------
@pytest.mark.django_db
def test_time_report_page_shows_the_top_tasks_and_says_how_many_more(admin_client,
                                                                    monkeypatch):
    from syncapp.services import time_report
    from syncapp.views import time_report as view

    start = at(DAY, 9)
    TimeEntry.objects.bulk_create([
        TimeEntry(clockify_id=f"te{i}", start=start, end=start + timedelta(hours=1),
                  duration_seconds=seconds, project_id="p1", task_id=f"t{i}", billable=i != 2)
        for i, seconds in enumerate((3600, 7200, 1800))])
    report = time_report.build(DAY, DAY, top=2)
    assert [row.key for row in report.tasks] == ["t1", "t0"] and report.more_tasks == 1
    assert report.total.seconds == 12600 and report.projects[0].seconds == 12600
    full = time_report.build(DAY, DAY)
    assert [row.key for row in full.tasks] == ["t1", "t0", "t2"] and full.more_tasks == 0
    monkeypatch.setattr(view, "SHOWN_ROWS", 2)
    html = admin_client.get(reverse("time-report"), {"start": DAY.isoformat(),
                                                     "end": DAY.isoformat()}).content.decode()
    assert "The 2 tasks with the most hours are shown; 1 more are in the CSV." in html
    csv = admin_client.get(reverse("time-report-csv"), {"start": DAY.isoformat(),
                                                        "end": DAY.isoformat()}).content
    assert b"t2" in csv


@pytest.mark.django_db
def test_admin_deep_pages_read_ids_first_and_keep_the_order(admin_client):
    now = at(DAY, 12)
    WebhookDelivery.objects.bulk_create([
        WebhookDelivery(source="clockify", received_at=now - timedelta(minutes=i),
                        event_id=f"event-{i:03d}") for i in range(120)])
    with CaptureQueriesContext(connection) as captured:
        html = admin_client.get(ADMIN + "webhookdelivery/?p=2").content.decode()
    shown = re.findall(r"event-(\d{3})", html)
    assert [int(n) for n in shown] == list(range(50, 100))  # newest first, the second 50
    selects = [q["sql"] for q in captured.captured_queries if "syncapp_webhookdelivery" in q["sql"]]
    assert len(selects) == 3 and '"id" AS "pk"' in selects[1]  # count, the ids, the rows
