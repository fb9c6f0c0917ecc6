"""No HTTP request leaves while a webhook's transaction is open (issue 10).

A request made inside `transaction.atomic()` holds the database's locks for as long as the
API takes, and a rollback cannot take it back. These tests run without pytest-django's
wrapping transaction (`transaction=True`), so any open atomic block is the product's own.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from syncapp.models import DeliveryStatus, EntityMapping, RunStatus, SyncRun, WebhookDelivery
from syncapp.sandbox import ids
from syncapp.services import runs
from tests.webhooking import (
    CLOCKIFY_TOKEN,
    NOTION_SECRET,
    TRIGGER_TOKEN,
    button_body,
    page_event,
    post_clockify,
    post_event,
    post_trigger,
)

pytestmark = pytest.mark.django_db(transaction=True)
NOTIFY_URL = "http://127.0.0.1:9/notify"  # the discard port: refused at once, nothing waits


@pytest.fixture
def http_calls(sandbox, settings, monkeypatch):
    """Every HTTP request the product sends, with whether a transaction was open then."""
    settings.CLOCKIFY_WEBHOOK_TOKENS = [CLOCKIFY_TOKEN]
    settings.NOTION_TRIGGER_TOKENS = [TRIGGER_TOKEN]
    settings.NOTION_WEBHOOK_SECRET = [NOTION_SECRET]
    cache.clear()
    calls: list[tuple[str, bool]] = []
    send = requests.Session.send

    def recording_send(session, request, **kwargs):
        calls.append((request.url, connection.in_atomic_block))
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)
    assert not connection.in_atomic_block  # the baseline: no test transaction around us
    return calls


def in_transaction(calls) -> list[str]:
    return [url for url, atomic in calls if atomic]


def test_the_echo_check_reads_notion_before_the_transaction_opens(client, http_calls):
    bot = [{"id": ids.NOTION_BOT_ID, "type": "bot"}]
    assert post_event(client, page_event("p", "page.properties_updated", authors=bot)) \
        .status_code == 200
    assert any("/v1/users/me" in url for url, _ in http_calls)  # it did read Notion
    assert in_transaction(http_calls) == []
    assert "own echo" in WebhookDelivery.objects.get().message


def dead_holder(settings) -> SyncRun:
    """A run whose worker died: the next trigger fails it, and that notifies people."""
    settings.NOTIFY_WEBHOOK_URL = NOTIFY_URL
    dead = SyncRun.objects.create(trigger="poll", status=RunStatus.RUNNING)
    silent_since = timezone.now() - runs.dead_after() - timedelta(seconds=5)
    assert runs.claim("worker-gone", dead, now=silent_since)
    return dead


def post_clockify_entity_event(client):
    EntityMapping.objects.create(kind="project", notion_page_id="page-1", clockify_id="p1",
                                 state="linked")
    return post_clockify(client, "PROJECT_UPDATED", {"id": "p1"})


@pytest.mark.parametrize("send", [
    lambda client: post_trigger(client, button_body("page-1")),
    lambda client: post_event(client, page_event("page-1")),
    post_clockify_entity_event,
], ids=["notion button", "notion event", "clockify entity event"])
def test_a_webhook_that_fails_a_dead_run_notifies_outside_the_transaction(
        client, http_calls, settings, send):
    dead = dead_holder(settings)
    assert send(client).status_code == 202
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED and "no heartbeat" in dead.error_summary
    assert [url for url, _ in http_calls if url == NOTIFY_URL] == [NOTIFY_URL]  # told once
    assert in_transaction(http_calls) == []
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PROCESSED
    assert SyncRun.objects.filter(status=RunStatus.QUEUED).count() == 1
