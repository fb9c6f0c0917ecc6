"""Helpers for the dashboard and trigger tests: users, the task broker, a worker, data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from django.utils.module_loading import import_string

from syncapp.models import (
    ChangeRecord,
    EntityMapping,
    MappingState,
    Outcome,
    RunStatus,
    SyncRun,
)

STAFF_PASSWORD = "a-long-test-password-for-staff"


@pytest.fixture
def staff(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast
    return django_user_model.objects.create_user("manager", password=STAFF_PASSWORD,
                                                 is_staff=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def broker(db):
    """The django-q2 broker (ORM, or Redis in the CI leg), empty before and after."""
    from django_q.brokers import get_broker

    queue = get_broker()
    queue.purge_queue()
    yield queue
    queue.purge_queue()


@pytest.fixture(autouse=True)
def fresh_cache():
    """The configuration check result is cached; no test sees another's."""
    cache.clear()
    yield
    cache.clear()


def work_off(queue, limit: int = 50) -> list:
    """Run the queued tasks here, the way a django-q2 worker does: pull, execute, ack."""
    from django_q.signing import SignedPackage

    results = []
    for _ in range(limit):
        if not queue.queue_size():
            break
        for ack_id, payload in queue.dequeue() or []:
            task = SignedPackage.loads(payload)
            func = task["func"]
            func = import_string(func) if isinstance(func, str) else func
            results.append(func(*task.get("args", ()), **task.get("kwargs", {})))
            queue.acknowledge(ack_id)
    return results


def finished_run(*, status=RunStatus.SUCCEEDED, trigger="manual", ago=timedelta(minutes=5),
                 **fields) -> SyncRun:
    finished = timezone.now() - ago
    return SyncRun.objects.create(
        trigger=trigger, status=status, started_at=finished - timedelta(seconds=12),
        finished_at=finished, **fields)


def populate(n: int) -> SyncRun:
    """n runs, n change records (on the last run) and n mappings, some with parents."""
    now = timezone.now()
    SyncRun.objects.bulk_create([
        SyncRun(trigger="schedule" if i % 3 else "poll", status=RunStatus.SUCCEEDED
                if i % 4 else RunStatus.PARTIAL, started_at=now - timedelta(hours=i + 1),
                finished_at=now - timedelta(hours=i + 1) + timedelta(seconds=20),
                counts={"client": {"created": 1, "unchanged": i}},
                api_calls={"notion": {"total": 3}, "clockify": {"total": 2}})
        for i in range(n)])
    run = finished_run(counts={"client": {"created": n}}, coalesced=2)
    clients = EntityMapping.objects.bulk_create([
        EntityMapping(kind="client", notion_page_id=f"c{i:05d}", clockify_id=f"cc{i}",
                      name=f"Client {i}", state=MappingState.LINKED, last_synced_at=now)
        for i in range(max(1, n // 2))])
    EntityMapping.objects.bulk_create([
        EntityMapping(kind="project", notion_page_id=f"p{i:05d}", clockify_id=f"pp{i}",
                      name=f"Project {i}", parent=clients[i % len(clients)],
                      state=MappingState.LINKED)
        for i in range(n - len(clients))])
    mappings = list(EntityMapping.objects.filter(kind="project")[:n])
    ChangeRecord.objects.bulk_create([
        ChangeRecord(run=run, kind="project", name=f"Project {i}", action="update",
                     outcome=Outcome.FLAGGED if i % 10 == 0 else Outcome.APPLIED,
                     notion_page_id=f"p{i:05d}", clockify_id=f"pp{i}",
                     mapping=mappings[i % len(mappings)] if mappings else None,
                     fields={"name": {"before": "Old", "after": f"Project {i}",
                                      "side": "clockify"}})
        for i in range(n)])
    return run
