"""Clockify webhooks: time entries stored idempotently; entity events reconciled via the sync.

User-created Clockify webhooks send the webhook's own static token in
`Clockify-Signature` (not an HMAC) and the event name in
`Clockify-Webhook-Event-Type`; the body is the entity itself, flat. Each event
type is its own webhook with its own token, so CLOCKIFY_WEBHOOK_TOKENS lists
them all (and, while rotating, old and new).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings

from syncapp.engine import kinds
from syncapp.models import DeliveryStatus, EntityMapping, Mode, Trigger, WebhookDelivery
from syncapp.services import runs, timeentries
from syncapp.webhooks.base import Outcome, Source
from syncapp.webhooks.parsing import InvalidBody
from syncapp.webhooks.store import body_hash
from syncapp.webhooks.verify import matches_any

# Project, task and client events: reconcile the mapped Notion page through the sync
# engine instead of trusting the payload.
ID_MAX_LENGTH = 64  # TimeEntry's id columns; Clockify's ids are 24 characters
ID_FIELDS = ("workspaceId", "userId", "projectId", "taskId")
MAX_DURATION_SECONDS = 2**31 - 1  # TimeEntry.duration_seconds
ENTITY_EVENTS = {
    f"{prefix}{kind.upper()}{suffix}": kind
    for kind in kinds.KIND_NAMES
    for prefix, suffix in (("NEW_", ""), ("", "_UPDATED"), ("", "_DELETED"))
}


def describe(delivery: WebhookDelivery, payload: dict) -> None:
    delivery.event_type = delivery.event_type.strip().upper()
    delivery.event_id = str(payload.get("id") or "")[:200]


def validate(delivery: WebhookDelivery, payload: dict) -> None:
    """InvalidBody for a body that could never be applied (the sender would retry it forever).

    Like django-anymail's per-ESP parsing: the types and ranges the handler relies on.
    """
    event = delivery.event_type
    if event not in timeentries.TIME_ENTRY_EVENTS and event not in ENTITY_EVENTS:
        return
    _check_id(payload.get("id"), "id", required=True)
    if event in ENTITY_EVENTS:
        return
    for name in ID_FIELDS:
        _check_id(payload.get(name), name)
    for name in ("user", "task", "project"):
        value = payload.get(name)
        if value is not None and not isinstance(value, dict):
            raise InvalidBody(f"{name} is not an object.")
        if isinstance(value, dict):
            _check_id(value.get("id"), f"{name}.id")
    for name, kind in (("description", str), ("tags", list), ("tagIds", list)):
        if payload.get(name) is not None and not isinstance(payload[name], kind):
            raise InvalidBody(f"{name} is not a{'' if kind is str else ' list'}"
                              f"{' string' if kind is str else ''}.")
    interval = payload.get("timeInterval")
    if interval is not None and not isinstance(interval, dict):
        raise InvalidBody("timeInterval is not an object.")
    interval = interval or {}
    start = _instant(interval.get("start"), "timeInterval.start", strict=True)
    end = _instant(interval.get("end"), "timeInterval.end", strict=True)
    if start and end and (end - start).total_seconds() > MAX_DURATION_SECONDS:
        raise InvalidBody("timeInterval spans more than 68 years.")
    audit = payload.get("auditMetadata")
    stamps = [(key, payload.get(key)) for key in timeentries.STAMP_KEYS]
    if isinstance(audit, dict):
        stamps.append(("auditMetadata.updatedAt", audit.get("updatedAt")))
    for where, value in stamps:
        _instant(value, where, strict=False)


def _check_id(value, where: str, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > ID_MAX_LENGTH:
        raise InvalidBody(f"{where} is not a Clockify id (a string of at most "
                          f"{ID_MAX_LENGTH} characters).")


def _instant(value, where: str, *, strict: bool) -> datetime | None:
    """The moment `value` names; InvalidBody when out of range (or, if strict, unparsable)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidBody(f"{where} is not a date-time.")
    try:
        moment = timeentries.parse_instant(value)
        if moment is not None:
            moment.astimezone(UTC).timestamp()
    except (OverflowError, ValueError, OSError):
        raise InvalidBody(f"{where} is out of range.") from None
    if moment is None and strict:
        raise InvalidBody(f"{where} is not a date-time.")
    return moment


def dedupe_key(delivery: WebhookDelivery, payload: dict) -> str:
    # No event id in Clockify deliveries: the same event type with the same body is a
    # redelivery. (A later, different body of the same entry is ordered by timeentries.)
    return f"{delivery.event_type}:{body_hash(delivery)}"


def handle(delivery: WebhookDelivery, payload: dict) -> Outcome:
    event = delivery.event_type
    workspace = payload.get("workspaceId")
    if workspace and settings.CLOCKIFY_WORKSPACE_ID and workspace != \
            settings.CLOCKIFY_WORKSPACE_ID:
        return Outcome(DeliveryStatus.IGNORED, 200, "From another Clockify workspace.")
    if event in timeentries.TIME_ENTRY_EVENTS:
        result = timeentries.apply_event(event, payload, sequence=delivery.pk,
                                         delivery=delivery)
        return Outcome(DeliveryStatus.PROCESSED, 200, f"Time entry {payload['id']}: {result}.")
    if event in ENTITY_EVENTS:
        return _reconcile(event, ENTITY_EVENTS[event], payload)
    if not event:
        return Outcome(DeliveryStatus.IGNORED, 200, "No Clockify-Webhook-Event-Type header.")
    return Outcome(DeliveryStatus.IGNORED, 200, f"Event type {event[:60]} is not used.")


def _reconcile(event: str, kind: str, payload: dict) -> Outcome:
    clockify_id = payload.get("id")
    mapping = EntityMapping.objects.filter(kind=kind, clockify_id=clockify_id).first() \
        if isinstance(clockify_id, str) and clockify_id else None
    if mapping is None:
        return Outcome(DeliveryStatus.IGNORED, 200,
                       f"No Notion page is mapped to Clockify {kind} {clockify_id}.")
    run = runs.request_sync(trigger=Trigger.WEBHOOK, mode=Mode.INCREMENTAL,
                            page_ids=[mapping.notion_page_id], targeted=True,
                            triggered_by=f"Clockify {event}", reap=False)
    return Outcome(DeliveryStatus.PROCESSED, 202,
                   f"Sync run {run.pk} queued for the {kind} page {mapping.notion_page_id}.")


class ClockifySource(Source):
    """Clockify: a static per-webhook token in its signature header, the event in another."""

    name = "clockify"
    signature_header = "Clockify-Signature"
    event_type_header = "Clockify-Webhook-Event-Type"

    def verify(self, headers, body: bytes) -> bool:
        return matches_any(headers.get(self.signature_header), settings.CLOCKIFY_WEBHOOK_TOKENS)

    def describe(self, delivery: WebhookDelivery, payload: dict) -> None:
        describe(delivery, payload)

    def validate(self, delivery: WebhookDelivery, payload: dict) -> None:
        validate(delivery, payload)

    def dedupe_key(self, delivery: WebhookDelivery, payload: dict) -> str:
        return dedupe_key(delivery, payload)

    def prepare(self, delivery: WebhookDelivery, payload: dict) -> None:
        if delivery.event_type in ENTITY_EVENTS:  # it may queue a sync: free a dead lock
            runs.reap_dead()  # (which may notify people over HTTP) before the transaction

    def handle(self, delivery: WebhookDelivery, payload: dict, prepared: None) -> Outcome:
        return handle(delivery, payload)


SOURCE = ClockifySource()
