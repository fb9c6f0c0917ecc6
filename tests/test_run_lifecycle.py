"""The run lifecycle on the model (start, progress, finish, fail, hold) and `exclusive_run`,
the one way a sync or a review decision holds the sync lock."""

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name
from __future__ import annotations

from contextlib import nullcontext
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.signing import SignedPackage

from syncapp.models import Mode, RunStatus, SyncLock, SyncRun
from syncapp.services import runs
from tests.dashboard import broker  # noqa: F401

pytestmark = pytest.mark.django_db


def running(**fields) -> SyncRun:
    return SyncRun.objects.create(trigger="poll", status=RunStatus.RUNNING, **fields)


# -- the model ---------------------------------------------------------------------------------
def test_start_moves_a_queued_run_to_running_once_and_reads_what_was_merged_meanwhile():
    run = SyncRun.objects.create(trigger="poll", status=RunStatus.QUEUED, mode=Mode.INCREMENTAL)
    stale = SyncRun.objects.get(pk=run.pk)
    SyncRun.objects.filter(pk=run.pk).update(mode=Mode.FULL, coalesced=2)  # a merged trigger
    began = run.started_at + timedelta(minutes=3)

    assert stale.start(now=began)
    assert (stale.status, stale.started_at, stale.mode, stale.coalesced) == \
        (RunStatus.RUNNING, began, Mode.FULL, 2)
    assert not run.start(now=began + timedelta(seconds=1))  # the other worker loses
    assert run.status == RunStatus.QUEUED  # and is told so, not given the run
    assert SyncRun.objects.get(pk=run.pk).started_at == began


def test_record_progress_saves_the_phase_and_counts_without_touching_the_outcome():
    run = running()
    SyncRun.objects.filter(pk=run.pk).update(error_summary="kept")
    run.record_progress("Syncing tasks", {"task": {"created": 2}}, {"notion": {"total": 3}})

    saved = SyncRun.objects.get(pk=run.pk)
    assert (saved.phase, saved.counts, saved.api_calls) == \
        ("Syncing tasks", {"task": {"created": 2}}, {"notion": {"total": 3}})
    assert (saved.status, saved.finished_at, saved.error_summary) == \
        (RunStatus.RUNNING, None, "kept")


def test_a_complete_run_that_finishes_keeps_its_watermark():
    run = running()
    read_from = run.started_at - timedelta(seconds=1)
    run.watermark = read_from
    ended = run.started_at + timedelta(seconds=40)
    run.finish(RunStatus.PARTIAL, counts={"task": {"failed": 1}}, errors="one refused",
               api_calls={"clockify": {"total": 9}}, now=ended)

    saved = SyncRun.objects.get(pk=run.pk)
    assert (saved.status, saved.finished_at, saved.watermark, saved.phase) == \
        (RunStatus.PARTIAL, ended, read_from, "Finished")
    assert (saved.counts, saved.error_summary, saved.api_calls) == \
        ({"task": {"failed": 1}}, "one refused", {"clockify": {"total": 9}})


@pytest.mark.parametrize("end", ["incomplete", "fail"])
def test_an_incomplete_or_failed_run_never_moves_the_watermark(end):
    run = running()
    run.watermark = run.started_at
    if end == "incomplete":  # a read failed, yet the status says otherwise (lost access)
        run.hold("Lost access to the Notion tasks database", complete=False)
    else:
        run.fail("Reading the Notion tasks database failed: 503")

    saved = SyncRun.objects.get(pk=run.pk)
    assert saved.watermark is None and saved.finished_at is not None
    assert saved.status == (RunStatus.HELD if end == "incomplete" else RunStatus.FAILED)


def test_fail_keeps_the_reason_and_may_leave_the_phase_where_the_run_stopped():
    run = running()
    run.record_progress("Reading Clockify projects", {}, {})
    run.fail("The run stopped: KeyboardInterrupt()", phase=None)

    saved = SyncRun.objects.get(pk=run.pk)
    assert (saved.status, saved.error_summary, saved.phase) == \
        (RunStatus.FAILED, "The run stopped: KeyboardInterrupt()", "Reading Clockify projects")


def test_hold_is_a_finished_run_that_waits_for_a_person():
    run = running()
    run.hold("Too many project archives at once: held for review.", counts={"project": {}})
    saved = SyncRun.objects.get(pk=run.pk)
    assert (saved.status, saved.phase) == (RunStatus.HELD, "Finished")
    assert saved.error_summary.startswith("Too many project archives")


