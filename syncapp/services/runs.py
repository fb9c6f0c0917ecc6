"""One sync at a time: queue requests, coalesce triggers, claim the lock by compare-and-set.

Every trigger (button, schedule, poll, webhook, command) goes through
`request_sync`. At most one real run waits in the queue; a trigger that
arrives while one waits is merged into it (nothing lost, nothing run twice).
Workers claim the single SyncLock row with a conditional UPDATE and keep a
heartbeat, so a crashed worker's claim expires. This works the same on SQLite
(where select_for_update does nothing) and PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from syncapp.models import Mode, RunStatus, SyncLock, SyncRun
from syncapp.services import notify, syncing
from syncapp.services.sync import SyncOptions, run_sync

log = logging.getLogger(__name__)

TASK = "syncapp.tasks.execute_run"


def dead_after() -> timedelta:
    """How long a holder may stay silent before it counts as dead (several heartbeats)."""
    return timedelta(seconds=settings.SYNC_DEAD_AFTER_SECONDS)


def heartbeat_every() -> float:
    return float(settings.SYNC_HEARTBEAT_SECONDS)


# -- requesting ------------------------------------------------------------------------------
def _merged(run: SyncRun, mode: str, page_ids: list[str], targeted: bool) -> dict:
    """What `run` must cover once this request is merged into it."""
    if Mode.AUDIT in (run.mode, mode):  # an audit covers a full sync and more
        return {"mode": Mode.AUDIT, "page_ids": [], "targeted": False}
    if run.mode == Mode.FULL or mode == Mode.FULL:
        return {"mode": Mode.FULL, "page_ids": [], "targeted": False}
    pages = sorted(set(run.page_ids) | set(page_ids))
    return {"mode": Mode.INCREMENTAL, "page_ids": pages, "targeted": run.targeted and targeted}


def request_sync(*, trigger: str, mode: str = Mode.FULL, page_ids: list[str] | None = None,
                 targeted: bool = False, dry_run: bool = False, kinds: list[str] | None = None,
                 triggered_by: str = "", reap: bool = True) -> SyncRun:
    """Queue a sync, or merge into the one already waiting. Returns the queued run.

    `reap=False` from a webhook handler: it freed a dead holder's lock before its
    transaction opened (failing that run notifies people, over HTTP).
    """
    if reap:
        reap_dead()
    page_ids = list(page_ids or [])
    fields = {"trigger": trigger, "mode": mode, "page_ids": page_ids, "targeted": targeted,
              "dry_run": dry_run, "kinds": kinds or [], "triggered_by": triggered_by[:200]}
    if dry_run:  # a dry run shows a plan to whoever asked: never merged
        return _create_queued(fields)
    for _ in range(5):
        queued = SyncRun.objects.filter(status=RunStatus.QUEUED, dry_run=False,
                                        undo_of__isnull=True).first()  # never into an undo
        if queued is None:
            try:
                return _create_queued(fields)
            except IntegrityError:
                continue  # another request queued one first: merge into it
        merged = _merged(queued, mode, page_ids, targeted)
        if kinds is None or set(queued.kinds) != set(kinds):
            merged["kinds"] = [] if not queued.kinds or not kinds else \
                sorted(set(queued.kinds) | set(kinds))
        updated = SyncRun.objects.filter(pk=queued.pk, status=RunStatus.QUEUED).update(
            coalesced=F("coalesced") + 1, last_coalesced_at=timezone.now(), **merged)
        if updated:
            queued.refresh_from_db()
            _revive_if_stranded(queued)
            return queued
    raise RuntimeError("could not queue a sync: the queue kept changing")


def _revive_if_stranded(run: SyncRun) -> None:
    """Enqueue a queued run again when nothing will ever start it.

    Its task may have been consumed while another sync held the lock ("busy"), and that
    holder may have died without handing over (a worker killed at its timeout). Every
    later trigger merges into the run, so it would wait forever. When it has waited
    longer than a holder may stay silent and no live run holds the lock, send it again (at
    most once per that interval). A duplicate task is harmless: only one moves it to running.
    """
    if run.started_at >= timezone.now() - dead_after() or current_holder() is not None:
        return
    if _send_again(run.pk):
        log.warning("Run %s waited %s with no sync running: queued again.", run.pk,
                    timezone.now() - run.started_at)


def _send_again(run_id: int) -> bool:
    """Enqueue a waiting run again, at most once per dead-after interval per run."""
    if cache.add(f"syncapp:revive-run:{run_id}", 1, timeout=dead_after().total_seconds()):
        enqueue(run_id)
        return True
    return False


def _create_queued(fields: dict) -> SyncRun:
    with transaction.atomic():
        run = SyncRun.objects.create(status=RunStatus.QUEUED, **fields)
        transaction.on_commit(lambda: enqueue(run.pk))
    return run


def enqueue(run_id: int) -> None:
    from django_q.tasks import async_task

    async_task(TASK, run_id, task_name=f"sync-run-{run_id}", group="sync")


# -- the lock -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Holder:
    """Who holds (or held) the lock, as people read it in messages."""

    holder: str
    run_id: int | None
    heartbeat_at: datetime | None
    host: str
    pid: int | None

    def describe(self) -> str:
        beat = self.heartbeat_at.isoformat(timespec="seconds") if self.heartbeat_at else "never"
        where = f" on {self.host} pid {self.pid}" if self.host and self.pid else ""
        run = f"run #{self.run_id}" if self.run_id else "no run"
        return f"{self.holder}{where} ({run}, last heartbeat {beat})"


def _holder_of(lock: SyncLock) -> Holder:
    return Holder(lock.holder, lock.run_id, lock.heartbeat_at, lock.host, lock.pid)


def _process_gone(host: str, pid: int | None) -> bool:
    """True only when the holder ran on this machine and its process no longer exists."""
    if not pid or host != socket.gethostname():
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False


def why_dead(lock: SyncLock, now: datetime | None = None, *, check_process: bool = True) -> str:
    """Why the lock's holder is provably dead, or "" when it may be alive.

    Silent for SYNC_DEAD_AFTER_SECONDS is dead. With `check_process`, so is a holder on
    this host whose pid is gone; only `sync --force` (a person) relies on that, since
    two containers may share a hostname but not their process tables.
    """
    now = now or timezone.now()
    if not lock.holder:
        return ""
    if lock.heartbeat_at is None or lock.heartbeat_at < now - dead_after():
        silent = "it never beat" if lock.heartbeat_at is None else \
            f"no heartbeat for {(now - lock.heartbeat_at).total_seconds():.0f} s"
        return f"{silent} (dead after {dead_after().total_seconds():g} s)"
    if check_process and _process_gone(lock.host, lock.pid):
        return f"process {lock.pid} no longer exists on {lock.host}"
    return ""


def claim(holder: str, run: SyncRun | None = None, *, force: bool = False,
          now: datetime | None = None) -> bool:
    """Take the sync lock if it is free or its holder is dead. True if taken.

    By compare-and-set on (holder, heartbeat_at): two claimants of a dead lock cannot
    both win. Without `force` only a silent holder counts as dead; with it, also one whose
    process is gone on this machine (`sync --force` right after a kill -9).
    """
    SyncLock.objects.get_or_create(name="sync")
    now = now or timezone.now()
    mine = {"holder": holder, "heartbeat_at": now, "run": run,
            "host": socket.gethostname(), "pid": os.getpid()}
    if SyncLock.objects.filter(name="sync", holder="").update(**mine):
        _fail_abandoned_runs(except_run=run, reason="")
        return True
    lock = SyncLock.objects.get(name="sync")
    reason = why_dead(lock, now, check_process=force)
    if not reason:
        return False
    taken = SyncLock.objects.filter(name="sync", holder=lock.holder,
                                    heartbeat_at=lock.heartbeat_at).update(**mine)
    if taken:
        log.warning("Took over the sync lock from %s: %s.", _holder_of(lock).describe(), reason)
        _fail_abandoned_runs(except_run=run, reason=f"The process running this sync stopped: "
                                                    f"{reason}; its lock was held by "
                                                    f"{_holder_of(lock).describe()}.",
                             started_by=lock.heartbeat_at, dead_run_id=lock.run_id)
        dead_run = SyncRun.objects.filter(pk=lock.run_id).first()
        if dead_run is not None and dead_run.status == RunStatus.FAILED:
            notify.notify_run(dead_run)  # nobody else will: its process is gone
    return bool(taken)


def release(holder: str) -> None:
    SyncLock.objects.filter(name="sync", holder=holder).update(holder="", run=None, pid=None,
                                                              host="")


def beat(holder: str) -> bool:
    return bool(SyncLock.objects.filter(name="sync", holder=holder)
                .update(heartbeat_at=timezone.now()))


def _fail_abandoned_runs(except_run: SyncRun | None, reason: str,
                         started_by: datetime | None = None,
                         dead_run_id: int | None = None) -> None:
    """We hold the lock, so any other run still marked running lost its process.

    After a take-over, only runs started before the dead holder's last heartbeat: a
    `manage.py sync` that created its run a moment ago and is about to claim is not one.
    """
    running = SyncRun.objects.all()
    if except_run is not None:
        running = running.exclude(pk=except_run.pk)
    if started_by is not None:
        running = running.filter(Q(started_at__lte=started_by) | Q(pk=dead_run_id))
    running.fail_running(reason or "The process running this sync stopped responding.")


def lock_state(now: datetime | None = None) -> tuple[Holder | None, str]:
    """The lock's holder (None when free) and why it is dead ("" when it may be alive)."""
    lock = SyncLock.objects.filter(name="sync").first()
    if lock is None or not lock.holder:
        return None, ""
    return _holder_of(lock), why_dead(lock, now)


