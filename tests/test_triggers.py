"""Triggers: Sync now, dry run, the poll and the schedules; one run at a time; notifications;
the health endpoint."""

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name

from __future__ import annotations

import importlib
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from syncapp import tasks
from syncapp.models import ChangeRecord, EntityMapping, Mode, RunStatus, SyncLock, SyncRun
from syncapp.sandbox import ids
from syncapp.services import notify, runs
from syncapp.services import sync as sync_service
from tests.dashboard import broker, finished_run, fresh_cache, staff, staff_client, work_off  # noqa: F401
from tests.syncing import sync

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID
schedules_migration = importlib.import_module("syncapp.migrations.0005_schedules")


def press(client, capture, name="sync-now"):
    """A button press, with the on-commit enqueue run as it is after a real request."""
    with capture(execute=True):
        return client.post(reverse(name))


# -- Sync now -----------------------------------------------------------------------------------
def test_sync_now_enqueues_exactly_one_run(staff_client, broker,
                                           django_capture_on_commit_callbacks):
    response = press(staff_client, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response["Location"] == reverse("overview")
    run = SyncRun.objects.get()
    assert run.status == RunStatus.QUEUED and run.trigger == "manual"
    assert run.triggered_by == "manager (dashboard)"
    assert broker.queue_size() == 1
    html = staff_client.get(reverse("overview")).content.decode()
    assert f"Sync queued as run #{run.pk}." in html
    assert f'data-progress-url="{reverse("run-progress", args=[run.pk])}"' in html


def test_ten_presses_while_a_run_runs_leave_one_active_run_and_one_follow_up(
        staff_client, broker, django_capture_on_commit_callbacks, monkeypatch):
    seen = {}

    def slow_sync(options, run):
        if not seen:  # while the first run runs, people keep pressing
            for _ in range(10):
                press(staff_client, django_capture_on_commit_callbacks)
            seen["running"] = SyncRun.objects.filter(status=RunStatus.RUNNING).count()
            seen["queued"] = list(SyncRun.objects.filter(status=RunStatus.QUEUED)
                                  .values_list("coalesced", flat=True))
            seen["follow_up"] = SyncRun.objects.get(status=RunStatus.QUEUED).pk
            seen["first"] = run.pk
            seen["overview"] = staff_client.get(reverse("overview")).content.decode()
        run.status, run.finished_at = RunStatus.SUCCEEDED, timezone.now()
        run.save()
        return run

    monkeypatch.setattr(runs, "run_sync", slow_sync)
    press(staff_client, django_capture_on_commit_callbacks)
    work_off(broker)
    assert seen["running"] == 1
    assert seen["queued"] == [9]  # one follow-up, the other nine presses merged into it
    assert "9 later triggers merged into this run" in seen["overview"]
    assert f"Run #{seen['first']} is running; run #{seen['follow_up']} starts as soon as it " \
           "ends." in seen["overview"]
    assert f"your request joined run #{seen['follow_up']} (9 requests merged" in seen["overview"]
    # the follow-up ran once the first ended, and nothing else
    assert list(SyncRun.objects.order_by("id").values_list("status", flat=True)) == \
        ["succeeded", "succeeded"]
    assert broker.queue_size() == 0


def test_a_press_while_one_waits_is_merged_and_says_so(staff_client, broker,
                                                       django_capture_on_commit_callbacks):
    press(staff_client, django_capture_on_commit_callbacks)
    press(staff_client, django_capture_on_commit_callbacks)
    run = SyncRun.objects.get()
    assert run.coalesced == 1 and run.last_coalesced_at is not None
    assert broker.queue_size() == 1
    html = staff_client.get(reverse("overview")).content.decode()
    assert f"your request joined run #{run.pk} (1 request merged into it)" in html
    assert "1 later trigger merged into this run" in html


def test_dry_run_button_shows_the_plan(staff_client, sandbox, broker,
                                       django_capture_on_commit_callbacks):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    response = press(staff_client, django_capture_on_commit_callbacks, "sync-dry-run")
    run = SyncRun.objects.get()
    assert run.dry_run and response["Location"] == reverse("run-detail", args=[run.pk])
    work_off(broker)
    html = staff_client.get(response["Location"]).content.decode()
    assert "Dry run #" in html and "plan only: nothing was written" in html
    assert "Acme" in html and "Planned (dry run)" in html
    assert sandbox.clockify.clients() == []


def test_progress_is_saved_while_a_kind_is_applied(sandbox, monkeypatch):
    """The live view sees records processed per kind during the run, not only at the end."""
    for i in range(5):
        sandbox.notion.create_page(C, {"Name": f"Client {i}"})
    monkeypatch.setattr(sync_service, "PROGRESS_EVERY", 0)
    snapshots = []
    original = sync_service.SyncSession.progress

    def record(self, phase):
        original(self, phase)
        stored = SyncRun.objects.get(pk=self.run.pk)
        snapshots.append((stored.phase, stored.counts.get("client", {}).get("created", 0)))

    monkeypatch.setattr(sync_service.SyncSession, "progress", record)
    sync()
    during = [n for phase, n in snapshots if phase == "Syncing clients"]
    assert during[-5:] == [1, 2, 3, 4, 5]


# -- the poll and the schedules ---------------------------------------------------------------
def test_new_notion_client_appears_in_clockify_after_one_poll(
        sandbox, broker, django_capture_on_commit_callbacks):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    with django_capture_on_commit_callbacks(execute=True):
        tasks.daily_full_sync()  # an install that has synced before
    work_off(broker)
    page = sandbox.notion.create_page(C, {"Name": "Initech"})
    with django_capture_on_commit_callbacks(execute=True):
        run_id = tasks.poll()
    assert broker.queue_size() == 1
    work_off(broker)  # what the django-q2 worker does
    run = SyncRun.objects.get(pk=run_id)
    assert run.status == RunStatus.SUCCEEDED and run.mode == Mode.INCREMENTAL
    assert run.trigger == "poll"
    mapping = EntityMapping.objects.get(notion_page_id=page)
    assert sandbox.clockify.client(mapping.clockify_id)["name"] == "Initech"
    assert sandbox.notion.values(page)["Clockify ID"] == mapping.clockify_id


def test_schedules_exist_after_migrate_and_are_created_once_by_name(settings):
    daily = Schedule.objects.get(name=schedules_migration.DAILY)
    poll = Schedule.objects.get(name=schedules_migration.POLL)
    assert daily.func == "syncapp.tasks.daily_full_sync" and daily.schedule_type == "D"
    assert poll.func == "syncapp.tasks.poll" and poll.schedule_type == "I"
    assert poll.minutes == 1 and poll.repeats == -1 and daily.repeats == -1
    local = daily.next_run.astimezone(ZoneInfo(settings.TIME_ZONE))
    assert local.strftime("%H:%M") == settings.DAILY_SYNC_TIME
    # an admin moves the daily sync; running the migration again keeps that, adds nothing
    moved = daily.next_run + timedelta(hours=2)
    Schedule.objects.filter(pk=daily.pk).update(next_run=moved)
    schedules_migration.create_schedules(django_apps)
    schedules_migration.create_schedules(django_apps)
    assert Schedule.objects.filter(name=schedules_migration.DAILY).count() == 1
    assert Schedule.objects.filter(name=schedules_migration.POLL).count() == 1
    assert Schedule.objects.get(pk=daily.pk).next_run == moved


def test_daily_sync_time_is_read_in_the_configured_time_zone(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    settings.DAILY_SYNC_TIME = "04:30"
    now = timezone.datetime(2026, 3, 1, 5, 0, tzinfo=ZoneInfo("UTC"))  # 06:00 in Berlin
    run = schedules_migration.next_daily_run(now)
    assert run.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M") == \
        "2026-03-02 04:30"
    early = timezone.datetime(2026, 3, 1, 2, 0, tzinfo=ZoneInfo("UTC"))  # 03:00 in Berlin
    assert schedules_migration.next_daily_run(early).astimezone(
        ZoneInfo("Europe/Berlin")).strftime("%d %H:%M") == "01 04:30"


def test_schedules_are_visible_and_editable_in_the_admin(admin_client):
    html = admin_client.get(reverse("admin:django_q_schedule_changelist")).content.decode()
    assert schedules_migration.DAILY in html and schedules_migration.POLL in html
    daily = Schedule.objects.get(name=schedules_migration.DAILY)
    assert admin_client.get(reverse("admin:django_q_schedule_change",
                                    args=[daily.pk])).status_code == 200


# -- one run at a time ------------------------------------------------------------------------
def test_a_worker_that_finds_the_lock_taken_leaves_the_run_for_the_holder(
        sandbox, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.request_sync(trigger="manual")
    broker.purge_queue()  # the worker took the task …
    assert runs.claim("someone-else")
    assert runs.execute_run(run.pk).startswith("busy")  # … and found a sync running
    assert SyncRun.objects.get(pk=run.pk).status == RunStatus.QUEUED
    runs.release("someone-else")
    runs.hand_over()  # what the holder does when it ends
    assert broker.queue_size() == 1
    work_off(broker)
    assert SyncRun.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED


def test_a_queued_run_stranded_by_a_dead_worker_is_queued_again(
        broker, django_capture_on_commit_callbacks):
    """Its task was consumed while the holder ran; the holder then died without handing
    over. The next trigger (the minute poll) notices and sends the run again."""
    with django_capture_on_commit_callbacks(execute=True):
        stranded = runs.request_sync(trigger="manual")
    broker.purge_queue()
    long_ago = timezone.now() - runs.dead_after() - timedelta(minutes=1)
    SyncRun.objects.filter(pk=stranded.pk).update(started_at=long_ago)
    SyncLock.objects.update_or_create(name="sync", defaults={
        "holder": "dead-worker", "heartbeat_at": long_ago})
    assert tasks.poll() == stranded.pk
    assert broker.queue_size() == 1
    assert tasks.poll() == stranded.pk  # sent again once per dead-after interval, not per poll
    assert broker.queue_size() == 1


def test_a_fresh_queued_run_is_not_sent_twice(broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        runs.request_sync(trigger="manual")
        for _ in range(5):
            tasks.poll()
    assert broker.queue_size() == 1
    assert SyncRun.objects.get().coalesced == 5


# -- failure notifications --------------------------------------------------------------------
class Hook:
    """A local chat-style incoming webhook that records what it receives."""

    def __init__(self, status: int = 200) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/secret-part"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = Hook()
    yield server
    server.close()


@pytest.fixture
def notifications(settings, hook):
    settings.NOTIFY_EMAILS = ["ops@example.com", "finance@example.com"]
    settings.NOTIFY_WEBHOOK_URL = hook.url
    settings.DASHBOARD_URL = "https://sync.example.com"
    return hook


def test_a_failed_run_sends_an_email_and_a_webhook(sandbox, notifications, broker,
                                                   django_capture_on_commit_callbacks):
    sandbox.notion.faults.schedule("503", times=1000)
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.request_sync(trigger="schedule")
    work_off(broker)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.com", "finance@example.com"]
    assert f"Sync run {run.pk} failed" in message.subject
    assert f"https://sync.example.com/runs/{run.pk}/" in message.body
    assert "503" in message.body  # the error summary, in full
    [body] = notifications.received
    assert body["run_id"] == run.pk and body["status"] == "failed"
    assert body["link"] == f"https://sync.example.com/runs/{run.pk}/"
    assert body["summary"].startswith(f"Sync run {run.pk} (schedule, full) failed.")
    assert "text" in body  # what chat incoming webhooks display
    for secret in (ids.NOTION_TOKEN, ids.CLOCKIFY_API_KEY, "secret-part"):
        assert secret not in message.body and secret not in json.dumps(body)


def test_a_failure_that_persists_is_reported_once(notifications):
    first = finished_run(status=RunStatus.FAILED, error_summary="Notion is down")
    assert notify.notify_run(first) == {"email": True, "webhook": True}
    second = finished_run(status=RunStatus.FAILED, error_summary="Notion is down")
    assert notify.notify_run(second) == {"email": False, "webhook": False}
    held = finished_run(status=RunStatus.HELD, error_summary="Too many archives")
    assert notify.notify_run(held)["email"]  # a new kind of trouble
    ok = finished_run(status=RunStatus.SUCCEEDED)
    assert not any(notify.notify_run(ok).values())
    again = finished_run(status=RunStatus.FAILED)
    assert notify.notify_run(again)["webhook"]
    assert len(mail.outbox) == 3 and len(notifications.received) == 3


def test_dry_runs_and_successes_send_nothing(notifications):
    assert not any(notify.notify_run(finished_run(status=RunStatus.FAILED,
                                                  dry_run=True)).values())
    assert not any(notify.notify_run(finished_run(status=RunStatus.PARTIAL)).values())
    assert mail.outbox == [] and notifications.received == []


def test_the_sync_command_notifies_too(sandbox, notifications):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    sandbox.notion.faults.schedule("503", times=1000)
    with pytest.raises(CommandError):
        call_command("sync")
    assert len(mail.outbox) == 1 and notifications.received[0]["trigger"] == "command"


def test_a_broken_webhook_or_mail_server_never_breaks_the_run(settings, monkeypatch):
    broken = Hook(status=500)
    try:
        settings.NOTIFY_WEBHOOK_URL = broken.url
        settings.NOTIFY_EMAILS = ["ops@example.com"]

        def refuse(*args, **kwargs):
            raise ConnectionRefusedError("no mail server")

        monkeypatch.setattr(notify, "send_mail", refuse)
        run = finished_run(status=RunStatus.FAILED)
        assert notify.notify_run(run) == {"email": False, "webhook": False}
        assert len(broken.received) == 1
    finally:
        broken.close()


def test_held_run_notification_from_the_worker(sandbox, notifications, broker, monkeypatch,
                                               django_capture_on_commit_callbacks):
    def held_sync(options, run):
        run.hold("Too many project archives at once: held for review.")
        return run

    monkeypatch.setattr(runs, "run_sync", held_sync)
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.request_sync(trigger="poll", mode=Mode.INCREMENTAL)
    work_off(broker)
    assert notifications.received[0]["status"] == "held"
    assert mail.outbox[0].subject.endswith(f"Sync run {run.pk} held for review")


# -- health -----------------------------------------------------------------------------------
def test_health_reports_the_last_completed_run(client, settings):
    settings.HEALTH_MAX_AGE_HOURS = 26
    url = reverse("health")
    finished_run(status=RunStatus.SUCCEEDED, ago=timedelta(hours=1))
    SyncRun.objects.create(trigger="poll", status=RunStatus.QUEUED)  # waiting: not counted
    response = client.get(url)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["last_run"]["status"] == "succeeded"
    assert 3500 < body["last_run"]["age_seconds"] < 3700
    assert body["sync_active"] is True
    assert set(body) == {"status", "last_run", "sync_active", "max_age_seconds", "reason",
                         "time_backfill"}
    assert body["time_backfill"] == "ok"  # no read of the time history has failed
    assert body["reason"] == ""
    assert set(body["last_run"]) == {"status", "age_seconds", "finished_at"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_health_is_503_when_the_last_run_failed_or_is_too_old(client, settings):
    settings.HEALTH_MAX_AGE_HOURS = 26
    url = reverse("health")
    finished_run(status=RunStatus.SUCCEEDED, ago=timedelta(hours=27))
    response = client.get(url)
    assert response.status_code == 503 and response.json()["status"] == "stale"
    failed = finished_run(status=RunStatus.FAILED, ago=timedelta(minutes=1))
    response = client.get(url)
    assert response.status_code == 503 and response.json()["status"] == "failing"
    ChangeRecord.objects.create(run=failed, kind="client", name="Secret Client Name",
                                action="create", outcome="failed")
    assert b"Secret Client Name" not in response.content
    finished_run(status=RunStatus.PARTIAL, ago=timedelta(seconds=10))
    assert client.get(url).status_code == 200  # some records need review: still syncing
    finished_run(status=RunStatus.HELD, ago=timedelta(seconds=5))
    assert client.get(url).status_code == 503
    finished_run(status=RunStatus.SUCCEEDED, dry_run=True, ago=timedelta(seconds=1))
    assert client.get(url).status_code == 503  # a dry run proves nothing


# -- settings ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,value", [
    ("DAILY_SYNC_TIME", "25:00"),
    ("NOTIFY_EMAILS", "ops@example.com,nobody"),
    ("EMAIL_URL", "bogus://user:hunter2@mail.example.com"),
    ("NOTIFY_WEBHOOK_URL", "hooks.example.com/T000"),
    ("HEALTH_MAX_AGE_HOURS", "a day"),
])
def test_malformed_dashboard_setting_stops_start_up_naming_it(name, value):
    from tests.test_settings_and_checks import start_django

    result = start_django(**{"SANDBOX": "true", name: value})
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in message and name in message
    assert value not in message and "hunter2" not in result.stderr
