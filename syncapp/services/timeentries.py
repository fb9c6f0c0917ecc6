"""Clockify time entries kept locally: idempotent upserts from webhooks, and reconciliation.

Webhooks arrive at least once and in any order, so every write carries an
ordering key and a write whose key is not newer than the stored one changes
nothing. The key is "<stamp>.<phase>.<sequence>":

- stamp: a change time the payload itself carries (changeDate, changedAt,
  updatedAt, auditMetadata.updatedAt), in ms; 0 where there is none (Clockify's
  time-entry bodies usually have none);
- phase: 0 a running timer, 1 a completed entry, 2 deleted. An entry only moves
  forward through these (a timer stops, an entry is deleted), so a stopped
  entry beats its timer-started event and a DELETED tombstone beats any older
  update, whatever order they arrive in;
- sequence: the delivery's id, i.e. the order received, as a last resort. A
  creation event (NEW_TIME_ENTRY, NEW_TIMER_STARTED) carries the entry's first
  version, older than any other event about it, whenever it arrives: its
  sequence is 0, so a late creation never reverts an update, a stop or a delete.

When two stampless updates of one entry meet, only the order received tells them
apart, and deliveries may be out of order: such a write queues a read-back of
the entry by its id (after the commit, outside any transaction), which stores
the version Clockify holds.

TIME_ENTRY_RESTORED is the one event that may move an entry back from deleted.
Reconciliation re-reads the last days through the per-user listing and
repairs whatever webhooks missed.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import BudgetExhausted, NotFound
from syncapp.clients.formats import utc_stamp
from syncapp.models import TimeEntry, WebhookDelivery
from syncapp.services import connections, rollup, salesforce_events

log = logging.getLogger(__name__)

RUNNING, COMPLETED, DELETED = 0, 1, 2
NEW_TIME_ENTRY = "NEW_TIME_ENTRY"
TIME_ENTRY_DELETED = "TIME_ENTRY_DELETED"
TIME_ENTRY_RESTORED = "TIME_ENTRY_RESTORED"
CREATION_EVENTS = frozenset({NEW_TIME_ENTRY, "NEW_TIMER_STARTED"})
TIME_ENTRY_EVENTS = frozenset({
    NEW_TIME_ENTRY, "NEW_TIMER_STARTED", "TIMER_STOPPED", "TIME_ENTRY_UPDATED",
    TIME_ENTRY_DELETED, TIME_ENTRY_RESTORED, "TIME_ENTRY_SPLIT",
})
UPDATE_EVENTS = TIME_ENTRY_EVENTS - CREATION_EVENTS - {TIME_ENTRY_DELETED}
READ_BACK_TASK = "syncapp.services.timeentries.read_back"
STAMP_KEYS = ("changeDate", "changedAt", "updatedAt", "lastUpdated")
RECONCILE_DAYS = 7


class MalformedPayload(Exception):
    """Well-formed JSON that lacks what the event needs: answered 400, nothing applied."""


# -- reading a payload ---------------------------------------------------------------------------
def parse_instant(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def payload_stamp(payload: dict) -> int:
    """The change time the payload carries, in ms since the epoch; 0 when it has none."""
    candidates = [payload.get(key) for key in STAMP_KEYS]
    audit = payload.get("auditMetadata")
    if isinstance(audit, dict):
        candidates.append(audit.get("updatedAt"))
    for value in candidates:
        moment = parse_instant(value)
        if moment is not None:
            return max(0, int(moment.timestamp() * 1000))
    return 0


def order_key(stamp: int, phase: int, sequence: int) -> str:
    return f"{stamp:015d}.{phase}.{sequence:012d}"


def _tags(payload: dict) -> list[dict]:
    tags = payload.get("tags")
    if isinstance(tags, list) and tags:
        return [{"id": t.get("id", ""), "name": t.get("name", "")} for t in tags
                if isinstance(t, dict)]
    return [{"id": tag_id, "name": ""} for tag_id in payload.get("tagIds") or []
            if isinstance(tag_id, str)]


def entry_values(payload: dict, *, deleted: bool = False) -> dict[str, Any]:
    """Model field values from a time-entry body (webhook or API); MalformedPayload if not one."""
    entry_id = payload.get("id")
    interval = payload.get("timeInterval")
    if not isinstance(entry_id, str) or not entry_id:
        raise MalformedPayload("The time entry has no id.")
    if not isinstance(interval, dict) or parse_instant(interval.get("start")) is None:
        if deleted:  # a tombstone needs only the id
            return {"deleted": True}
        raise MalformedPayload("The time entry has no timeInterval.start.")
    start = parse_instant(interval.get("start"))
    end = parse_instant(interval.get("end"))
    seconds = int((end - start).total_seconds()) if end else None
    return {
        "workspace_id": payload.get("workspaceId") or "",
        "user_id": payload.get("userId") or (payload.get("user") or {}).get("id") or "",
        "description": payload.get("description") or "",
        "start": start, "end": end,
        "duration_seconds": max(0, seconds) if seconds is not None else None,
        "project_id": payload.get("projectId") or "",
        "task_id": payload.get("taskId") or (payload.get("task") or {}).get("id") or "",
        "billable": bool(payload.get("billable")),
        "tags": _tags(payload),
        "running": end is None and not deleted,
        "deleted": deleted,
    }


# -- writing ---------------------------------------------------------------------------------
def _locked(clockify_id: str) -> TimeEntry | None:
    return TimeEntry.objects.select_for_update().filter(clockify_id=clockify_id).first()


def _get_or_new(clockify_id: str) -> tuple[TimeEntry, bool]:
    entry = _locked(clockify_id)
    if entry is not None:
        return entry, False
    try:
        with transaction.atomic():
            return TimeEntry.objects.create(clockify_id=clockify_id), True
    except IntegrityError:  # created by a concurrent delivery a moment ago
        return _locked(clockify_id), False


def _save(entry: TimeEntry, values: dict, *, key: str, event: str, raw: dict,
          delivery: WebhookDelivery | None) -> None:
    before = rollup.pointed_at(entry)
    for name, value in values.items():
        setattr(entry, name, value)
    entry.order_key = key
    entry.last_event = event
    if raw:
        entry.raw = raw
    entry.last_delivery = delivery
    salesforce_events.mark_pending(entry)
    entry.save()
    rollup.mark_dirty(before | rollup.pointed_at(entry))


def apply_event(event: str, payload: dict, *, sequence: int,
                delivery: WebhookDelivery | None = None) -> str:
    """Apply one webhook event; returns created, updated, deleted, restored or stale."""
    deleted = event == TIME_ENTRY_DELETED
    values = entry_values(payload, deleted=deleted)
    phase = DELETED if deleted else (RUNNING if values["running"] else COMPLETED)
    key = order_key(payload_stamp(payload), phase, 0 if event in CREATION_EVENTS else sequence)
    entry, created = _get_or_new(payload["id"])
    restoring = event == TIME_ENTRY_RESTORED and entry.deleted
    if not created and _in_doubt(event, key, entry):
        clockify_id = payload["id"]
        transaction.on_commit(lambda: _enqueue_read_back(clockify_id))
    if not created and not restoring and key <= entry.order_key:
        return "stale"
    _save(entry, values, key=key, event=event, raw=payload if "timeInterval" in payload else {},
          delivery=delivery)
    if created:
        return "created"
    return "deleted" if deleted else ("restored" if restoring else "updated")


def _in_doubt(event: str, key: str, entry: TimeEntry) -> bool:
    """Two stampless updates of a live entry: only the delivery order separates them."""
    return (event in UPDATE_EVENTS and entry.last_event in UPDATE_EVENTS and not entry.deleted
            and _stamp(key) == 0 and _stamp(entry.order_key) == 0)


def _stamp(key: str) -> int:
    return int(key.split(".", 1)[0] or 0)


def _enqueue_read_back(clockify_id: str) -> None:
    from django_q.tasks import async_task

    async_task(READ_BACK_TASK, clockify_id, group="time-entry-read-back",
               task_name=f"time-entry-read-back-{clockify_id}")


def read_back(clockify_id: str, *, client: ClockifyClient | None = None) -> str:
    """Store the version of one entry that Clockify holds (a django-q2 task).

    The read happens before any transaction; a webhook that writes the entry meanwhile
    wins (it queues its own read-back if it is in doubt too). An entry Clockify no longer
    has is left to its TIME_ENTRY_DELETED delivery and the reconciliation.
    """
    started = timezone.now()
    sequence = WebhookDelivery.objects.aggregate(last=Max("id"))["last"] or 0
    client = client or connections.clockify_client()
    try:
        item = client.get_time_entry(clockify_id, hydrated=True)
    except NotFound:
        return "missing"
    except BudgetExhausted:  # nothing read, nothing changed: the reconciliation repairs it
        return "waiting for the Clockify budget"
    return _reconcile_one(item, started, sequence)


def _snapshot_changes(entry: TimeEntry, values: dict) -> bool:
    return any(getattr(entry, name) != value for name, value in values.items())


def reconcile(days: int | None = RECONCILE_DAYS, *, client: ClockifyClient | None = None,
              now: datetime | None = None) -> Counter:
    """Repair missed webhooks: re-read the last `days` of every user's entries (`days=None`:
    the whole history, listed without a window).

    Entries missing locally are added, changed ones updated, and local entries
    of the window that Clockify no longer lists are marked deleted. An entry a
    webhook touched while this ran is left to the webhook. A failed read raises
    before anything is marked deleted.
    """
    now = now or timezone.now()
    started = timezone.now()
    window_start = now - timedelta(days=days) if days is not None else None
    sequence = WebhookDelivery.objects.aggregate(last=Max("id"))["last"] or 0
    client = client or connections.clockify_client()
    # The API applies start/end as wall-clock time in the account's time zone: read a day
    # wider on each side and decide on the exact window here.
    listed: dict[str, dict] = {}
    query = {"start": utc_stamp(window_start - timedelta(days=1)),
             "end": utc_stamp(now + timedelta(days=1))} if window_start else {}
    for user in client.users():
        for item in client.user_time_entries(user["id"], hydrated=True, **query):
            listed[item["id"]] = item
    counts: Counter = Counter()
    for item in listed.values():
        counts[_reconcile_one(item, started, sequence)] += 1
    local = TimeEntry.objects.filter(deleted=False, start__lte=now, updated_at__lt=started)
    if window_start is not None:
        local = local.filter(start__gte=window_start)
    local = local.values_list("clockify_id", flat=True)
    for clockify_id in sorted(set(local) - set(listed)):
        with transaction.atomic():
            entry = _locked(clockify_id)
            if entry is None or entry.deleted or entry.updated_at >= started:
                continue
            key = order_key(0, DELETED, sequence)
            _save(entry, {"deleted": True}, key=max(key, entry.order_key),
                  event="RECONCILED_MISSING", raw={}, delivery=None)
            counts["deleted"] += 1
    log.info("time entries reconciled (%s): %s",
             f"{days} days" if days is not None else "whole history", dict(counts))
    return counts


def _reconcile_one(item: dict, started: datetime, sequence: int) -> str:
    values = entry_values(item)
    with transaction.atomic():
        entry, created = _get_or_new(item["id"])
        if not created and entry.updated_at >= started:
            return "skipped"  # a webhook wrote it meanwhile: that is newer
        if not created and not _snapshot_changes(entry, values):
            return "unchanged"
        phase = RUNNING if values["running"] else COMPLETED
        key = order_key(payload_stamp(item), phase, sequence)
        _save(entry, values, key=key, event="RECONCILED", raw=item, delivery=None)
    return "added" if created else "repaired"