def current_holder() -> SyncLock | None:
    """The lock row while a live (beating) run holds it."""
    lock = SyncLock.objects.filter(name="sync").select_related("run").first()
    if lock and lock.holder and lock.heartbeat_at and \
            lock.heartbeat_at >= timezone.now() - dead_after():
        return lock
    return None


def reap_dead(now: datetime | None = None, *, check_process: bool = False) -> str:
    """Free the lock of a dead holder and fail its run; the reason, or "" if none was dead.

    Every trigger calls it, so a crashed run is marked failed (and the queue moves on)
    within SYNC_DEAD_AFTER_SECONDS plus one poll. The dashboard's "Release the lock"
    button passes `check_process` (a person asked: a vanished pid on this host counts).
    """
    reaper = f"reaper-{uuid.uuid4().hex[:12]}"
    lock = SyncLock.objects.filter(name="sync").first()
    reason = why_dead(lock, now, check_process=check_process) if lock else ""
    if not reason or not claim(reaper, now=now, force=check_process):
        return ""
    release(reaper)
    waiting = SyncRun.objects.filter(status=RunStatus.QUEUED).order_by("id").first()
    if waiting is not None:  # its task may have been consumed as "busy": it starts now
        _send_again(waiting.pk)
    return reason


@contextmanager
def heartbeat(holder: str, every: float | None = None):
    """Beat in a thread while the body runs, so the claim never looks abandoned."""
    every = every or heartbeat_every()
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(every):
                try:
                    if not beat(holder):
                        log.error("Sync lock of %s was taken over while it ran.", holder)
                except Exception:  # a database hiccup must not stop the beating
                    log.exception("Heartbeat of %s failed; trying again.", holder)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


