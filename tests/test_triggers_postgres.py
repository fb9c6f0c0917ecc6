"""One run at a time under real concurrency: threads with their own PostgreSQL connections.

SQLite serialises every write, so these races only exist (and are only tested) on
PostgreSQL: the CI leg runs them with DATABASE_URL pointing at it.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from syncapp.models import RunStatus, SyncRun
from syncapp.services import runs
from tests.dashboard import broker, fresh_cache, work_off  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL for real concurrent transactions (this run uses "
                    f"{connection.vendor}; CI's second leg sets DATABASE_URL)")


def at_once(count: int, work) -> list:
    """Run work(i) in `count` threads released together; each has its own connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def test_claim_is_exclusive_under_contention():
    won = at_once(8, lambda i: runs.claim(f"worker-{i}"))
    assert won.count(True) == 1


def test_simultaneous_triggers_queue_one_run_and_coalesce_the_rest(broker):
    ids = at_once(8, lambda i: runs.request_sync(trigger="poll").pk)
    assert len(set(ids)) == 1
    run = SyncRun.objects.get()
    assert run.status == RunStatus.QUEUED and run.coalesced == 7
    assert broker.queue_size() == 1


def test_two_workers_starting_at_once_one_runs_the_other_coalesces(broker,
                                                                     monkeypatch):
    """Two tasks start together: one claims the lock and runs, the other leaves its run
    queued; the first hands it over when it ends, so it runs next, never alongside."""
    active, peak = [0], [0]
    guard = threading.Lock()

    def slow_sync(options, run):
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3)
        with guard:
            active[0] -= 1
        run.status, run.finished_at = RunStatus.SUCCEEDED, timezone.now()
        run.save()
        return run

    monkeypatch.setattr(runs, "run_sync", slow_sync)
    real = runs.request_sync(trigger="schedule")
    plan = runs.request_sync(trigger="manual", dry_run=True)
    broker.purge_queue()  # both tasks were handed to two workers
    results = at_once(2, lambda i: runs.execute_run((real.pk, plan.pk)[i]))
    assert sorted(result.split()[0].rstrip(":") for result in results) == ["busy", "run"]
    waiting = SyncRun.objects.get(status=RunStatus.QUEUED)
    assert broker.queue_size() == 1  # handed over by the run that finished
    work_off(broker)
    assert SyncRun.objects.get(pk=waiting.pk).status == RunStatus.SUCCEEDED
    assert peak[0] == 1  # never two syncs at the same time


def test_ten_triggers_during_a_run_leave_one_follow_up(broker, monkeypatch):
    started, release = threading.Event(), threading.Event()

    def blocking_sync(options, run):
        started.set()
        release.wait(timeout=10)
        run.status, run.finished_at = RunStatus.SUCCEEDED, timezone.now()
        run.save()
        return run

    monkeypatch.setattr(runs, "run_sync", blocking_sync)
    first = runs.request_sync(trigger="manual")
    broker.purge_queue()
    worker = threading.Thread(target=lambda: (runs.execute_run(first.pk),
                                              connections.close_all()))
    worker.start()
    assert started.wait(timeout=10)
    at_once(10, lambda i: runs.request_sync(trigger="manual"))
    assert SyncRun.objects.filter(status=RunStatus.RUNNING).count() == 1
    follow_up = SyncRun.objects.get(status=RunStatus.QUEUED)
    assert follow_up.coalesced == 9
    release.set()
    worker.join(timeout=10)
    work_off(broker)
    assert SyncRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2
