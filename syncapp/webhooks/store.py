"""Store first, then verify, then process (the dj-stripe / django-anymail pattern).

`receive` saves every delivery (source, time, remote address, headers with
secrets removed, raw body) before it looks at it, so a refused, malformed or
failing delivery is always there to inspect. Processing runs in a transaction:
a failure rolls back everything it did, keeps the traceback on the row and
answers 500 so the sender retries; the admin can process it again later.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from syncapp.models import DeliveryStatus, WebhookDelivery
from syncapp.services.timeentries import MalformedPayload

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
KEPT_PREFIX_BYTES = 2048  # of a body over the limit, for diagnosis
REDACTED = "[redacted]"
# Header names (lower case) whose values are secrets or derived from one.
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "x-addon-token",
    "clockify-signature", "x-webhook-secret", "x-notion-signature",
})
MAX_HEADER_VALUE = 1000


@dataclass
class Outcome:
    status: str
    http_status: int = 200
    message: str = ""


@dataclass(frozen=True)
class Source:
    """How one sender's deliveries are verified, described, deduplicated and handled."""

    name: str
    verify: Callable[[Any, bytes], bool]  # (headers, raw body) -> accepted
    handle: Callable[[WebhookDelivery, dict], Outcome]
    describe: Callable[[WebhookDelivery, dict], None] = lambda delivery, payload: None
    dedupe_key: Callable[[WebhookDelivery, dict], str | None] = lambda delivery, payload: None
    # Replaces a body that must not be stored as is (it holds a secret); None keeps it.
    redact_body: Callable[[bytes], str | None] = lambda body: None


# -- storing ---------------------------------------------------------------------------------
def clean_headers(request: HttpRequest) -> dict[str, str]:
    return {name: REDACTED if name.lower() in SECRET_HEADERS else value[:MAX_HEADER_VALUE]
            for name, value in request.headers.items()}


def remote_address(request: HttpRequest) -> str | None:
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


def as_text(body: bytes) -> str:
    # PostgreSQL text cannot hold NUL.
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


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


def store(request: HttpRequest, source: Source) -> tuple[WebhookDelivery, bytes | None]:
    """Save the delivery as received; returns it and the raw body (None when too large)."""
    body, size, within = read_body(request)
    fields: dict[str, Any] = {
        "source": source.name, "remote_addr": remote_address(request),
        "headers": clean_headers(request), "body_size": size,
        "event_type": request.headers.get("Clockify-Webhook-Event-Type", "")[:100],
    }
    if not within:
        fields.update(
            body=as_text(body) + f"\n[truncated: {size} bytes, over the "
                                 f"{MAX_BODY_BYTES} byte limit]",
            body_stored=False, status=DeliveryStatus.TOO_LARGE, response_status=413,
            message="Body over the size limit.")
        return WebhookDelivery.objects.create(**fields), None
    redacted = source.redact_body(body)
    fields["body"] = as_text(body) if redacted is None else redacted
    fields["body_stored"] = redacted is None
    return WebhookDelivery.objects.create(**fields), body


def body_hash(delivery: WebhookDelivery) -> str:
    return hashlib.sha256(delivery.body.encode()).hexdigest()


# -- the request cycle ---------------------------------------------------------------------------
def receive(request: HttpRequest, source: Source) -> JsonResponse:
    delivery, body = store(request, source)
    if body is None:
        log.warning("webhook %s delivery %s refused: %s bytes is over the limit",
                    source.name, delivery.pk, delivery.body_size)
        return respond(delivery)
    if not source.verify(request.headers, body):
        log.warning("webhook %s delivery %s refused: missing or wrong secret/signature",
                    source.name, delivery.pk)
        return respond(finish(delivery, Outcome(DeliveryStatus.INVALID, 401,
                                                "Missing or wrong secret or signature.")))
    delivery.verified = True  # saved with the outcome
    return respond(process(delivery, body, source))


def respond(delivery: WebhookDelivery) -> JsonResponse:
    return JsonResponse({"status": delivery.status, "delivery": delivery.pk},
                        status=delivery.response_status or 200)


def finish(delivery: WebhookDelivery, outcome: Outcome, *, error: str = "") -> WebhookDelivery:
    delivery.status = outcome.status
    delivery.response_status = outcome.http_status
    delivery.message = outcome.message[:500]
    delivery.error = error
    if outcome.status in (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED,
                          DeliveryStatus.DUPLICATE):
        delivery.processed_at = timezone.now()
    delivery.save()
    return delivery


def process(delivery: WebhookDelivery, body: bytes, source: Source) -> WebhookDelivery:
    """Parse and handle a verified delivery; the outcome is saved on the row."""
    try:
        payload = json.loads(body)
    except ValueError:
        return finish(delivery, Outcome(DeliveryStatus.MALFORMED, 400, "Body is not JSON."))
    if not isinstance(payload, dict):
        return finish(delivery, Outcome(DeliveryStatus.MALFORMED, 400,
                                        "Body is not a JSON object."))
    delivery.attempts += 1
    try:
        with transaction.atomic():
            source.describe(delivery, payload)
            key = source.dedupe_key(delivery, payload)
            if key and not claim(delivery, key[:200]):
                outcome = Outcome(DeliveryStatus.DUPLICATE, 200, "Already processed.")
            else:
                outcome = source.handle(delivery, payload)
            finish(delivery, outcome)
    except MalformedPayload as exc:
        delivery.dedupe_key = None
        return finish(delivery, Outcome(DeliveryStatus.MALFORMED, 400, str(exc)))
    except Exception:
        log.exception("webhook %s delivery %s failed while processing",
                      source.name, delivery.pk)
        delivery.dedupe_key = None
        return finish(delivery, Outcome(DeliveryStatus.FAILED, 500, "Processing failed."),
                      error=traceback.format_exc())
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
    return process(delivery, delivery.body.encode(), source)