# -- one run at a time -----------------------------------------------------------------------
class SyncBusy(Exception):
    """Another sync holds the lock and is not provably dead."""

    def __init__(self, holder: Holder | None, force: bool) -> None:
        self.holder = holder
        who = holder.describe() if holder else "another process"
        if force:
            message = (f"Refused --force: the sync lock is held by a live run, {who}. A live "
                       "run's lock is never taken; wait for it to finish.")
        else:
            message = (f"Another sync is running; this one was not started. Lock held by {who}. "
                       f"A holder silent for {dead_after().total_seconds():g} s counts as dead; "
                       "if that process was killed, `manage.py sync --force` takes over.")
        super().__init__(message)


@dataclass
class Lease:
    """The claim an `exclusive_run` body holds: its holder name, its run, whom it replaced."""

    holder: str
    run: SyncRun | None = None
    took_over: Holder | None = None  # the dead holder whose lock this claim took

    def start(self, run: SyncRun) -> bool:
        """Start a queued run under this claim; False when it is not queued any more."""
        if not run.start():
            return False
        self.run = run
        SyncLock.objects.filter(name="sync", holder=self.holder).update(run=run)
        return True


@contextmanager
def exclusive_run(role: str, run: SyncRun | None = None, *, force: bool = False,
                  notify_run: bool = True) -> Iterator[Lease]:
    """Hold the sync lock while the body runs: the one way a sync (or a review decision)
    runs, whoever started it.

    Claims by compare-and-set (SyncBusy when a live holder beats; `run`, made for this
    attempt and never started, is deleted then), beats while the body runs, and on the way
    out, even after an exception: releases, hands over to the oldest waiting run, and tells
    people once about a failed or held run (`notify_run`). An interrupt (not an Exception)
    is not announced: the person who pressed Ctrl-C knows.
    """
    holder = f"{role}-{uuid.uuid4().hex[:12]}"
    before, _ = lock_state()
    if not claim(holder, run, force=force):
        if run is not None:
            run.delete()
        raise SyncBusy(lock_state()[0] or before, force)
    lease = Lease(holder, run, took_over=before)
    announce = False
    try:
        with heartbeat(holder):
            yield lease
        announce = True
    except Exception:
        announce = True
        raise
    finally:
        release(holder)
        hand_over()
        if announce and notify_run and lease.run is not None:
            notify.notify_run(lease.run)