def test_failing_abandoned_runs_spares_runs_that_finished_meanwhile():
    abandoned, finished = running(), running()
    finished.finish(RunStatus.SUCCEEDED)
    when = finished.finished_at + timedelta(minutes=1)

    assert SyncRun.objects.all().fail_running("its process stopped", now=when) == 1
    abandoned.refresh_from_db()
    finished.refresh_from_db()
    assert (abandoned.status, abandoned.finished_at, abandoned.phase, abandoned.error_summary) \
        == (RunStatus.FAILED, when, "Stopped", "its process stopped")
    assert finished.status == RunStatus.SUCCEEDED and finished.finished_at < when


# -- exclusive_run -----------------------------------------------------------------------------
def test_exclusive_run_is_refused_while_a_live_holder_beats_and_drops_the_run_it_made():
    assert runs.claim("someone-else")
    attempt = running()
    with pytest.raises(runs.SyncBusy, match="someone-else"), \
            runs.exclusive_run("command", attempt):
        pytest.fail("the body must not run")
    assert not SyncRun.objects.filter(pk=attempt.pk).exists()
    assert SyncLock.objects.get(name="sync").holder == "someone-else"


def test_exclusive_run_holds_the_lock_for_its_run_while_the_body_runs():
    run = running()
    with runs.exclusive_run("command", run) as lease:
        lock = SyncLock.objects.get(name="sync")
        assert (lock.holder, lock.run_id) == (lease.holder, run.pk)
        assert lease.holder.startswith("command-") and lease.took_over is None
    assert SyncLock.objects.get(name="sync").holder == ""


def test_exclusive_run_takes_a_dead_holders_lock_and_says_whose_it_was():
    dead = running()
    silent_since = timezone.now() - runs.dead_after() - timedelta(seconds=5)
    assert runs.claim("worker-gone", dead, now=silent_since)
    with runs.exclusive_run("command", running()) as lease:
        assert lease.took_over is not None and lease.took_over.holder == "worker-gone"
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED and "no heartbeat" in dead.error_summary


def test_exclusive_run_on_a_crash_releases_the_lock_and_sends_the_waiting_run(broker):
    crashed = running()
    waiting = SyncRun.objects.create(trigger="poll", status=RunStatus.QUEUED)
    broker.purge_queue()
    with pytest.raises(RuntimeError, match="boom"), runs.exclusive_run("worker", crashed):
        raise RuntimeError("boom")
    assert SyncLock.objects.get(name="sync").holder == ""
    [(_, payload)] = broker.dequeue()
    assert SignedPackage.loads(payload)["args"] == (waiting.pk,)


def test_a_lease_starts_only_a_queued_run_and_names_it_on_the_lock():
    queued = SyncRun.objects.create(trigger="poll", status=RunStatus.QUEUED)
    with runs.exclusive_run("worker") as lease:
        assert lease.start(queued)
        assert SyncLock.objects.get(name="sync").run_id == queued.pk
        assert not lease.start(SyncRun.objects.get(pk=queued.pk))  # running now
    assert lease.run == queued and queued.status == RunStatus.RUNNING


@pytest.mark.parametrize("crash", [False, True])
def test_exclusive_run_tells_people_once_about_a_failed_run(settings, mailoutbox, crash):
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    run = running()
    with pytest.raises(RuntimeError) if crash else nullcontext(), \
            runs.exclusive_run("command", run):
        run.fail("Reading the Notion tasks database failed: 503")
        if crash:
            raise RuntimeError("after the failure was recorded")
    [mail] = mailoutbox
    assert f"Sync run {run.pk}" in mail.subject and "503" in mail.body


def test_exclusive_run_tells_nobody_when_asked_not_to_or_interrupted(settings, mailoutbox):
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    quiet = running()
    with runs.exclusive_run("review", quiet, notify_run=False):
        quiet.fail("refused")
    interrupted = running()
    with pytest.raises(KeyboardInterrupt), runs.exclusive_run("command", interrupted):
        interrupted.fail("The run stopped: KeyboardInterrupt()")
        raise KeyboardInterrupt
    assert mailoutbox == []
    assert SyncLock.objects.get(name="sync").holder == ""

