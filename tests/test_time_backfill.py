# ruff: noqa: F811 - pytest fixtures imported by name
"""The first read of Clockify's whole time history starts by itself once time reporting is on
(issue 15): queued once by the hourly reconciliation, paced, a failure visible on /health/
and the Time page, and a rerun completes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from syncapp.models import BackfillStatus, TimeBackfill, TimeEntry
from syncapp.services import time_backfill
from syncapp.tasks_webhooks import reconcile_time_entries
from tests.dashboard import broker, staff, staff_client, work_off  # noqa: F401
from tests.test_time_report import history, hooks, workspace  # noqa: F401

pytestmark = pytest.mark.django_db


def hourly(capture) -> dict:
    """The hourly schedule's task, its on-commit work (the enqueue) run as after a commit."""
    with capture(execute=True):
        return reconcile_time_entries()


def test_the_hourly_reconciliation_queues_the_whole_history_once_and_the_worker_reads_it(
        hooks, broker, django_capture_on_commit_callbacks):
    made = workspace(hooks)
    history(hooks, made, 120)  # June 2025 to late 2025: far outside the 7-day window
    first = hourly(django_capture_on_commit_callbacks)
    assert "history_backfill_queued" in first
    again = hourly(django_capture_on_commit_callbacks)  # an hour later, still queued
    assert "history_backfill_queued" not in again
    assert broker.queue_size() == 1
    [backfill] = TimeBackfill.objects.all()
    assert (backfill.automatic, backfill.since, backfill.status) == \
        (True, None, BackfillStatus.QUEUED)

    hooks.clockify.reset_calls()
    [result] = work_off(broker)
    assert result["added"] == 120
    assert TimeEntry.objects.filter(deleted=False).count() == 120
    backfill.refresh_from_db()
    assert backfill.status == BackfillStatus.SUCCEEDED and backfill.slot is None
    # The whole history in the fewest calls: the users, then one page of 5,000 per user.
    assert hooks.clockify.call_count("GET", "/users") == 1
    assert hooks.clockify.call_count("GET", "/time-entries") == 1
    # Done: later hours queue nothing more.
    assert "history_backfill_queued" not in hourly(django_capture_on_commit_callbacks)
    assert broker.queue_size() == 0 and TimeBackfill.objects.count() == 1


@pytest.mark.fresh_install
def test_nothing_is_read_before_syncing_starts(hooks, broker, django_capture_on_commit_callbacks):
    assert hourly(django_capture_on_commit_callbacks) == {
        "skipped": "syncing not started (or paused)"}
    assert not TimeBackfill.objects.exists() and broker.queue_size() == 0


def test_a_failed_backfill_shows_on_health_and_the_time_page_and_a_rerun_completes_it(
        hooks, broker, staff_client, client, django_capture_on_commit_callbacks):
    made = workspace(hooks)
    history(hooks, made, 60)
    # Clockify fails the listing after the retries: the backfill records why.
    hooks.clockify.faults.schedule("503", method="GET", path_contains="/time-entries",
                                   times=20)
    with django_capture_on_commit_callbacks(execute=True):
        time_backfill.ensure_first_backfill()
    [result] = work_off(broker)
    assert "failed" in result
    failed = TimeBackfill.objects.get()
    assert failed.status == BackfillStatus.FAILED and failed.error and failed.slot is None

    health = client.get("/health/")
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "failing" and body["time_backfill"] == "failed"
    assert body["reason"].startswith(f"Reading Clockify's time history failed (backfill "
                                     f"#{failed.pk})")
    page = staff_client.get("/time/").content.decode()
    assert 'id="backfill-problem"' in page and "time history failed" in page
    assert 'data-status="failed"' in page

    # The next hour queues it again (a rerun); it completes what the first could not read.
    hooks.clockify.faults.clear()
    hourly_result = hourly(django_capture_on_commit_callbacks)
    assert hourly_result["history_backfill_queued"] != failed.pk
    [rerun] = work_off(broker)
    assert rerun["added"] == 60
    assert TimeEntry.objects.filter(deleted=False).count() == 60
    healthy = client.get("/health/")
    assert healthy.status_code == 200 and healthy.json()["time_backfill"] == "ok"
    assert 'id="backfill-problem"' not in staff_client.get("/time/").content.decode()


def test_a_person_can_read_the_whole_history_again_and_a_double_press_queues_one(
        hooks, broker, staff_client, django_capture_on_commit_callbacks):
    made = workspace(hooks)
    history(hooks, made, 30)
    with django_capture_on_commit_callbacks(execute=True):
        first = staff_client.post("/time/backfill/", {"scope": "whole"}, follow=True)
        second = staff_client.post("/time/backfill/", {"scope": "whole"}, follow=True)
    assert "Reading Clockify&#x27;s whole history is queued" in first.content.decode()
    assert "already queued or running" in second.content.decode()
    assert broker.queue_size() == 1
    work_off(broker)
    assert TimeEntry.objects.count() == 30
    # An entry deleted in Clockify since is marked deleted by the next whole read.
    gone = TimeEntry.objects.order_by("start").first().clockify_id
    hooks.clockify.delete_time_entry(gone)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post("/time/backfill/", {"scope": "whole"})
    [result] = work_off(broker)
    assert result == {"unchanged": 29, "deleted": 1}
    assert TimeEntry.objects.get(clockify_id=gone).deleted


def test_a_backfill_whose_worker_died_is_released_and_queued_again(hooks, broker):
    stuck = time_backfill.request(None, automatic=True, queue=False)
    TimeBackfill.objects.filter(pk=stuck.pk).update(status=BackfillStatus.RUNNING)
    assert time_backfill.ensure_first_backfill() is None  # still within its time
    later = timezone.now() + time_backfill.STALE_AFTER + timedelta(minutes=1)
    again = time_backfill.ensure_first_backfill(now=later)
    assert again is not None and again.pk != stuck.pk
    stuck.refresh_from_db()
    assert stuck.status == BackfillStatus.FAILED and "stopped without finishing" in stuck.error


def test_the_command_reads_the_whole_history_and_records_it(hooks):
    from io import StringIO

    from django.core.management import call_command

    made = workspace(hooks)
    history(hooks, made, 25)
    out = StringIO()
    call_command("backfill_time", stdout=out, stderr=StringIO())
    assert "'added': 25" in out.getvalue()
    done = TimeBackfill.objects.get()
    assert done.status == BackfillStatus.SUCCEEDED and done.counts == {"added": 25}
    assert (done.automatic, done.since) == (False, None)


def test_the_admin_lists_the_backfills_read_only(admin_client):
    failed = time_backfill.request(None, automatic=True, queue=False)
    TimeBackfill.objects.filter(pk=failed.pk).update(status=BackfillStatus.FAILED,
                                                     error="Clockify answered 503", slot=None)
    page = admin_client.get("/admin/syncapp/timebackfill/")
    assert page.status_code == 200 and "Clockify answered 503" in page.content.decode()
    assert admin_client.get("/admin/syncapp/timebackfill/add/").status_code == 403