# -- executing ------------------------------------------------------------------------------------
def options_for(run: SyncRun) -> SyncOptions:
    return SyncOptions(trigger=run.trigger, mode=run.mode, dry_run=run.dry_run,
                       kinds=list(run.kinds), page_ids=list(run.page_ids),
                       targeted=run.targeted, triggered_by=run.triggered_by)


def execute_run(run_id: int) -> str:
    """The django-q2 task: run a queued sync if nobody else is running one."""
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is not None and not syncing.may_run(run.trigger):
        return "waiting: syncing not started (or paused); the run stays queued"
    try:
        with exclusive_run("worker") as lease:
            if run is None or not lease.start(run):
                return "not queued any more"
            if run.undo_of_id:  # an undo replays the inverse of a run, not a sync
                from syncapp.services import undo

                undo.execute(run)
            else:
                run_sync(options_for(run), run=run)
    except SyncBusy:
        return "busy: left queued for the running sync to hand over"
    return f"run {run_id}: {run.status}"


def hand_over() -> None:
    """Start the oldest waiting run, if any: the follow-up of coalesced triggers."""
    waiting = SyncRun.objects.filter(status=RunStatus.QUEUED).order_by("id").first()
    if waiting is not None:
        enqueue(waiting.pk)


def run_in_foreground(options: SyncOptions, *, force: bool = False,
                      report: Callable[[str], None] | None = None) -> SyncRun:
    """For `manage.py sync`: claim, run here, release. Raises SyncBusy when another sync
    runs; `force` also takes over a holder whose process is gone from this host.
    `report` hears whose lock was taken over, if any."""
    run = SyncRun.objects.create(trigger=options.trigger, mode=options.mode,
                                 dry_run=options.dry_run, kinds=options.kinds,
                                 triggered_by=options.triggered_by, status=RunStatus.RUNNING)
    with exclusive_run("command", run, force=force) as lease:
        before = lease.took_over
        if before is not None and report is not None:
            failed = SyncRun.objects.filter(pk=before.run_id).values_list("error_summary",
                                                                          flat=True).first()
            report(f"Took over the sync lock of {before.describe()}"
                   + (f": {failed}" if failed else "."))
        return run_sync(options, run=run)
