"""Notion buttons / automations and integration webhooks (issue: inbound webhooks)."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from syncapp.models import (
    DeliveryStatus,
    EntityMapping,
    NotionWebhookSubscription,
    RunStatus,
    SyncRun,
    WebhookDelivery,
)
from syncapp.sandbox import ids
from syncapp.services import connections
from syncapp.services.runs import execute_run
from syncapp.webhooks import notion
from tests.conftest import SHARED, load_shared
from tests.syncing import sync
from tests.webhooking import (
    NOTION_SECRET,
    TRIGGER_TOKEN,
    button_body,
    page_event,
    post_event,
    post_trigger,
)

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def hooks(sandbox, settings):
    settings.NOTION_TRIGGER_TOKENS = [TRIGGER_TOKEN]
    settings.NOTION_WEBHOOK_SECRET = [NOTION_SECRET]
    return sandbox


def queued() -> list[SyncRun]:
    return list(SyncRun.objects.filter(status=RunStatus.QUEUED))


def last() -> WebhookDelivery:
    return WebhookDelivery.objects.order_by("-id").first()


# -- button / automation ------------------------------------------------------------------------
def test_button_pressed_five_times_runs_exactly_one_targeted_sync(client, hooks):
    client_page = hooks.notion.create_page(C, {"Name": "Acme"})
    project = hooks.notion.create_page(P, {"Name": "Website", "Client": [client_page]})
    sync()
    task = hooks.notion.create_page(T, {"Name": "Launch", "Project": [project]})
    for _ in range(5):
        response = post_trigger(client, button_body(task))
        assert response.status_code == 202
    [run] = queued()
    assert (run.trigger, run.mode, run.targeted, run.page_ids, run.triggered_by) == \
        ("webhook", "incremental", True, [task], "Notion button")
    assert run.coalesced == 4
    execute_run(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    mapping = EntityMapping.objects.get(kind="task", notion_page_id=task)
    assert hooks.clockify.task(mapping.clockify_id)["name"] == "Launch"
    assert hooks.notion.values(task)["Clockify ID"] == mapping.clockify_id
    assert SyncRun.objects.filter(status=RunStatus.QUEUED).count() == 0


def test_button_retry_with_the_same_event_id_is_a_duplicate(client, hooks):
    body = button_body("page-1", event_id="evt-same")
    assert post_trigger(client, body).status_code == 202
    assert post_trigger(client, body).status_code == 200
    assert last().status == DeliveryStatus.DUPLICATE
    assert queued()[0].coalesced == 0


def test_button_body_without_a_page_is_ignored(client, hooks):
    assert post_trigger(client, {"source": {"event_id": "e"}, "data": {}}).status_code == 200
    assert last().status == DeliveryStatus.IGNORED and not queued()


def test_automation_sample_is_accepted(client, hooks):
    sample = load_shared("notion-samples/webhooks/automation.send_webhook.sample.json")
    assert post_trigger(client, sample).status_code == 202
    assert queued()[0].page_ids == [sample["data"]["id"]]
    assert last().event_id == sample["source"]["event_id"]


# -- integration webhooks: the verification handshake ---------------------------------------
def test_verification_handshake_stores_the_token_pending_and_staff_make_it_sign(
        client, sandbox, settings, admin_client):
    settings.NOTION_WEBHOOK_SECRET = []
    request = load_shared("notion-samples/webhooks/integration.verification_request.json")
    token = request["verification_token"]
    assert post_event(client, request, key=None).status_code == 200
    subscription = NotionWebhookSubscription.objects.get()
    assert subscription.verification_token == token and not subscription.active
    delivery = last()
    assert delivery.event_type == "verification" and token not in delivery.body
    assert not delivery.reprocessable
    # staff see it in full on the detail page only
    listing = admin_client.get("/admin/syncapp/notionwebhooksubscription/").content.decode()
    assert token not in listing and subscription.masked in listing
    detail = admin_client.get(
        f"/admin/syncapp/notionwebhooksubscription/{subscription.pk}/change/").content.decode()
    assert token in detail
    assert token not in admin_client.get(
        f"/admin/syncapp/webhookdelivery/{delivery.pk}/change/").content.decode()
    # pending: it signs nothing; once staff activate it, it is the signing key
    assert post_event(client, page_event("page-1"), key=token).status_code == 401
    admin_client.post("/admin/syncapp/notionwebhooksubscription/",
                      {"action": "activate", "_selected_action": [subscription.pk]})
    assert post_event(client, page_event("page-1"), key=token).status_code == 202
    assert post_event(client, page_event("page-1"), key="another").status_code == 401


def test_two_active_tokens_allow_a_switch_over_and_the_environment_takes_precedence(
        client, sandbox, settings, admin_client):
    settings.NOTION_WEBHOOK_SECRET = []
    post_event(client, {"verification_token": "secret_first_00000000000000000"}, key=None)
    post_event(client, {"verification_token": "secret_second_0000000000000000"}, key=None)
    first, second = (NotionWebhookSubscription.objects.get(verification_token=t) for t in
                     ("secret_first_00000000000000000", "secret_second_0000000000000000"))
    assert not first.active and not second.active
    admin_client.post("/admin/syncapp/notionwebhooksubscription/",
                      {"action": "activate", "_selected_action": [first.pk]})
    assert post_event(client, page_event("p"), key=second.verification_token).status_code == 401
    admin_client.post("/admin/syncapp/notionwebhooksubscription/",
                      {"action": "activate", "_selected_action": [second.pk]})
    assert post_event(client, page_event("p"), key=second.verification_token).status_code == 202
    assert post_event(client, page_event("p"),
                      key="secret_first_00000000000000000").status_code == 202  # both: rotation
    settings.NOTION_WEBHOOK_SECRET = ["from-the-environment-000001"]
    assert post_event(client, page_event("p"), key=second.verification_token).status_code == 401
    assert post_event(client, page_event("p"),
                      key="from-the-environment-000001").status_code == 202


# -- integration webhooks: events --------------------------------------------------------------
def test_page_event_queues_a_targeted_sync_and_is_deduplicated(client, hooks):
    event = page_event("page-1", "page.properties_updated",
                       data={"parent": {"id": ids.TASKS_DATABASE_ID, "type": "database"},
                             "updated_properties": ["title"]})
    assert post_event(client, event).status_code == 202
    assert post_event(client, event).status_code == 200
    [run] = queued()
    assert run.page_ids == ["page-1"] and run.targeted and run.coalesced == 0
    assert run.triggered_by == "Notion page.properties_updated"
    assert last().status == DeliveryStatus.DUPLICATE


@pytest.mark.parametrize("event_type", sorted(notion.PAGE_EVENTS))
def test_every_page_event_type_of_a_mapped_page_queues(client, hooks, event_type):
    EntityMapping.objects.create(kind="task", notion_page_id="mapped", clockify_id="c",
                                 state="linked")
    assert post_event(client, page_event("mapped", event_type, data={})).status_code == 202
    assert queued()[0].page_ids == ["mapped"]


def test_pages_of_other_databases_and_other_events_are_ignored(client, hooks):
    other = page_event("elsewhere", data={"parent": {"id": "0ef104cd-477e-80e1-8571",
                                                     "type": "page"}})
    assert post_event(client, other).status_code == 200
    comment = {**page_event("x"), "type": "comment.created",
               "entity": {"id": "c", "type": "comment"}}
    assert post_event(client, comment).status_code == 200
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == \
        {DeliveryStatus.IGNORED}
    assert not queued()


def test_own_writes_echoed_back_are_ignored(client, hooks):
    bot = [{"id": ids.NOTION_BOT_ID, "type": "bot"}]
    assert post_event(client, page_event("p", "page.properties_updated", authors=bot)) \
        .status_code == 200
    assert "own echo" in last().message
    assert post_event(client, page_event("p", authors=bot)).status_code == 200
    assert hooks.notion.call_count("GET", "/v1/users/me") == 1  # cached
    other_bot = [{"id": "another-integration", "type": "bot"}]
    assert post_event(client, page_event("p", authors=other_bot)).status_code == 202
    source = connections.notion_client().schema(ids.TASKS_DATABASE_ID)
    ours = [source["Clockify ID"]["id"], source["Tracked (h)"]["id"]]
    parent = {"id": ids.TASKS_DATABASE_ID, "type": "database",
              "data_source_id": ids.TASKS_DATA_SOURCE_ID}
    only_ours = page_event("q", "page.properties_updated",
                           data={"parent": parent, "updated_properties": ours})
    assert post_event(client, only_ours).status_code == 200
    assert "Clockify ID" in last().message
    with_a_human_edit = page_event("q", "page.properties_updated", data={
        "parent": parent, "updated_properties": [*ours, source["Status"]["id"]]})
    assert post_event(client, with_a_human_edit).status_code == 202
    assert queued()[0].page_ids == ["p", "q"]


SAMPLES = sorted(p.name for p in (SHARED / "notion-samples" / "webhooks").glob("integration.*")) \
    if SHARED.is_dir() else ["integration.page.created.json"]


@pytest.mark.parametrize("name", SAMPLES)
def test_notion_integration_samples_are_accepted(client, hooks, name):
    sample = load_shared(f"notion-samples/webhooks/{name}")
    body = json.dumps(sample).encode()
    key = None if "verification_token" in sample else NOTION_SECRET
    assert post_event(client, body, key=key).status_code in (200, 202)
    assert last().status in (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED)
    if sample.get("type", "").startswith("page."):
        # the same event about a page we sync queues a sync of it
        EntityMapping.objects.get_or_create(kind="task", notion_page_id=sample["entity"]["id"],
                                            defaults={"state": "linked"})
        again = {**sample, "id": sample["id"] + "-again"}
        assert post_event(client, again).status_code == 202
        assert sample["entity"]["id"] in queued()[0].page_ids


def test_echo_check_failing_fast_still_queues_the_sync(client, hooks):
    hooks.notion.faults.schedule("503", method="GET", path_contains="/v1/users/me")
    bot = [{"id": ids.NOTION_BOT_ID, "type": "bot"}]
    assert post_event(client, page_event("p", authors=bot)).status_code == 202  # not known
    assert hooks.notion.call_count("GET", "/v1/users/me") == 1  # no retries inline
    assert post_event(client, page_event("p", authors=bot)).status_code == 200  # now known


# -- bodies that can never be processed (issue 9) -----------------------------------------------
def test_a_button_body_whose_page_id_is_not_an_id_is_400(client, hooks):
    body = button_body("x" * 300)
    response = post_trigger(client, body)
    assert response.status_code == 400 and "data.id" in response.json()["reason"]
    assert post_trigger(client, {**button_body("p"), "data": "x"}).status_code == 400
    assert last().status == DeliveryStatus.MALFORMED and not queued()


def test_an_event_whose_entity_is_not_a_page_reference_is_400(client, hooks):
    response = post_event(client, {**page_event("p"), "entity": "x"})
    assert response.status_code == 400 and "entity" in response.json()["reason"]
    response = post_event(client, page_event("x" * 300))
    assert response.status_code == 400 and "entity.id" in response.json()["reason"]
    assert last().status == DeliveryStatus.MALFORMED and not queued()
