"""Store first, then verify, then process (the dj-stripe / django-anymail pattern).

`receive` parses the body with guards first (parsing.py: depth, numbers, strings),
then saves every delivery (source, time, remote address, headers with secrets
removed, raw body made storable) before it acts on it, so a refused, invalid or
failing delivery is always there to inspect; refused and invalid ones are kept
up to a cap per source (`bound`). Each sender (base.Source, found in sources.py) owns its
headers, checks and answers. Processing runs in a transaction, with any HTTP the handler
needs done before it opens:
a failure rolls back everything it did, keeps the traceback on the row and
answers 500 so the sender retries; the admin can process it again later.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import traceback
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from syncapp.models import BOUNDED_STATUSES, DeliveryStatus, DroppedDeliveries, WebhookDelivery
from syncapp.services.timeentries import MalformedPayload
from syncapp.webhooks.base import Outcome, Source
from syncapp.webhooks.parsing import InvalidBody, parse, storable

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
KEPT_PREFIX_BYTES = 2048  # of a body over the limit, for diagnosis
REDACTED = "[redacted]"
# Header names (lower case) whose values are secrets, whichever sender's endpoint they
# reach; each sender adds its own signature header (Source.secret_headers).
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "x-addon-token",
})
MAX_HEADER_VALUE = 1000


# -- storing ---------------------------------------------------------------------------------
def clean_headers(request: HttpRequest) -> dict[str, str]:
    from syncapp.webhooks.sources import secret_headers  # the registry imports this module

    secret = SECRET_HEADERS | secret_headers()
    return {storable(name): REDACTED if name.lower() in secret
            else storable(value[:MAX_HEADER_VALUE])
            for name, value in request.headers.items()}


def remote_address(request: HttpRequest) -> str | None:
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


def as_text(body: bytes) -> str:
    # Invalid UTF-8 becomes U+FFFD; PostgreSQL text cannot hold NUL.
    return storable(body.decode("utf-8", errors="replace"))


def read_body(request: HttpRequest) -> tuple[bytes, int, bool]:
    """(body or its first bytes, size, within the limit), never reading more than the limit."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        return request.read(KEPT_PREFIX_BYTES), declared, False
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return body[:KEPT_PREFIX_BYTES], max(declared, len(body)), False
    return body, len(body), True


def store(request: HttpRequest, source: Source, body: bytes, size: int, within: bool,
          payload: dict | None) -> WebhookDelivery:
    """Save the delivery as received (secrets redacted, text made storable)."""
    fields: dict[str, Any] = {
        "source": source.name, "remote_addr": remote_address(request),
        "headers": clean_headers(request), "body_size": size,
        "event_type": storable(source.event_type(request.headers)[:100]),
    }
    if not within:
        fields.update(
            body=as_text(body) + f"\n[truncated: {size} bytes, over the "
                                 f"{MAX_BODY_BYTES} byte limit]",
            body_stored=False, status=DeliveryStatus.TOO_LARGE, response_status=413,
            message="Body over the size limit.")
        return WebhookDelivery.objects.create(**fields)
    redacted = source.redact_body(payload) if payload is not None else None
    fields["body"] = as_text(body) if redacted is None else redacted
    fields["body_stored"] = redacted is None
    return WebhookDelivery.objects.create(**fields)


def body_hash(delivery: WebhookDelivery) -> str:
    return hashlib.sha256(delivery.body.encode()).hexdigest()


# -- the request cycle ---------------------------------------------------------------------------
def receive(request: HttpRequest, source: Source) -> JsonResponse:
    body, size, within = read_body(request)
    payload, reason = None, ""
    if within:
        try:
            payload = parse(body)  # guarded: depth, numbers, strings (never a RecursionError)
        except InvalidBody as exc:
            reason = str(exc)
    delivery = store(request, source, body, size, within, payload)
    if not within:
        log.warning("webhook %s delivery %s refused: %s bytes is over the limit",
                    source.name, delivery.pk, delivery.body_size)
        bound(source.name)
        return respond(delivery)
    if payload is not None:
        outcome = source.unsigned(delivery, payload)
        if outcome is not None:
            return respond(finish(delivery, outcome))
    if not source.verify(request.headers, body):
        log.warning("webhook %s delivery %s refused: missing or wrong secret/signature",
                    source.name, delivery.pk)
        return respond(finish(delivery, source.refused()))
    delivery.verified = True  # saved with the outcome
    if payload is None:
        log.warning("webhook %s delivery %s refused: %s", source.name, delivery.pk, reason)
        return respond(finish(delivery, source.malformed(reason)))
    return respond(process(delivery, payload, source))


