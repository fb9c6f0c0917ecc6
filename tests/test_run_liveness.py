"""A sync whose process died (kill -9, a restarted container) does not block the next one.

A running sync beats every SYNC_HEARTBEAT_SECONDS; silent for SYNC_DEAD_AFTER_SECONDS it is
dead: its run is marked failed with the reason and the next trigger starts. `sync --force`
takes over at once when the holder's process is provably gone from this host, and never
takes a live run's lock.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from syncapp.models import RunStatus, SyncLock, SyncRun
from syncapp.sandbox import ids
from syncapp.services import runs
from tests.dashboard import broker, staff, staff_client  # noqa: F401
from tests.syncing import assert_mirror
from tests.test_sync_command import run_command

ROOT = Path(__file__).resolve().parent.parent
C, P = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID


def gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def hold_lock(*, holder="command-elsewhere", heartbeat_at, pid=None, host=None) -> SyncRun:
    run = SyncRun.objects.create(trigger="command", status=RunStatus.RUNNING,
                                 started_at=heartbeat_at)
    SyncLock.objects.update_or_create(name="sync", defaults={
        "holder": holder, "run": run, "heartbeat_at": heartbeat_at,
        "host": host if host is not None else socket.gethostname(), "pid": pid})
    return run


# -- in process, with an injected clock ------------------------------------------------------
@pytest.mark.django_db
def test_a_silent_holder_is_dead_after_the_threshold_and_its_run_fails_with_the_reason(
        settings, mailoutbox):
    settings.SYNC_DEAD_AFTER_SECONDS = 30
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    beat = timezone.now()
    dead = hold_lock(heartbeat_at=beat, pid=None, host="another-host")
    assert runs.reap_dead(now=beat + timedelta(seconds=29)) == ""
    assert SyncRun.objects.get(pk=dead.pk).status == RunStatus.RUNNING

    reason = runs.reap_dead(now=beat + timedelta(seconds=31))
    assert "no heartbeat for 31 s" in reason
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED and dead.finished_at is not None
    assert "The process running this sync stopped: no heartbeat for 31 s" in dead.error_summary
    assert "command-elsewhere on another-host" not in dead.error_summary  # no pid recorded
    assert f"run #{dead.pk}" in dead.error_summary
    assert SyncLock.objects.get().holder == ""
    [mail] = mailoutbox  # its process cannot tell anyone: the take-over does
    assert f"Sync run {dead.pk}" in mail.body and "no heartbeat for 31 s" in mail.body


@pytest.mark.django_db
def test_a_queued_run_stranded_behind_a_dead_holder_is_sent_again_by_the_next_trigger(
        broker, django_capture_on_commit_callbacks, settings):
    from syncapp import tasks

    settings.SYNC_DEAD_AFTER_SECONDS = 30
    dead = hold_lock(heartbeat_at=timezone.now(), host="another-host")
    with django_capture_on_commit_callbacks(execute=True):
        waiting = runs.request_sync(trigger="manual")
    broker.purge_queue()  # its task was consumed as "busy" while the holder still beat
    SyncLock.objects.update(heartbeat_at=timezone.now() - timedelta(seconds=45))  # then died
    assert tasks.poll() == waiting.pk  # the minute poll: reaps, and sends the run again
    assert SyncRun.objects.get(pk=dead.pk).status == RunStatus.FAILED
    assert broker.queue_size() == 1


@pytest.mark.django_db
def test_force_takes_over_at_once_when_the_holders_process_is_gone(sandbox):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    pid = gone_pid()
    dead = hold_lock(heartbeat_at=timezone.now(), pid=pid)  # beat a moment ago

    code, _ = run_command()
    assert code == 2  # without --force, a fresh heartbeat is respected
    err = _stderr_of("sync", "--force")
    assert err[0] == 0
    assert f"Took over the sync lock of command-elsewhere on {socket.gethostname()} pid {pid} " \
           f"(run #{dead.pk}, last heartbeat " in err[1]
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED
    assert f"process {pid} no longer exists" in dead.error_summary
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme"]


@pytest.mark.django_db
def test_force_never_takes_the_lock_of_a_live_run(sandbox):
    live = hold_lock(heartbeat_at=timezone.now(), pid=os.getppid())  # a process that exists
    code, message = _stderr_of("sync", "--force")
    assert code == 2
    assert "Refused --force: the sync lock is held by a live run" in message
    assert f"run #{live.pk}" in message
    assert SyncLock.objects.get().holder == "command-elsewhere"
    assert SyncRun.objects.get(pk=live.pk).status == RunStatus.RUNNING
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [live.pk]

    elsewhere = SyncLock.objects.filter(name="sync")
    elsewhere.update(host="another-host", pid=gone_pid())  # a pid elsewhere proves nothing
    code, message = _stderr_of("sync", "--force")
    assert code == 2 and "Refused --force" in message


@pytest.mark.django_db
def test_without_force_the_refusal_names_the_holder_and_says_what_force_does(sandbox):
    live = hold_lock(heartbeat_at=timezone.now(), pid=os.getppid())
    code, message = _stderr_of("sync")
    assert code == 2
    assert f"Another sync is running; this one was not started. Lock held by " \
           f"command-elsewhere on {socket.gethostname()} pid {os.getppid()} (run #{live.pk}" \
        in message
    assert "--force" in message


def _stderr_of(*args) -> tuple[int, str]:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, err.getvalue()
    except CommandError as exc:
        return exc.returncode, err.getvalue() + str(exc)
    return 0, err.getvalue()


# -- a real process, killed with SIGKILL mid-run -----------------------------------------------


def manage(env, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def started_sync(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "sync"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_mid_run(box, env) -> subprocess.Popen:
    """Start `manage.py sync` and SIGKILL it once it created a few clients in Clockify."""
    sync = started_sync(env)
    deadline = time.monotonic() + 60
    while len(box.clockify.clients()) < 3:
        assert sync.poll() is None, f"the sync ended before it was killed: {sync.communicate()}"
        assert time.monotonic() < deadline, "the sync never got going"
        time.sleep(0.05)
    sync.send_signal(signal.SIGKILL)
    sync.wait(timeout=10)
    assert sync.returncode == -signal.SIGKILL
    return sync


def seed(box, n: int = 12) -> None:
    for i in range(n):
        client = box.notion.create_page(C, {"Name": f"Client {i:02d}"})
        box.notion.create_page(P, {"Name": f"Project {i:02d}", "Client": [client],
                                   "Status": "In progress"})


def environment(tmp_path, root, dead_after: str) -> dict:
    env = {**os.environ, "SANDBOX": "true", "SANDBOX_URL": root, "VAR_DIR": str(tmp_path),
           # slow enough to be mid-run when killed; short liveness thresholds
           "CLOCKIFY_REQUESTS_PER_SECOND": "6", "SYNC_HEARTBEAT_SECONDS": "0.2",
           "SYNC_DEAD_AFTER_SECONDS": dead_after}
    env.pop("DATABASE_URL", None)
    return env


def runs_in(tmp_path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        return db.execute("SELECT id, status, error_summary FROM syncapp_syncrun "
                          "ORDER BY id").fetchall()


def heartbeat_age(tmp_path) -> float:
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        row = db.execute("SELECT heartbeat_at FROM syncapp_synclock").fetchone()
    beat = datetime.fromisoformat(row[0]).replace(tzinfo=UTC)  # stored in UTC
    return (datetime.now(UTC) - beat).total_seconds()


@pytest.mark.slow
def test_after_kill_9_force_takes_over_at_once_and_the_rerun_converges(served, tmp_path):
    box, root = served
    seed(box)
    env = environment(tmp_path, root, dead_after="600")  # only the vanished pid can tell
    assert manage(env, "migrate", "--no-input").returncode == 0
    killed = kill_mid_run(box, env)

    refused = manage(env, "sync")
    assert refused.returncode == 2, refused.stderr
    assert "Another sync is running" in refused.stderr
    assert f"pid {killed.pid}" in refused.stderr

    rerun = manage(env, "sync", "--force")
    assert rerun.returncode == 0, rerun.stderr
    assert "Took over the sync lock of command-" in rerun.stderr
    assert f"pid {killed.pid} (run #1, last heartbeat " in rerun.stderr
    first, second = runs_in(tmp_path)
    assert first[1] == "failed"
    assert f"process {killed.pid} no longer exists" in first[2]
    assert second[1] == "succeeded"
    assert len(box.clockify.clients()) == 12 and len(box.clockify.projects()) == 12
    assert_mirror(box)  # every page has exactly one twin: nothing was created twice


@pytest.mark.slow
def test_after_kill_9_a_plain_rerun_starts_once_the_heartbeat_is_overdue(served, tmp_path):
    box, root = served
    seed(box)
    env = environment(tmp_path, root, dead_after="1.5")
    assert manage(env, "migrate", "--no-input").returncode == 0
    kill_mid_run(box, env)

    deadline = time.monotonic() + 30
    while heartbeat_age(tmp_path) <= 1.6:  # SYNC_DEAD_AFTER_SECONDS, read from the data
        assert time.monotonic() < deadline
        time.sleep(0.1)
    rerun = manage(env, "sync")
    assert rerun.returncode == 0, rerun.stderr
    assert "Took over the sync lock of command-" in rerun.stderr
    first, second = runs_in(tmp_path)
    assert first[1] == "failed" and "no heartbeat for" in first[2]
    assert "(dead after 1.5 s)" in first[2]
    assert second[1] == "succeeded"
    assert len(box.clockify.clients()) == 12 and len(box.clockify.projects()) == 12
    assert_mirror(box)


# -- the dashboard's equivalent -----------------------------------------------------------------
@pytest.mark.django_db
def test_the_overview_offers_to_release_a_dead_holders_lock_and_releasing_fails_its_run(
        staff_client, settings):
    settings.SYNC_DEAD_AFTER_SECONDS = 30
    dead = hold_lock(heartbeat_at=timezone.now() - timedelta(seconds=40), host="another-host",
                     pid=4242)
    page = staff_client.get("/").content.decode()
    assert 'id="release-lock"' in page
    assert f"command-elsewhere on another-host pid 4242 (run #{dead.pk}" in page

    answer = staff_client.post("/sync/release-lock/", follow=True)
    assert "Released the sync lock of command-elsewhere" in answer.content.decode()
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED and "no heartbeat for" in dead.error_summary
    assert SyncLock.objects.get().holder == ""
    assert 'id="release-lock"' not in staff_client.get("/").content.decode()


@pytest.mark.django_db
def test_the_overview_never_offers_nor_takes_a_live_holders_lock(staff_client, client):
    live = hold_lock(heartbeat_at=timezone.now(), pid=os.getppid())
    assert 'id="release-lock"' not in staff_client.get("/").content.decode()
    answer = staff_client.post("/sync/release-lock/", follow=True)
    assert "held by a live run" in answer.content.decode()
    assert SyncRun.objects.get(pk=live.pk).status == RunStatus.RUNNING
    assert SyncLock.objects.get().holder == "command-elsewhere"
    assert staff_client.get("/sync/release-lock/").status_code == 405  # POST only
    client.logout()
    assert client.post("/sync/release-lock/").status_code == 302  # staff only: to the login


@pytest.mark.django_db
def test_taking_over_a_dead_lock_spares_a_run_created_after_its_last_heartbeat(settings):
    """`manage.py sync` creates its run, then claims: a reaper in between must not fail it."""
    settings.SYNC_DEAD_AFTER_SECONDS = 30
    beat = timezone.now() - timedelta(seconds=60)
    dead = hold_lock(heartbeat_at=beat, host="another-host")
    newcomer = SyncRun.objects.create(trigger="command", status=RunStatus.RUNNING,
                                      started_at=beat + timedelta(seconds=50))
    assert runs.reap_dead()
    assert SyncRun.objects.get(pk=dead.pk).status == RunStatus.FAILED
    assert SyncRun.objects.get(pk=newcomer.pk).status == RunStatus.RUNNING
