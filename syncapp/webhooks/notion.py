"""Notion webhooks: the automation "Send webhook" action and integration (developer) webhooks.

- Button / automation (`/hooks/notion/trigger/`): unsigned by Notion, so the
  action must send a custom header `X-Webhook-Secret` with one of
  NOTION_TRIGGER_TOKENS. Body `{"source": {..., "event_id"}, "data": {page}}`.
- Integration webhooks (`/hooks/notion/events/`): a one-time, unsigned
  `{"verification_token": ...}` handshake (stored pending until staff activate
  the token: anyone can send one), then events signed with
  `X-Notion-Signature: sha256=<HMAC-SHA256(raw body, token)>`. Events are hints:
  page events queue a sync of the page, which re-reads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from urllib.parse import unquote

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from syncapp.clients.errors import ApiError
from syncapp.clients.formats import compact_id
from syncapp.engine import kinds
from syncapp.models import (
    DatabaseMapping,
    DeliveryStatus,
    EntityMapping,
    Mode,
    NotionWebhookSubscription,
    Trigger,
    WebhookDelivery,
)
from syncapp.services import connections, runs
from syncapp.webhooks.base import Outcome, Source
from syncapp.webhooks.parsing import InvalidBody
from syncapp.webhooks.verify import matches_any, notion_signature_valid

log = logging.getLogger(__name__)

PAGE_EVENTS = frozenset({"page.created", "page.properties_updated", "page.deleted",
                         "page.undeleted", "page.moved"})
CACHE_SECONDS = 3600
# Echo checks run inside the webhook request: fail fast rather than hold the sender.
QUICK = {"max_retries": 0, "timeout": 5.0}
PAGE_ID_MAX_LENGTH = 64  # a UUID with dashes is 36


def _queue(page_id: str, triggered_by: str) -> Outcome:
    # reap=False: prepare() freed a dead holder's lock before the transaction opened.
    run = runs.request_sync(trigger=Trigger.WEBHOOK, mode=Mode.INCREMENTAL, page_ids=[page_id],
                            targeted=True, triggered_by=triggered_by, reap=False)
    return Outcome(DeliveryStatus.PROCESSED, 202, f"Sync run {run.pk} queued for page {page_id}.")


# -- button / automation ------------------------------------------------------------------------
def describe_trigger(delivery: WebhookDelivery, payload: dict) -> None:
    source = payload.get("source") if isinstance(payload.get("source"), dict) else {}
    delivery.event_type = str(source.get("type") or "button")[:100]
    delivery.event_id = str(source.get("event_id") or "")[:200]


def check_page_id(value, where: str) -> None:
    """A page id the sync can use: a short string (absent is fine, the handler ignores it)."""
    if value is not None and not (isinstance(value, str) and len(value) <= PAGE_ID_MAX_LENGTH):
        raise InvalidBody(f"{where} is not a Notion page id.")


def validate_trigger(delivery: WebhookDelivery, payload: dict) -> None:
    data = payload.get("data")
    if data is not None and not isinstance(data, dict):
        raise InvalidBody("data is not an object.")
    if isinstance(data, dict):
        check_page_id(data.get("id"), "data.id")


def trigger_dedupe_key(delivery: WebhookDelivery, payload: dict) -> str | None:
    return delivery.event_id or None


def handle_trigger(delivery: WebhookDelivery, payload: dict) -> Outcome:
    page = payload.get("data")
    page_id = page.get("id") if isinstance(page, dict) and page.get("object") == "page" \
        else None
    if not isinstance(page_id, str) or not page_id:
        return Outcome(DeliveryStatus.IGNORED, 200, "No page in the body's data.")
    return _queue(page_id, "Notion button")


class TriggerSource(Source):
    """A Notion button or automation: unsigned by Notion, so it sends our secret header."""

    name = "notion_trigger"
    signature_header = "X-Webhook-Secret"

    def verify(self, headers, body: bytes) -> bool:
        return matches_any(headers.get(self.signature_header), settings.NOTION_TRIGGER_TOKENS)

    def describe(self, delivery: WebhookDelivery, payload: dict) -> None:
        describe_trigger(delivery, payload)

    def validate(self, delivery: WebhookDelivery, payload: dict) -> None:
        validate_trigger(delivery, payload)

    def dedupe_key(self, delivery: WebhookDelivery, payload: dict) -> str | None:
        return trigger_dedupe_key(delivery, payload)

    def prepare(self, delivery: WebhookDelivery, payload: dict) -> None:
        runs.reap_dead()  # it may queue a sync; failing a dead run may notify over HTTP

    def handle(self, delivery: WebhookDelivery, payload: dict, prepared: None) -> Outcome:
        return handle_trigger(delivery, payload)


TRIGGER = TriggerSource()


# -- integration webhooks -------------------------------------------------------------------------
# The handshake is unsigned: anyone can send one. Tokens are stored pending only (staff
# activate them), at most HANDSHAKES_PER_MINUTE are taken in, and PENDING_KEPT are kept.
HANDSHAKES_PER_MINUTE = 5
PENDING_KEPT = 5
TOKEN_MAX_LENGTH = 200
_HANDSHAKE_COUNT = "syncapp:notion:handshakes"


def handshake_token(payload: dict) -> str | None:
    """The token of a verification request, else None."""
    if isinstance(payload, dict) and "type" not in payload and \
            isinstance(payload.get("verification_token"), str) and payload["verification_token"]:
        return payload["verification_token"]
    return None


def signing_keys() -> list[str]:
    """NOTION_WEBHOOK_SECRET when set, else every token staff activated."""
    if settings.NOTION_WEBHOOK_SECRET:
        return list(settings.NOTION_WEBHOOK_SECRET)
    return list(NotionWebhookSubscription.objects.filter(active=True)
                .values_list("verification_token", flat=True))


def redact_events_body(payload: dict) -> str | None:
    if handshake_token(payload) is None:
        return None
    return json.dumps({"verification_token": "[redacted: see Notion webhook tokens]"})


def describe_events(delivery: WebhookDelivery, payload: dict) -> None:
    delivery.event_type = str(payload.get("type") or "")[:100]
    delivery.event_id = str(payload.get("id") or "")[:200]


def validate_events(delivery: WebhookDelivery, payload: dict) -> None:
    entity = payload.get("entity")
    if entity is not None and not isinstance(entity, dict):
        raise InvalidBody("entity is not an object.")
    if isinstance(entity, dict):
        check_page_id(entity.get("id"), "entity.id")


def events_dedupe_key(delivery: WebhookDelivery, payload: dict) -> str | None:
    return delivery.event_id or None


def handshake(delivery: WebhookDelivery, payload: dict) -> Outcome | None:
    """Store the token of an (unsigned) verification request as pending; None otherwise."""
    token = handshake_token(payload)
    if token is None:
        return None
    delivery.event_type = "verification"
    cache.add(_HANDSHAKE_COUNT, 0, timeout=60)
    try:
        count = cache.incr(_HANDSHAKE_COUNT)
    except ValueError:  # expired between add and incr
        count = 1
    if count > HANDSHAKES_PER_MINUTE:
        log.warning("Notion verification request from %s refused: over %s a minute",
                    delivery.remote_addr, HANDSHAKES_PER_MINUTE)
        return Outcome(DeliveryStatus.RATE_LIMITED, 429,
                       "Too many verification requests: try again in a minute.")
    if len(token) > TOKEN_MAX_LENGTH or not token.isprintable() or token != token.strip():
        return Outcome(DeliveryStatus.MALFORMED, 400, "The verification token is malformed.")
    return store_verification(token, delivery.remote_addr)


def store_verification(token: str, remote_addr: str | None) -> Outcome:
    """Keep the token pending (never active by itself), and only the newest PENDING_KEPT."""
    subscription, created = NotionWebhookSubscription.objects.get_or_create(
        verification_token=token, defaults={"remote_addr": remote_addr})
    if not created:
        subscription.last_seen_at = timezone.now()
        subscription.save(update_fields=["last_seen_at"])
    stale = NotionWebhookSubscription.objects.filter(active=False) \
        .order_by("-received_at", "-id").values_list("pk", flat=True)[PENDING_KEPT:]
    NotionWebhookSubscription.objects.filter(pk__in=list(stale)).delete()
    log.warning("Notion verification token received from %s: pending until staff activate it "
                "(Settings → Notion webhook tokens).", remote_addr)
    state = "active" if subscription.active else "pending"
    return Outcome(DeliveryStatus.PROCESSED, 200,
                   f"Verification token {'stored' if created else 'seen again'}, {state}: "
                   "staff activate it on the Settings page, then paste it into Notion's "
                   "Verify dialog.")


def activate(subscription: NotionWebhookSubscription, user) -> bool:
    """Staff confirmed the token: it signs events from now on. False if already active."""
    changed = NotionWebhookSubscription.objects.filter(pk=subscription.pk, active=False).update(
        active=True, activated_at=timezone.now(), activated_by=user.get_username()[:150])
    if changed:
        log.info("Notion webhook token %s activated by %s", subscription.pk, user.get_username())
    return bool(changed)


def deactivate(subscription: NotionWebhookSubscription) -> bool:
    return bool(NotionWebhookSubscription.objects.filter(pk=subscription.pk, active=True)
                .update(active=False))


def _page_of(delivery: WebhookDelivery, payload: dict) -> tuple[str, dict, Outcome | None]:
    """(page id, event data, None) for an event about a page we sync; else why it is ignored."""
    event = delivery.event_type
    entity = payload.get("entity") if isinstance(payload.get("entity"), dict) else {}
    page_id = entity.get("id")
    if event not in PAGE_EVENTS or entity.get("type") != "page" or not isinstance(page_id, str):
        return "", {}, Outcome(DeliveryStatus.IGNORED, 200,
                               f"Event {event[:60] or '?'} is not used.")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    if not _ours(page_id, data.get("parent")):
        return page_id, data, Outcome(DeliveryStatus.IGNORED, 200,
                                      "Not a page of the synced databases.")
    return page_id, data, None


def echo_of_ours(delivery: WebhookDelivery, payload: dict) -> str:
    """Before the transaction: why the event is our own echo ('' if not). It may read Notion
    (our bot id, our properties' ids), so it never runs inside the transaction."""
    _, data, ignored = _page_of(delivery, payload)
    if ignored is not None:
        return ""
    runs.reap_dead()  # a sync may be queued; failing a dead run may notify over HTTP
    return _echo_reason(payload, data)


def handle_events(delivery: WebhookDelivery, payload: dict, echo: str) -> Outcome:
    page_id, _, ignored = _page_of(delivery, payload)
    if ignored is not None:
        return ignored
    if echo:
        return Outcome(DeliveryStatus.IGNORED, 200, echo)
    return _queue(page_id, f"Notion {delivery.event_type}")


def _ours(page_id: str, parent) -> bool:
    """A mapped page, or one whose parent is one of the synced databases (or unknown)."""
    if EntityMapping.objects.filter(notion_page_id=page_id).exists():
        return True
    if not isinstance(parent, dict) or not parent:
        return True  # nothing to judge by: let the sync decide
    theirs = {compact_id(parent.get(key)) for key in ("id", "data_source_id", "database_id")}
    mine = {compact_id(database) for database in kinds.database_ids(settings).values()}
    for sources in DatabaseMapping.objects.values_list("data_source_ids", flat=True):
        mine.update(compact_id(source) for source in sources or [])
    return bool((theirs - {""}) & mine)


def _echo_reason(payload: dict, data: dict) -> str:
    """Why this event is the echo of our own write ('' when it is not)."""
    authors = [a for a in payload.get("authors") or [] if isinstance(a, dict)]
    if authors and all(a.get("type") == "bot" for a in authors):
        bot = our_bot_id()
        if bot and all(a.get("id") == bot for a in authors):
            return "Written by this integration (our own echo)."
    if payload.get("type") == "page.properties_updated":
        updated = {unquote(p) for p in data.get("updated_properties") or []
                   if isinstance(p, str)}
        if updated and updated <= own_property_ids(data.get("parent")):
            return "Only the Clockify ID / tracked-time properties changed (our own echo)."
    return ""


def _cache_key(name: str) -> str:
    # Per integration, without the token itself in the key.
    token = hashlib.sha256(settings.NOTION_TOKEN.encode()).hexdigest()[:16]
    return f"syncapp:notion:{name}:{token}"


def our_bot_id() -> str | None:
    key = _cache_key("bot-id")
    bot = cache.get(key)
    if bot is None:
        try:
            bot = connections.notion_client(**QUICK).me().get("id")
        except ApiError as exc:
            log.warning("Could not read the Notion bot id to recognise echoes: %s", exc)
            return None
        cache.set(key, bot, CACHE_SECONDS * 24)
    return bot


def own_property_ids(parent=None) -> set[str]:
    """Ids of the properties the product writes (Clockify ID, tracked hours) in the page's
    database; in all three when the parent is not one of them."""
    table = _own_property_table()
    parents = {compact_id(parent.get(key)) for key in ("id", "data_source_id", "database_id")} \
        if isinstance(parent, dict) else set()
    matched = [set(table[key]) for key in parents if key in table]
    return set().union(*(matched or map(set, table.values())))


def _own_property_table() -> dict[str, list[str]]:
    """Database and data source id (normalised) → ids of the properties we write; cached."""
    key = _cache_key("own-properties")
    table = cache.get(key)
    if table is not None:
        return table
    notion = connections.notion_client(**QUICK)
    table = {}
    for kind, database_id in kinds.database_ids(settings).items():
        names = {DatabaseMapping.for_kind(kind).properties.get("clockify_id"),
                 settings.NOTION_TRACKED_PROPERTY} - {None, ""}
        try:
            schema = notion.schema(database_id)
            sources = notion.data_source_ids(database_id)
        except ApiError as exc:
            log.warning("Could not read the %s database schema to recognise echoes: %s",
                        kind, exc)
            return {}  # not cached: try again with the next event
        ids = sorted(unquote(prop["id"]) for name, prop in schema.items()
                     if name in names and prop.get("id"))
        for owner in (database_id, *sources):
            table[compact_id(owner)] = ids
    cache.set(key, table, CACHE_SECONDS)
    return table


class EventsSource(Source):
    """Notion integration webhooks: an unsigned handshake, then events signed by HMAC."""

    name = "notion_events"
    signature_header = "X-Notion-Signature"

    def unsigned(self, delivery: WebhookDelivery, payload: dict) -> Outcome | None:
        return handshake(delivery, payload)

    def verify(self, headers, body: bytes) -> bool:
        return notion_signature_valid(body, headers.get(self.signature_header), signing_keys())

    def describe(self, delivery: WebhookDelivery, payload: dict) -> None:
        describe_events(delivery, payload)

    def validate(self, delivery: WebhookDelivery, payload: dict) -> None:
        validate_events(delivery, payload)

    def dedupe_key(self, delivery: WebhookDelivery, payload: dict) -> str | None:
        return events_dedupe_key(delivery, payload)

    def prepare(self, delivery: WebhookDelivery, payload: dict) -> str:
        return echo_of_ours(delivery, payload)

    def handle(self, delivery: WebhookDelivery, payload: dict, prepared: str) -> Outcome:
        return handle_events(delivery, payload, prepared)

    def redact_body(self, payload: dict) -> str | None:
        return redact_events_body(payload)


EVENTS = EventsSource()