def respond(delivery: WebhookDelivery) -> JsonResponse:
    answer = {"status": delivery.status, "delivery": delivery.pk}
    if delivery.status == DeliveryStatus.MALFORMED:
        answer["reason"] = delivery.message  # tell the sender why it will never succeed
    return JsonResponse(answer, status=delivery.response_status or 200)


def finish(delivery: WebhookDelivery, outcome: Outcome, *, error: str = "") -> WebhookDelivery:
    """Save the outcome on the row; this save cannot fail on what the sender sent."""
    delivery.status = outcome.status
    delivery.response_status = outcome.http_status
    delivery.message = storable(outcome.message[:500])
    delivery.error = storable(error)
    delivery.event_type = storable(delivery.event_type[:100])
    delivery.event_id = storable(delivery.event_id[:200])
    if outcome.status in (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED,
                          DeliveryStatus.DUPLICATE):
        delivery.processed_at = timezone.now()
    try:
        delivery.save()
    except DatabaseError:
        if transaction.get_connection().in_atomic_block:
            raise  # inside process(): its handler rolls back and records the failure
        # Our own failure: still leave an outcome on the row, and answer 500 (retried).
        log.exception("webhook delivery %s: could not save its outcome", delivery.pk)
        delivery.status, delivery.response_status = DeliveryStatus.FAILED, 500
        delivery.message = "Could not save the outcome."
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=delivery.status, response_status=500, message=delivery.message,
            verified=delivery.verified, dedupe_key=None, attempts=delivery.attempts,
            error=storable(traceback.format_exc()))
    if not delivery.verified or delivery.status in BOUNDED_STATUSES:
        bound(delivery.source)
    return delivery


def bound(source_name: str) -> int:
    """Delete all but the newest WEBHOOK_REFUSED_KEPT refused or invalid deliveries of a
    source, counting what was dropped; returns how many were."""
    refused = WebhookDelivery.objects.filter(source=source_name).filter(
        Q(status__in=BOUNDED_STATUSES) | (Q(verified=False) & ~Q(status=DeliveryStatus.RECEIVED)))
    keep = settings.WEBHOOK_REFUSED_KEPT
    surplus = list(refused.order_by("-id").values_list("pk", flat=True)[keep:keep + 1000])
    if not surplus:
        return 0
    dropped, _ = WebhookDelivery.objects.filter(pk__in=surplus).delete()
    DroppedDeliveries.objects.get_or_create(source=source_name)
    DroppedDeliveries.objects.filter(source=source_name).update(
        dropped=F("dropped") + dropped, last_dropped_at=timezone.now())
    log.warning("webhook %s: %s refused or invalid deliveries dropped (over the %s kept)",
                source_name, dropped, keep)
    return dropped


def process(delivery: WebhookDelivery, payload: dict, source: Source) -> WebhookDelivery:
    """Validate and handle a verified delivery; the outcome is saved on the row.

    What the handler needs over HTTP is read first (`prepare`); the transaction holds only
    database work, so a slow API never holds its locks and a rollback leaves no request
    behind that it cannot take back.
    """
    delivery.attempts += 1
    try:
        source.describe(delivery, payload)
        source.validate(delivery, payload)
        prepared = source.prepare(delivery, payload)
        with transaction.atomic():
            key = source.dedupe_key(delivery, payload)
            if key and not claim(delivery, key[:200]):
                outcome = source.duplicate()
            else:
                outcome = source.handle(delivery, payload, prepared)
            finish(delivery, outcome)
    except (InvalidBody, MalformedPayload) as exc:
        delivery.dedupe_key = None
        log.warning("webhook %s delivery %s refused: %s", source.name, delivery.pk, exc)
        return finish(delivery, source.malformed(str(exc)))
    except Exception:
        log.exception("webhook %s delivery %s failed while processing",
                      source.name, delivery.pk)
        delivery.dedupe_key = None
        return finish(delivery, source.failed(), error=traceback.format_exc())
    log.info("webhook %s delivery %s %s: %s %s", source.name, delivery.pk, delivery.status,
             delivery.event_type, delivery.message)
    return delivery


def claim(delivery: WebhookDelivery, key: str) -> bool:
    """Take the event's dedupe key for this delivery; False when another one holds it."""
    try:
        with transaction.atomic():
            WebhookDelivery.objects.filter(pk=delivery.pk).update(dedupe_key=key)
    except IntegrityError:
        return False
    delivery.dedupe_key = key
    return True


def reprocess(delivery: WebhookDelivery, source: Source) -> WebhookDelivery:
    """Process a stored, verified delivery again (the admin action)."""
    if not delivery.reprocessable:
        raise ValueError("only a verified delivery with its whole body can be processed again")
    try:
        payload = parse(delivery.body.encode())
    except InvalidBody as exc:
        return finish(delivery, source.malformed(str(exc)))
    return process(delivery, payload, source)
