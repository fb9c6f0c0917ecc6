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
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from syncapp.models import Mode, RunStatus, SyncLock, SyncRun
from syncapp.services import notify
from syncapp.services.sync import SyncOptions, run_sync

log = logging.getLogger(__name__)

TASK = "syncapp.tasks.execute_run"


def lock_ttl() -> timedelta:
    return timedelta(seconds=getattr(settings, "SYNC_LOCK_TTL", 300))


# -- requesting ------------------------------------------------------------------------------
def _merged(run: SyncRun, mode: str, page_ids: list[str], targeted: bool) -> dict:
    """What `run` must cover once this request is merged into it."""
    if run.mode == Mode.FULL or mode == Mode.FULL:
        return {"mode": Mode.FULL, "page_ids": [], "targeted": False}
    pages = sorted(set(run.page_ids) | set(page_ids))
    return {"mode": Mode.INCREMENTAL, "page_ids": pages, "targeted": run.targeted and targeted}


def request_sync(*, trigger: str, mode: str = Mode.FULL, page_ids: list[str] | None = None,
                 targeted: bool = False, dry_run: bool = False, kinds: list[str] | None = None,
                 triggered_by: str = "") -> SyncRun:
    """Queue a sync, or merge into the one already waiting. Returns the queued run."""
    page_ids = list(page_ids or [])
    fields = {"trigger": trigger, "mode": mode, "page_ids": page_ids, "targeted": targeted,
              "dry_run": dry_run, "kinds": kinds or [], "triggered_by": triggered_by[:200]}
    if dry_run:  # a dry run shows a plan to whoever asked: never merged
        return _create_queued(fields)
    for _ in range(5):
        queued = SyncRun.objects.filter(status=RunStatus.QUEUED, dry_run=False).first()
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
    longer than the lock TTL and nobody holds the lock, send it again (at most once per
    TTL per process). A duplicate task is harmless: only one moves it to running.
    """
    if run.started_at >= timezone.now() - lock_ttl() or current_holder() is not None:
        return
    if cache.add(f"syncapp:revive-run:{run.pk}", 1, timeout=lock_ttl().total_seconds()):
        log.warning("Run %s waited %s with no sync running: queued again.", run.pk,
                    timezone.now() - run.started_at)
        enqueue(run.pk)


def _create_queued(fields: dict) -> SyncRun:
    with transaction.atomic():
        run = SyncRun.objects.create(status=RunStatus.QUEUED, **fields)
        transaction.on_commit(lambda: enqueue(run.pk))
    return run


def enqueue(run_id: int) -> None:
    from django_q.tasks import async_task

    async_task(TASK, run_id, task_name=f"sync-run-{run_id}", group="sync")


# -- the lock -----------------------------------------------------------------------------------
def claim(holder: str, run: SyncRun | None = None) -> bool:
    """Take the sync lock if it is free or its holder stopped beating. True if taken."""
    SyncLock.objects.get_or_create(name="sync")
    now = timezone.now()
    taken = SyncLock.objects.filter(name="sync").filter(
        Q(holder="") | Q(heartbeat_at__lt=now - lock_ttl())
    ).update(holder=holder, heartbeat_at=now, run=run)
    if taken:
        _fail_abandoned_runs(except_run=run)
    return bool(taken)


def release(holder: str) -> None:
    SyncLock.objects.filter(name="sync", holder=holder).update(holder="", run=None)


def beat(holder: str) -> bool:
    return bool(SyncLock.objects.filter(name="sync", holder=holder)
                .update(heartbeat_at=timezone.now()))


def _fail_abandoned_runs(except_run: SyncRun | None) -> None:
    """We hold the lock, so any other run still marked running lost its worker."""
    running = SyncRun.objects.filter(status=RunStatus.RUNNING)
    if except_run is not None:
        running = running.exclude(pk=except_run.pk)
    running.update(status=RunStatus.FAILED, finished_at=timezone.now(),
                   error_summary="The worker running this sync stopped responding.")


def current_holder() -> SyncLock | None:
    lock = SyncLock.objects.filter(name="sync").select_related("run").first()
    if lock and lock.holder and lock.heartbeat_at and \
            lock.heartbeat_at >= timezone.now() - lock_ttl():
        return lock
    return None


@contextmanager
def heartbeat(holder: str, every: float | None = None):
    """Beat in a thread while the body runs, so the claim never looks abandoned."""
    every = every or lock_ttl().total_seconds() / 5
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.wait(every):
                beat(holder)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


# -- executing ------------------------------------------------------------------------------------
def options_for(run: SyncRun) -> SyncOptions:
    return SyncOptions(trigger=run.trigger, mode=run.mode, dry_run=run.dry_run,
                       kinds=list(run.kinds), page_ids=list(run.page_ids),
                       targeted=run.targeted, triggered_by=run.triggered_by)


def execute_run(run_id: int) -> str:
    """The django-q2 task: run a queued sync if nobody else is running one."""
    holder = f"worker-{uuid.uuid4().hex[:12]}"
    if not claim(holder):
        return "busy: left queued for the running sync to hand over"
    try:
        started = SyncRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=timezone.now())
        if not started:
            return "not queued any more"
        run = SyncRun.objects.get(pk=run_id)
        SyncLock.objects.filter(name="sync", holder=holder).update(run=run)
        with heartbeat(holder):
            _sync(options_for(run), run)
    finally:
        release(holder)
        hand_over()
    notify.notify_run(run)
    return f"run {run_id}: {run.status}"


def _sync(options: SyncOptions, run: SyncRun) -> SyncRun:
    """run_sync; when it raises, the run is marked failed: notify, then re-raise."""
    try:
        return run_sync(options, run=run)
    except Exception:
        notify.notify_run(run)
        raise


def hand_over() -> None:
    """Start the oldest waiting run, if any: the follow-up of coalesced triggers."""
    waiting = SyncRun.objects.filter(status=RunStatus.QUEUED).order_by("id").first()
    if waiting is not None:
        enqueue(waiting.pk)


def run_in_foreground(options: SyncOptions) -> SyncRun | None:
    """For `manage.py sync`: claim, run here, release. None when another sync runs."""
    holder = f"command-{uuid.uuid4().hex[:12]}"
    run = SyncRun.objects.create(trigger=options.trigger, mode=options.mode,
                                 dry_run=options.dry_run, kinds=options.kinds,
                                 triggered_by=options.triggered_by, status=RunStatus.RUNNING)
    if not claim(holder, run):
        run.delete()
        return None
    try:
        with heartbeat(holder):
            run = _sync(options, run)
    finally:
        release(holder)
        hand_over()
    notify.notify_run(run)
    return run
