"""The security contract every webhook source keeps (issues: inbound webhooks, 9).

Parse with guards, store, then verify: a refused delivery is recorded but nothing is
processed; a hostile body is 400 with its reason, stored as invalid, never a 500; every
delivery ends with an outcome; refused and invalid ones are capped per source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from syncapp.models import (
    DeliveryStatus,
    DroppedDeliveries,
    SyncRun,
    TimeEntry,
    WebhookDelivery,
)
from syncapp.webhooks import sources
from syncapp.webhooks.store import MAX_BODY_BYTES
from syncapp.webhooks.verify import notion_signature, notion_signature_valid
from tests.conftest import load_shared
from tests.webhooking import (
    CLOCKIFY_URL,
    EVENTS_URL,
    TRIGGER_URL,
    button_body,
    entry_body,
    page_event,
    post_clockify,
    post_event,
    post_trigger,
)

pytestmark = pytest.mark.django_db
PAGE = "1f0c0000-0000-4000-8000-00000000aa01"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@dataclass
class Hook:
    url: str
    setting: str
    secret_header: str

    def body(self) -> dict:
        if self.url == CLOCKIFY_URL:
            return entry_body()
        if self.url == TRIGGER_URL:
            return button_body(PAGE)
        return page_event(PAGE)

    def post(self, client, secret: Any, body: dict | None = None):
        """Post a fresh body with `secret` (None: no header at all)."""
        body = body or self.body()
        if self.url == CLOCKIFY_URL:
            return post_clockify(client, "NEW_TIME_ENTRY", body, token=secret)
        if self.url == TRIGGER_URL:
            return post_trigger(client, body, secret=secret)
        if secret is None:
            return post_event(client, body, key=None)
        if secret == "":
            return post_event(client, body, signature="")
        return post_event(client, body, key=secret)

    def processed(self) -> int:
        if self.url == CLOCKIFY_URL:
            return TimeEntry.objects.count()
        return SyncRun.objects.count()


HOOKS = {
    "clockify": Hook(CLOCKIFY_URL, "CLOCKIFY_WEBHOOK_TOKENS", "Clockify-Signature"),
    "notion_trigger": Hook(TRIGGER_URL, "NOTION_TRIGGER_TOKENS", "X-Webhook-Secret"),
    "notion_events": Hook(EVENTS_URL, "NOTION_WEBHOOK_SECRET", "X-Notion-Signature"),
}


@pytest.fixture(params=list(HOOKS))
def hook(request, settings, sandbox) -> Hook:
    chosen = HOOKS[request.param]
    setattr(settings, chosen.setting, ["current-secret-000000000001"])
    return chosen


def last_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.order_by("-id").first()


def test_valid_secret_is_accepted_and_processed(client, hook):
    response = hook.post(client, "current-secret-000000000001")
    assert response.status_code in (200, 202), response.content
    assert hook.processed() == 1
    delivery = last_delivery()
    assert delivery.verified and delivery.status == DeliveryStatus.PROCESSED
    assert delivery.headers[hook.secret_header] == "[redacted]"
    assert "current-secret" not in json.dumps(delivery.headers) + delivery.body


def test_each_senders_secret_header_is_its_own_and_redacted_at_every_endpoint(client, hook):
    name = next(name for name, known in HOOKS.items() if known is hook)
    assert sources.get(name).signature_header == hook.secret_header
    others = {f"HTTP_{other.secret_header.upper().replace('-', '_')}": "stray-secret-0001"
              for other in HOOKS.values()}
    client.post(hook.url, data=json.dumps(hook.body()), content_type="application/json",
                **others)
    stored = last_delivery().headers
    assert {name: stored[name] for name in (h.secret_header for h in HOOKS.values())} == \
        dict.fromkeys((h.secret_header for h in HOOKS.values()), "[redacted]")
    assert "stray-secret" not in json.dumps(stored)


@pytest.mark.parametrize("presented", ["wrong-secret-000000000001", None, ""],
                         ids=["wrong", "missing", "empty"])
def test_wrong_missing_or_empty_secret_is_refused_recorded_and_not_processed(
        client, hook, presented):
    body = hook.body()
    response = hook.post(client, presented, body)
    assert response.status_code == 401
    assert hook.processed() == 0
    delivery = last_delivery()
    assert delivery.status == DeliveryStatus.INVALID and not delivery.verified
    assert json.loads(delivery.body) == body  # recorded as received, for inspection
    assert delivery.remote_addr == "127.0.0.1"
    assert delivery.response_status == 401


@pytest.mark.parametrize("presented", ["", "anything", None])
def test_nothing_is_accepted_when_no_secret_is_configured(client, hook, settings, presented):
    setattr(settings, hook.setting, [])
    assert hook.post(client, presented).status_code == 401
    assert hook.processed() == 0
    assert last_delivery().status == DeliveryStatus.INVALID


def test_rotation_keeps_the_old_secret_until_it_is_removed(client, hook, settings):
    setattr(settings, hook.setting, ["old-secret-0000000000001", "new-secret-0000000000002"])
    assert hook.post(client, "old-secret-0000000000001").status_code in (200, 202)
    assert hook.post(client, "new-secret-0000000000002").status_code in (200, 202)
    setattr(settings, hook.setting, ["new-secret-0000000000002"])
    assert hook.post(client, "old-secret-0000000000001").status_code == 401
    assert hook.post(client, "new-secret-0000000000002").status_code in (200, 202)
    statuses = list(WebhookDelivery.objects.order_by("id").values_list("status", flat=True))
    assert statuses[2] == DeliveryStatus.INVALID
    assert statuses.count(DeliveryStatus.INVALID) == 1


def test_get_is_refused(client, hook):
    response = client.get(hook.url)
    assert response.status_code == 405
    assert hook.processed() == 0


def test_malformed_json_is_400_and_stored(client, hook):
    secret = "current-secret-000000000001"
    body = b'{"id": "abc", '
    if hook.url == CLOCKIFY_URL:
        response = post_clockify(client, "NEW_TIME_ENTRY", body, token=secret)
    elif hook.url == TRIGGER_URL:
        response = post_trigger(client, body, secret=secret)
    else:
        response = post_event(client, body, key=secret)
    assert response.status_code == 400
    delivery = last_delivery()
    assert delivery.status == DeliveryStatus.MALFORMED and delivery.body == body.decode()
    assert hook.processed() == 0


def test_a_body_over_one_megabyte_is_413_and_only_a_truncated_marker_is_stored(client, hook):
    body = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = client.post(hook.url, data=body, content_type="application/json")
    assert response.status_code == 413
    delivery = last_delivery()
    assert delivery.status == DeliveryStatus.TOO_LARGE and not delivery.body_stored
    assert delivery.body_size == len(body)
    assert len(delivery.body) < 3000 and "truncated" in delivery.body
    assert hook.processed() == 0


def test_webhooks_are_csrf_exempt_but_the_rest_is_not(sandbox, settings):
    settings.CLOCKIFY_WEBHOOK_TOKENS = ["t-0000000000000000000001"]
    strict = Client(enforce_csrf_checks=True)
    response = post_clockify(strict, "NEW_TIME_ENTRY", entry_body(),
                             token="t-0000000000000000000001")
    assert response.status_code == 200
    assert strict.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 403


def test_notion_signature_test_vector_verifies_and_one_changed_byte_fails():
    vector = load_shared("notion-samples/webhooks/signature_test_vector.json")
    body = vector["raw_body"].encode()
    token, header = vector["verification_token"], vector["x_notion_signature"]
    assert notion_signature(body, token) == header
    assert notion_signature_valid(body, header, [token])
    assert notion_signature_valid(body, header, ["another-key", token])  # rotation
    tampered = bytearray(body)
    tampered[-3] ^= 0x01
    assert not notion_signature_valid(bytes(tampered), header, [token])
    assert not notion_signature_valid(body, header[:-1] + ("0" if header[-1] != "0" else "1"),
                                      [token])
    assert not notion_signature_valid(body, None, [token])
    assert not notion_signature_valid(body, header, [])


def test_a_signed_delivery_is_verified_on_the_raw_bytes_not_reparsed_json(client, sandbox,
                                                                          settings):
    settings.NOTION_WEBHOOK_SECRET = ["k-000000000000000000000001"]
    body = json.dumps(page_event(PAGE), indent=3).encode()  # not minified
    signature = notion_signature(body, "k-000000000000000000000001")
    response = client.post(EVENTS_URL, data=body, content_type="application/json",
                           HTTP_X_NOTION_SIGNATURE=signature)
    assert response.status_code == 202
    minified = json.dumps(json.loads(body)).encode()
    response = client.post(EVENTS_URL, data=minified, content_type="application/json",
                           HTTP_X_NOTION_SIGNATURE=signature)
    assert response.status_code == 401


def test_secrets_never_reach_the_logs(client, sandbox, settings, caplog):
    caplog.set_level("DEBUG")
    settings.CLOCKIFY_WEBHOOK_TOKENS = ["clockify-secret-value-0001"]
    settings.NOTION_TRIGGER_TOKENS = ["trigger-secret-value-0001"]
    post_clockify(client, "NEW_TIME_ENTRY", entry_body(), token="clockify-secret-value-0001")
    post_clockify(client, "NEW_TIME_ENTRY", entry_body(), token="clockify-secret-value-0002")
    post_trigger(client, button_body(PAGE), secret="trigger-secret-value-0001")
    post_trigger(client, button_body(PAGE), secret="trigger-secret-value-0002")
    assert "secret-value" not in caplog.text
    assert "refused" in caplog.text


# -- hostile bodies (issue 9, item 2): the contract every endpoint keeps ---------------------
# (name, raw body, words of the reason). Each can never be processed: 400 with the reason,
# stored (storable) as invalid, never a 500 or a delivery left without an outcome.
HOSTILE = [
    ("deep-arrays", b"[" * 100_000, "nested deeper"),
    ("deep-objects", b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nested deeper"),
    ("deep-inside-an-object", b'{"id": "x", "data": ' + b"[" * 40 + b"]" * 40 + b"}",
     "nested deeper"),
    ("nul-escape", b'{"id": "a\\u0000b", "description": "x"}', "NUL"),
    ("nul-in-a-key", b'{"a\\u0000": 1}', "NUL"),
    ("lone-surrogate", b'{"id": "x", "description": "\\ud800"}', "lone surrogate"),
    ("lone-low-surrogate-in-a-key", b'{"\\udc00": "x"}', "lone surrogate"),
    ("overflow-1e999", b'{"id": "x", "timeInterval": {"start": 1e999}}', "out of range"),
    ("nan", b'{"id": "x", "n": NaN}', "not a JSON number"),
    ("huge-integer", b'{"id": "x", "n": ' + b"9" * 5_000 + b"}", "out of range"),
    ("top-level-array", b"[1, 2]", "not a JSON object"),
    ("top-level-string", b'"text"', "not a JSON object"),
    ("top-level-null", b"null", "not a JSON object"),
    ("invalid-utf8", b'{"id": "\xff\xfe"}', "not valid UTF-8"),
    ("raw-nul-byte", b'{"id": "a\x00b"}', "not JSON"),
    ("empty", b"", "not JSON"),
    ("truncated", b'{"id": "abc", ', "not JSON"),
    # Escaped quotes in a string left open: a scanner that restarts at each quote is
    # quadratic here (hours for this body); the guard must read it once.
    ("unterminated-escaped-quotes", b'["' + b'\\"' * 400_000, "not JSON"),
]


def post_raw(client, hook: Hook, body: bytes, secret: str | None):
    """Post raw bytes to the hook, with the secret (or signature) it expects."""
    if hook.url == CLOCKIFY_URL:
        return post_clockify(client, "NEW_TIME_ENTRY", body, token=secret)
    if hook.url == TRIGGER_URL:
        return post_trigger(client, body, secret=secret)
    return post_event(client, body, key=secret)


def assert_every_delivery_has_an_outcome():
    assert not WebhookDelivery.objects.filter(status=DeliveryStatus.RECEIVED).exists()
    assert not WebhookDelivery.objects.filter(response_status__isnull=True).exists()


@pytest.mark.parametrize("name,body,reason", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_body_is_400_with_its_reason_and_stored_as_invalid(client, hook, name, body,
                                                                     reason):
    response = post_raw(client, hook, body, "current-secret-000000000001")
    assert response.status_code == 400, response.content
    assert reason in response.json()["reason"]
    delivery = last_delivery()
    assert delivery.status == DeliveryStatus.MALFORMED and delivery.response_status == 400
    assert reason in delivery.message and delivery.verified
    assert "\x00" not in delivery.body and delivery.body_size == len(body)
    assert hook.processed() == 0
    assert_every_delivery_has_an_outcome()


@pytest.mark.parametrize("name,body,reason", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_body_without_the_secret_is_refused_401_and_stored(client, hook, name, body,
                                                                     reason):
    assert post_raw(client, hook, body, "wrong-secret-000000000001").status_code == 401
    assert post_raw(client, hook, body, None).status_code == 401
    assert last_delivery().status == DeliveryStatus.INVALID
    assert hook.processed() == 0
    assert_every_delivery_has_an_outcome()


def test_a_header_holding_nul_is_stored_sanitised(client, hook):
    body = json.dumps(hook.body()).encode()
    if hook.url == CLOCKIFY_URL:
        response = client.post(hook.url, data=body, content_type="application/json",
                               HTTP_CLOCKIFY_SIGNATURE="current-secret-000000000001",
                               HTTP_CLOCKIFY_WEBHOOK_EVENT_TYPE="NEW_TIME_ENTRY",
                               HTTP_X_DEBUG="a\x00b\ud800")
    elif hook.url == TRIGGER_URL:
        response = client.post(hook.url, data=body, content_type="application/json",
                               HTTP_X_WEBHOOK_SECRET="current-secret-000000000001",
                               HTTP_X_DEBUG="a\x00b\ud800")
    else:
        response = client.post(hook.url, data=body, content_type="application/json",
                               HTTP_X_NOTION_SIGNATURE=notion_signature(
                                   body, "current-secret-000000000001"),
                               HTTP_X_DEBUG="a\x00b\ud800")
    assert response.status_code in (200, 202)
    assert last_delivery().headers["X-Debug"] == "a\ufffdb\ufffd"
    assert_every_delivery_has_an_outcome()


@pytest.mark.parametrize("presented", ["current-secret-000000000001 ",
                                       " current-secret-000000000001",
                                       "current-secret-000000000001\n"],
                         ids=["trailing-space", "leading-space", "trailing-newline"])
def test_a_secret_with_whitespace_around_it_is_another_secret(client, hook, presented):
    if hook.url == EVENTS_URL:  # the signature header, padded the same way
        body = hook.body()
        signature = notion_signature(json.dumps(body).encode(), "current-secret-000000000001")
        response = post_event(client, body, signature=presented.replace(
            "current-secret-000000000001", signature))
    else:
        response = hook.post(client, presented)
    assert response.status_code == 401
    assert hook.processed() == 0


def test_refused_deliveries_are_capped_per_source_and_the_dropped_are_counted(
        client, hook, settings):
    settings.WEBHOOK_REFUSED_KEPT = 10
    assert hook.post(client, "current-secret-000000000001").status_code in (200, 202)
    for _ in range(25):
        assert hook.post(client, "wrong-secret-000000000001").status_code == 401
    for _ in range(5):
        assert post_raw(client, hook, b"[" * 1000, "current-secret-000000000001") \
            .status_code == 400
    source = WebhookDelivery.objects.values_list("source", flat=True).first()
    refused = WebhookDelivery.objects.exclude(status=DeliveryStatus.PROCESSED)
    assert refused.count() == 10
    assert refused.filter(status=DeliveryStatus.MALFORMED).count() == 5  # the newest are kept
    assert DroppedDeliveries.objects.get(source=source).dropped == 20
    # the processed delivery is never dropped by the cap (retention prunes it later)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PROCESSED).count() == 1
