"""Clockify webhooks: time entries stored idempotently; entity events reconciled via the sync.

User-created Clockify webhooks send the webhook's own static token in
`Clockify-Signature` (not an HMAC) and the event name in
`Clockify-Webhook-Event-Type`; the body is the entity itself, flat. Each event
type is its own webhook with its own token, so CLOCKIFY_WEBHOOK_TOKENS lists
them all (and, while rotating, old and new).
"""

from __future__ import annotations

from django.conf import settings

from syncapp.models import DeliveryStatus, EntityMapping, Mode, Trigger, WebhookDelivery
from syncapp.services import runs, timeentries
from syncapp.webhooks.store import Outcome, Source, body_hash
from syncapp.webhooks.verify import matches_any

# Project, task and client events: reconcile the mapped Notion page through the sync
# engine instead of trusting the payload.
ENTITY_EVENTS = {
    f"{prefix}{kind.upper()}{suffix}": kind
    for kind in ("project", "task", "client")
    for prefix, suffix in (("NEW_", ""), ("", "_UPDATED"), ("", "_DELETED"))
}


def verify(headers, body: bytes) -> bool:
    return matches_any(headers.get("Clockify-Signature"), settings.CLOCKIFY_WEBHOOK_TOKENS)


def describe(delivery: WebhookDelivery, payload: dict) -> None:
    delivery.event_type = delivery.event_type.strip().upper()
    delivery.event_id = str(payload.get("id") or "")[:200]


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
                            triggered_by=f"Clockify {event}")
    return Outcome(DeliveryStatus.PROCESSED, 202,
                   f"Sync run {run.pk} queued for the {kind} page {mapping.notion_page_id}.")


SOURCE = Source(name="clockify", verify=verify, handle=handle, describe=describe,
                dedupe_key=dedupe_key)
