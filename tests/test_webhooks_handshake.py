"""Notion's verification handshake (issue 9, item 1): anyone can send one, so a token is
only ever stored pending, and only staff make it sign events."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from syncapp.models import (
    DeliveryStatus,
    DroppedDeliveries,
    NotionWebhookSubscription,
    SyncRun,
    WebhookDelivery,
)
from syncapp.webhooks import notion
from tests.conftest import load_shared
from tests.webhooking import EVENTS_URL, page_event, post_event

pytestmark = pytest.mark.django_db
ATTACKER = "attacker-chosen-token-0000000001"
SETTINGS_URL = "/settings/"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def no_secret(sandbox, settings):
    """The README's default path: no NOTION_WEBHOOK_SECRET, the handshake brings the key."""
    settings.NOTION_WEBHOOK_SECRET = []
    return sandbox


def handshake(client, token: str, remote_addr: str = "203.0.113.7"):
    return client.post(EVENTS_URL, data={"verification_token": token},
                       content_type="application/json", REMOTE_ADDR=remote_addr)


def activate_url(token: NotionWebhookSubscription) -> str:
    return f"/settings/notion-tokens/{token.pk}/activate/"


def staff_client() -> Client:
    user = get_user_model().objects.create_user("ops", password="pw-0000000001", is_staff=True)
    staff = Client()
    staff.force_login(user)
    return staff


def test_an_unauthenticated_handshake_is_stored_pending_and_signs_nothing(client, no_secret):
    response = handshake(client, ATTACKER)
    assert response.status_code == 200
    token = NotionWebhookSubscription.objects.get()
    assert token.verification_token == ATTACKER and not token.active
    assert token.remote_addr == "203.0.113.7"
    delivery = WebhookDelivery.objects.get()
    assert delivery.event_type == "verification" and not delivery.verified
    assert "pending" in delivery.message and ATTACKER not in delivery.body
    # events signed with it are refused, and nothing is queued
    assert post_event(client, page_event("page-1"), key=ATTACKER).status_code == 401
    assert SyncRun.objects.count() == 0
    assert WebhookDelivery.objects.order_by("-id").first().status == DeliveryStatus.INVALID


def test_the_real_token_arriving_later_is_pending_like_the_first(client, no_secret):
    handshake(client, ATTACKER)
    real = load_shared("notion-samples/webhooks/integration.verification_request.json")
    assert post_event(client, real, key=None).status_code == 200
    assert not NotionWebhookSubscription.objects.filter(active=True).exists()
    assert NotionWebhookSubscription.objects.count() == 2


def test_staff_see_the_pending_token_with_when_and_where_on_settings_and_activate_it(
        client, no_secret):
    handshake(client, ATTACKER, remote_addr="198.51.100.23")
    token = NotionWebhookSubscription.objects.get()
    staff = staff_client()
    page = staff.get(SETTINGS_URL).content.decode()
    section = page[page.index('id="notion-webhook-tokens"'):]
    assert ATTACKER in section and "198.51.100.23" in section and "pending" in section
    assert f'action="{activate_url(token)}"' in section and "csrfmiddlewaretoken" in section
    assert post_event(client, page_event("page-1"), key=ATTACKER).status_code == 401

    response = staff.post(activate_url(token))
    assert response.status_code == 302 and response["Location"].startswith(SETTINGS_URL)
    token.refresh_from_db()
    assert token.active and token.activated_by == "ops" and token.activated_at is not None
    assert post_event(client, page_event("page-1"), key=ATTACKER).status_code == 202
    assert SyncRun.objects.count() == 1
    page = staff.get(SETTINGS_URL).content.decode()
    section = page[page.index('id="notion-webhook-tokens"'):]
    assert ATTACKER not in section and token.masked in section  # active: masked from now on
    assert "active (by ops" in section


def test_activation_needs_a_staff_post_with_csrf(client, no_secret):
    handshake(client, ATTACKER)
    token = NotionWebhookSubscription.objects.get()
    anonymous = client.post(activate_url(token))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    get_user_model().objects.create_user("visitor", password="pw-0000000002")
    client.login(username="visitor", password="pw-0000000002")
    assert client.post(activate_url(token)).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(get_user_model().objects.create_user("ops2", is_staff=True))
    assert strict.post(activate_url(token)).status_code == 403  # no CSRF token
    assert strict.get(activate_url(token)).status_code == 405
    token.refresh_from_db()
    assert not token.active


