"""A fresh install writes nothing until a person starts syncing; pausing stops it again.

The django-q2 scheduler is driven here with an injected clock (each period: every schedule
due), and its tasks run synchronously, as a worker would run them.
"""

from __future__ import annotations

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name
import importlib
from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from syncapp.models import RunStatus, SyncingState, SyncRun, Trigger
from syncapp.sandbox import ids
from syncapp.services import runs, syncing
from tests.dashboard import broker, fresh_cache, staff, staff_client, work_off  # noqa: F401
from tests.syncing import reset_calls, writes

pytestmark = [pytest.mark.django_db, pytest.mark.fresh_install]
C, P = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID
NOTHING = {"notion": 0, "clockify": 0}


def schedule_period(queue, monkeypatch, on_commit=None) -> list:
    """One period of the django-q2 scheduler: the clock is set just past the latest due
    schedule (taken from the data, never the wall clock), so every schedule fires once;
    then the queued tasks run here, and the runs they queue (sent on commit) too."""
    from django_q import scheduler as q_scheduler
    from django_q.models import Schedule

    clock = max(Schedule.objects.values_list("next_run", flat=True)) + timedelta(seconds=1)
    monkeypatch.setattr(q_scheduler, "timezone", SimpleNamespace(now=lambda: clock))
    monkeypatch.setattr(q_scheduler, "localtime", lambda value=None: clock)
    # it closes "old" connections first: here that would be the test's own transaction
    monkeypatch.setattr(q_scheduler, "close_old_django_connections", lambda: None)
    q_scheduler.scheduler(broker=queue)
    if on_commit is None:
        return work_off(queue)
    results = []
    while queue.queue_size():
        with on_commit(execute=True):
            results += work_off(queue)
    return results


def seed(box) -> None:
    client = box.notion.create_page(C, {"Name": "Acme"})
    box.notion.create_page(P, {"Name": "Website", "Client": [client], "Status": "In progress"})


def test_a_fresh_install_writes_nothing_through_two_schedule_periods(
        sandbox, broker, monkeypatch, django_capture_on_commit_callbacks):
    from django_q.models import Schedule

    seed(sandbox)
    assert not syncing.syncing_started()
    names = set(Schedule.objects.exclude(repeats=0).values_list("name", flat=True))
    assert {"Daily full sync", "Incremental poll (every minute)",
            "Write tracked hours to Notion (every minute)"} <= names  # schedules in place
    results = schedule_period(broker, monkeypatch, django_capture_on_commit_callbacks) \
        + schedule_period(broker, monkeypatch, django_capture_on_commit_callbacks)
    assert len(results) == 2 * len(names)  # every active schedule ran, twice
    assert writes(sandbox) == NOTHING
    assert sandbox.clockify.clients() == []
    assert not SyncRun.objects.exists()


def test_a_webhook_before_syncing_started_waits_and_sync_now_starts_it(
        sandbox, broker, staff_client, django_capture_on_commit_callbacks):
    seed(sandbox)
    page = sandbox.notion.pages(C)[0]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        waiting = runs.request_sync(trigger=Trigger.WEBHOOK, mode="incremental",
                                    page_ids=[page], targeted=True)
    assert work_off(broker) == ["waiting: syncing not started (or paused); the run stays queued"]
    assert SyncRun.objects.get(pk=waiting.pk).status == RunStatus.QUEUED
    assert writes(sandbox) == NOTHING
    progress = staff_client.get(reverse("run-progress", args=[waiting.pk])).json()
    assert progress["phase"] == "Waiting until syncing is started"

    with django_capture_on_commit_callbacks(execute=True):
        answer = staff_client.post(reverse("sync-now"), follow=True)
    assert "Syncing started" in answer.content.decode()
    work_off(broker)
    assert syncing.syncing_started()
    assert SyncRun.objects.get(pk=waiting.pk).status == RunStatus.SUCCEEDED  # merged, ran
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme"]


def test_a_dry_run_does_not_start_syncing_and_manage_py_sync_does(sandbox):
    seed(sandbox)
    call_command("sync", "--dry-run", stdout=StringIO(), stderr=StringIO())
    assert not syncing.syncing_started()
    assert writes(sandbox) == NOTHING
    err = StringIO()
    call_command("sync", stdout=StringIO(), stderr=err)
    assert "Syncing started" in err.getvalue()
    state = SyncingState.objects.get()
    assert state.started and state.changed_by == "manage.py sync"
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme"]


def test_paused_schedules_write_nothing_and_the_command_line_can_start_them(
        sandbox, broker, monkeypatch, django_capture_on_commit_callbacks):
    seed(sandbox)
    out = StringIO()
    call_command("syncing", "start", stdout=out)
    assert "Syncing started." in out.getvalue() and "Syncing: on" in out.getvalue()
    schedule_period(broker, monkeypatch, django_capture_on_commit_callbacks)  # the first run
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme"]

    call_command("syncing", "pause", stdout=out)
    assert "Syncing: paused (since " in out.getvalue()
    sandbox.notion.create_page(C, {"Name": "Initech"})
    reset_calls(sandbox)
    runs_before = SyncRun.objects.count()
    schedule_period(broker, monkeypatch, django_capture_on_commit_callbacks)
    assert writes(sandbox) == NOTHING
    assert SyncRun.objects.count() == runs_before
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme"]


def test_the_settings_page_shows_the_state_and_pauses_by_post(staff_client, sandbox):
    page = staff_client.get(reverse("settings-page")).content.decode()
    assert 'id="syncing-status">not started yet' in page and 'id="start-syncing"' in page
    staff_client.post(reverse("syncing-start"))
    page = staff_client.get(reverse("settings-page")).content.decode()
    assert 'id="syncing-status">on' in page and 'id="pause-syncing"' in page
    assert staff_client.get(reverse("syncing-pause")).status_code == 405
    answer = staff_client.post(reverse("syncing-pause"), follow=True).content.decode()
    assert "Syncing paused" in answer and 'id="syncing-status">paused' in answer
    assert SyncingState.objects.get().changed_by == "manager (dashboard)"
    overview = staff_client.get(reverse("overview")).content.decode()
    assert "Syncing is paused" in overview and 'id="start-syncing"' in overview


def test_an_install_that_already_synced_counts_as_started_after_the_upgrade():
    migration = importlib.import_module("syncapp.migrations.0009_run_liveness")
    SyncingState.objects.all().delete()
    migration.record_state(apps)
    assert not SyncingState.objects.get().started  # fresh: waits for a person
    SyncingState.objects.all().delete()
    SyncRun.objects.create(trigger="schedule", status=RunStatus.SUCCEEDED)
    migration.record_state(apps)
    assert SyncingState.objects.get().started
