"""Fill the dashboard's big tables fast (bulk_create), for the query-count tests and for
benchmarks/dashboard_benchmark.py: runs, change records, mappings, review items, webhook
deliveries and time entries, shaped like a busy install (mostly idle polls, one big run).

`fill(n)` makes about n change records, n webhook deliveries, n time entries and n/20 runs;
the benchmark's sizes are `Sizes.issue11()`. Times are relative to `now`, which callers pass.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from syncapp.models import (
    ChangeRecord,
    DeliveryStatus,
    EntityMapping,
    MappingState,
    Outcome,
    PendingChange,
    RunStatus,
    SyncRun,
    TimeEntry,
    WebhookDelivery,
    WebhookSource,
)

BATCH = 2000
OUTCOMES = [Outcome.APPLIED] * 18 + [Outcome.SKIPPED, Outcome.FLAGGED, Outcome.FAILED]
ACTIONS = ("update", "update", "create", "archive", "link", "write_back")
STATUSES = [RunStatus.SUCCEEDED] * 17 + [RunStatus.PARTIAL, RunStatus.PARTIAL, RunStatus.FAILED]
DELIVERY_STATUSES = [DeliveryStatus.PROCESSED] * 6 + [
    DeliveryStatus.IGNORED, DeliveryStatus.DUPLICATE, DeliveryStatus.INVALID,
    DeliveryStatus.FAILED]


@dataclass
class Sizes:
    records: int
    runs: int
    deliveries: int
    entries: int
    mappings: int
    big_run_share: float = 0.2  # of the records, on the newest non-poll run

    @classmethod
    def of(cls, n: int) -> Sizes:
        return cls(records=n, runs=max(5, n // 20), deliveries=n, entries=n,
                   mappings=max(12, n // 10))

    @classmethod
    def issue11(cls) -> Sizes:
        """Issue 11: 100k change records, 5k runs, 50k deliveries, 100k time entries (and
        dataset B's 11,200 mappings)."""
        return cls(records=100_000, runs=5_000, deliveries=50_000, entries=100_000,
                   mappings=11_200)


@dataclass
class Filled:
    big_run: SyncRun
    sizes: Sizes
    sample_notion_id: str
    sample_name: str


def _bulk(model, rows) -> list:
    return model.objects.bulk_create(rows, batch_size=BATCH)


def _runs(sizes: Sizes, now: datetime) -> list[SyncRun]:
    """Newest first, ten minutes apart; four in five are polls."""
    rows = []
    for i in range(sizes.runs):
        started = now - timedelta(minutes=10 * i + 5)
        trigger = "poll" if i % 5 else ("schedule", "manual", "webhook")[i // 5 % 3]
        status = STATUSES[i % len(STATUSES)] if trigger != "poll" else RunStatus.SUCCEEDED
        rows.append(SyncRun(
            trigger=trigger, status=status, started_at=started,
            finished_at=started + timedelta(seconds=20), dry_run=i % 97 == 13,
            counts={"client": {"unchanged": 200}, "project": {"updated": 3, "unchanged": 997},
                    "task": {"created": 2, "flagged": i % 3}},
            api_calls={"notion": {"total": 112}, "clockify": {"total": 1002}},
            error_summary="Clockify answered 500" if status == RunStatus.FAILED else ""))
    return _bulk(SyncRun, rows)


def _mappings(sizes: Sizes, now: datetime) -> list[EntityMapping]:
    clients = _bulk(EntityMapping, [
        EntityMapping(kind="client", notion_page_id=f"c{i:031x}", clockify_id=f"cl{i:022x}",
                      name=f"Client {i}", state=MappingState.LINKED, last_synced_at=now,
                      baseline={"notion": {"name": f"Client {i}"}})
        for i in range(max(2, sizes.mappings // 56))])
    projects = _bulk(EntityMapping, [
        EntityMapping(kind="project", notion_page_id=f"a{i:031x}", clockify_id=f"pr{i:022x}",
                      name=f"Project {i}", parent=clients[i % len(clients)],
                      state=MappingState.LINKED, last_synced_at=now)
        for i in range(max(4, sizes.mappings // 11))])
    tasks = _bulk(EntityMapping, [
        EntityMapping(kind="task", notion_page_id=f"b{i:031x}", clockify_id=f"ta{i:022x}",
                      name=f"Task {i}", parent=projects[i % len(projects)],
                      state=MappingState.ARCHIVED if i % 50 == 0 else MappingState.LINKED,
                      last_synced_at=now)
        for i in range(max(6, sizes.mappings - len(clients) - len(projects)))])
    return clients + projects + tasks


def _records(sizes: Sizes, runs: list[SyncRun], mappings: list[EntityMapping]) -> SyncRun:
    """A share on the newest real non-poll run (the big run), the rest spread over the
    other non-poll runs."""
    busy = [r for r in runs if r.trigger != "poll" and not r.dry_run]
    big, others = busy[0], busy[1:] or busy
    in_big = int(sizes.records * sizes.big_run_share)
    rows = []
    for i in range(sizes.records):
        run = big if i < in_big else others[i % len(others)]
        mapping = mappings[i % len(mappings)]
        outcome = OUTCOMES[i % len(OUTCOMES)]
        rows.append(ChangeRecord(
            run=run, kind=mapping.kind, mapping=mapping, name=mapping.name,
            notion_page_id=mapping.notion_page_id, clockify_id=mapping.clockify_id,
            action=ACTIONS[i % len(ACTIONS)], outcome=outcome,
            reason="conflict" if outcome == Outcome.FLAGGED else "",
            error="Clockify answered 400: name taken" if outcome == Outcome.FAILED else "",
            fields={"name": {"before": f"Old {i}", "after": mapping.name, "side": "notion"}},
            created_at=run.started_at + timedelta(seconds=i % 20)))
        if len(rows) >= BATCH:
            _bulk(ChangeRecord, rows)
            rows = []
    _bulk(ChangeRecord, rows)
    return big


def _pending(runs: list[SyncRun], mappings: list[EntityMapping], count: int) -> None:
    busy = [r for r in runs if r.trigger != "poll"][:10]
    _bulk(PendingChange, [
        PendingChange(run=busy[i % len(busy)], kind=m.kind, mapping=m, name=m.name,
                      notion_page_id=m.notion_page_id, clockify_id=m.clockify_id,
                      action="update", reason="conflict", fingerprint=f"{i:064x}",
                      diff={"name": {"baseline": "Old", "notion": m.name,
                                     "clockify": m.name + " (C)", "proposed": m.name}})
        for i, m in enumerate(mappings[:count])])


def _deliveries(sizes: Sizes, now: datetime) -> None:
    sources = list(WebhookSource.values)
    rows = []
    for i in range(sizes.deliveries):
        body = json.dumps({"id": f"te{i:022x}", "timeInterval": {"duration": "PT1H"}})
        rows.append(WebhookDelivery(
            source=sources[i % len(sources)], received_at=now - timedelta(seconds=50 * i),
            remote_addr="203.0.113.7", headers={"Content-Type": "application/json"},
            body=body, body_size=len(body), event_type="NEW_TIME_ENTRY",
            event_id=f"ev{i:022x}", verified=True,
            status=DELIVERY_STATUSES[i % len(DELIVERY_STATUSES)], response_status=200,
            attempts=1))
        if len(rows) >= BATCH:
            _bulk(WebhookDelivery, rows)
            rows = []
    _bulk(WebhookDelivery, rows)


def _entries(sizes: Sizes, now: datetime, mappings: list[EntityMapping]) -> None:
    """Spread over 90 days: about a third fall in the current month."""
    tasks = [m for m in mappings if m.kind == "task"]
    project_of = {m.pk: m for m in mappings if m.kind == "project"}
    rows = []
    step = max(1, int(90 * 86400 / max(1, sizes.entries)))
    for i in range(sizes.entries):
        task = tasks[i % len(tasks)]
        start = now - timedelta(seconds=step * i + 3600)
        running = i == 0
        rows.append(TimeEntry(
            clockify_id=f"te{i:022x}", workspace_id="w1", user_id=f"u{i % 20}",
            description=f"Work {i}", start=start,
            end=None if running else start + timedelta(minutes=45),
            duration_seconds=None if running else 2700,
            project_id=project_of[task.parent_id].clockify_id, task_id=task.clockify_id,
            billable=i % 3 != 0, running=running,
            raw={"user": {"name": f"Person {i % 20}"}}, order_key=f"{i:020d}.1.1"))
        if len(rows) >= BATCH:
            _bulk(TimeEntry, rows)
            rows = []
    _bulk(TimeEntry, rows)


def fill(sizes: Sizes | int, now: datetime) -> Filled:
    sizes = Sizes.of(sizes) if isinstance(sizes, int) else sizes
    runs = _runs(sizes, now)
    mappings = _mappings(sizes, now)
    big = _records(sizes, runs, mappings)
    _pending(runs, mappings, min(200, len(mappings)))
    _deliveries(sizes, now)
    _entries(sizes, now, mappings)
    sample = mappings[len(mappings) // 2]
    return Filled(big_run=big, sizes=sizes, sample_notion_id=sample.notion_page_id,
                  sample_name=sample.name)