def test_staff_activate_the_token_with_the_admin_action(client, no_secret, admin_client):
    handshake(client, ATTACKER)
    token = NotionWebhookSubscription.objects.get()
    change = admin_client.get(
        f"/admin/syncapp/notionwebhooksubscription/{token.pk}/change/").content.decode()
    assert ATTACKER in change  # the full token, to paste into Notion
    # activation is a changelist action, not a form nested inside the change form
    assert 'name="active"' not in change
    listing = admin_client.get("/admin/syncapp/notionwebhooksubscription/").content.decode()
    assert '<option value="activate">' in listing and ATTACKER not in listing
    admin_client.post("/admin/syncapp/notionwebhooksubscription/",
                      {"action": "activate", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.active and token.activated_by == "admin"
    assert post_event(client, page_event("page-1"), key=ATTACKER).status_code == 202
    admin_client.post("/admin/syncapp/notionwebhooksubscription/",
                      {"action": "deactivate", "_selected_action": [token.pk]})
    assert post_event(client, page_event("page-2"), key=ATTACKER).status_code == 401


def test_a_handshake_with_notion_webhook_secret_set_is_stored_pending_only(
        client, sandbox, settings):
    settings.NOTION_WEBHOOK_SECRET = ["from-the-environment-000001"]
    assert handshake(client, ATTACKER).status_code == 200
    assert not NotionWebhookSubscription.objects.get().active
    assert post_event(client, page_event("p"), key=ATTACKER).status_code == 401
    assert post_event(client, page_event("p"), key="from-the-environment-000001") \
        .status_code == 202


def test_a_flood_of_handshakes_is_rate_limited_and_stays_bounded(client, no_secret, settings):
    settings.WEBHOOK_REFUSED_KEPT = 10
    answers = [handshake(client, f"flood-token-{n:04d}").status_code for n in range(30)]
    assert answers == [200] * notion.HANDSHAKES_PER_MINUTE + \
        [429] * (30 - notion.HANDSHAKES_PER_MINUTE)
    assert WebhookDelivery.objects.count() == 10
    assert DroppedDeliveries.objects.get(source="notion_events").dropped == 20
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.RATE_LIMITED).exists()
    assert NotionWebhookSubscription.objects.count() == notion.PENDING_KEPT
    # A staff-activated token survives later floods; only the newest pending ones are kept.
    active = NotionWebhookSubscription.objects.get(verification_token="flood-token-0000")
    notion.activate(active, get_user_model()(username="ops"))
    for burst in range(3):
        cache.clear()  # the next minute
        for n in range(notion.HANDSHAKES_PER_MINUTE):
            assert handshake(client, f"later-{burst}-{n}").status_code == 200
    pending = NotionWebhookSubscription.objects.filter(active=False)
    assert sorted(pending.values_list("verification_token", flat=True)) == \
        [f"later-2-{n}" for n in range(notion.PENDING_KEPT)]
    assert NotionWebhookSubscription.objects.filter(active=True).get() == active
    assert WebhookDelivery.objects.count() == 10


@pytest.mark.parametrize("token", ["x" * 201, "tab\tinside", " padded "],
                         ids=["over-long", "control-character", "whitespace"])
def test_a_malformed_verification_token_is_400_and_not_stored(client, no_secret, token):
    response = handshake(client, token)
    assert response.status_code == 400
    assert "malformed" in response.json()["reason"]
    assert not NotionWebhookSubscription.objects.exists()
    assert WebhookDelivery.objects.get().status == DeliveryStatus.MALFORMED


def test_a_token_activated_before_the_upgrade_without_staff_waits_for_them(no_secret):
    from importlib import import_module

    from django.apps import apps
    migration = import_module("syncapp.migrations.0009_webhook_hardening")
    auto = NotionWebhookSubscription.objects.create(verification_token="auto-0001", active=True)
    confirmed = NotionWebhookSubscription.objects.create(
        verification_token="staff-0001", active=True, activated_by="ops",
        activated_at=auto.received_at)
    migration.unconfirm_auto_activated_tokens(apps, None)
    auto.refresh_from_db()
    confirmed.refresh_from_db()
    assert not auto.active and confirmed.active


def test_the_settings_page_says_how_to_verify_when_no_token_came_yet(no_secret):
    page = staff_client().get(SETTINGS_URL).content.decode()
    assert re.search(r"No token received yet", page)
