"""The real API clients over requests into the in-process emulators."""

from __future__ import annotations

import pytest

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import (
    NotFound,
    OutcomeUnknown,
    QueryIncomplete,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from syncapp.clients.notion import NotionClient
from syncapp.clients.notion_values import read_property
from syncapp.sandbox import ids
from syncapp.sandbox.workspace import Sandbox
from tests.conftest import SANDBOX_ROOT


@pytest.fixture
def box() -> Sandbox:
    box = Sandbox()
    box.sleeps = []
    return box


def notion_client(box, **options) -> NotionClient:
    client = NotionClient(ids.NOTION_TOKEN, base_url=f"{SANDBOX_ROOT}/notion",
                          sleep=box.sleeps.append, rate=1e6, **options)
    box.mount(client.session, SANDBOX_ROOT)
    return client


def clockify_client(box, **options) -> ClockifyClient:
    client = ClockifyClient(ids.CLOCKIFY_API_KEY, ids.CLOCKIFY_WORKSPACE_ID,
                            base_url=f"{SANDBOX_ROOT}/clockify/api/v1",
                            sleep=box.sleeps.append, rate=1e6, **options)
    box.mount(client.session, SANDBOX_ROOT)
    return client


# -- Notion -----------------------------------------------------------------------------------
def test_notion_query_paginates_and_counts_calls(box):
    for i in range(250):
        box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"Client {i}"})
    client = notion_client(box)
    pages = list(client.query(ids.CLIENTS_DATABASE_ID))
    assert len({p["id"] for p in pages}) == 250
    # one call resolves the data source, three pages of 100 list the rows
    assert client.calls == {"GET /v1/databases/{database_id}": 1,
                            "POST /v1/data_sources/{source_id}/query": 3}
    list(client.query(ids.CLIENTS_DATABASE_ID))
    assert client.calls["GET /v1/databases/{database_id}"] == 1  # cached
    assert box.notion.call_count() == client.total_calls


def test_notion_sends_bearer_token_and_version(box):
    client = notion_client(box)
    client.me()  # the emulator refuses requests without a token and a version
    assert box.notion.call_count() == 1
    wrong = NotionClient("ntn_wrong", base_url=f"{SANDBOX_ROOT}/notion", rate=1e6,
                         sleep=box.sleeps.append)
    box.mount(wrong.session, SANDBOX_ROOT)
    with pytest.raises(Exception) as caught:
        wrong.me()
    assert caught.value.status == 401 and caught.value.permanent
    assert wrong.total_calls == 1  # permanent: not retried
    assert "ntn_wrong" not in str(caught.value) and "ntn_wrong" not in repr(wrong)


def test_notion_legacy_version_queries_the_database(box):
    box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Acme"})
    client = notion_client(box, version="2022-06-28")
    pages = list(client.query(ids.CLIENTS_DATABASE_ID))
    assert [read_property(p["properties"]["Name"]) for p in pages] == ["Acme"]
    assert set(client.calls) == {"POST /v1/databases/{source_id}/query"}


def test_notion_filter_on_last_edited_time(box):
    clock = {"now": 1_780_000_000.0}
    box.notion.clock = lambda: clock["now"]
    box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Old"})
    clock["now"] += 3600
    box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "New"})
    client = notion_client(box)
    since = box.notion.page(next(p["id"] for p in box.notion.pages(ids.CLIENTS_DATA_SOURCE_ID)
                                 if box.notion.values(p["id"])["Name"] == "New"))
    found = list(client.query(ids.CLIENTS_DATABASE_ID, filter={
        "timestamp": "last_edited_time",
        "last_edited_time": {"on_or_after": since["last_edited_time"]}}))
    assert [read_property(p["properties"]["Name"]) for p in found] == ["New"]


def test_relation_over_25_is_completed(box):
    clients = [box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"C{i}"})
               for i in range(30)]
    project = box.notion.create_page(ids.PROJECTS_DATA_SOURCE_ID,
                                     {"Name": "Big", "Client": clients})
    client = notion_client(box)
    page = client.retrieve_page(project)
    assert len(page["properties"]["Client"]["relation"]) == 25
    assert page["properties"]["Client"]["has_more"] is True
    client.complete_relations(page)
    assert read_property(page["properties"]["Client"]) == clients


def test_notion_429_honours_retry_after(box):
    box.notion.faults.schedule("429")
    client = notion_client(box)
    client.me()
    assert client.total_calls == 2 and client.retries == 1
    assert box.sleeps[-1] >= 1  # the emulator's Retry-After, in seconds


def test_notion_5xx_retried_for_reads_then_gives_up(box):
    box.notion.faults.schedule("502", times=2)
    client = notion_client(box)
    assert client.me()["object"] == "user"
    assert client.total_calls == 3
    box.notion.faults.schedule("503", times=10)
    with pytest.raises(ServerError):
        notion_client(box, max_retries=2).me()


def test_notion_validation_error_is_permanent(box):
    page_id = box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Acme"})
    client = notion_client(box)
    with pytest.raises(ValidationFailed) as caught:
        client.update_page(page_id, {"No such property": {"rich_text": []}})
    assert caught.value.status == 400 and client.total_calls == 1


def test_notion_trashed_page_is_readable_missing_is_not_found(box):
    page_id = box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Gone"})
    box.notion.trash_page(page_id)
    client = notion_client(box)
    assert list(client.query(ids.CLIENTS_DATABASE_ID)) == []
    assert client.retrieve_page(page_id)["in_trash"] is True
    with pytest.raises(NotFound):
        client.retrieve_page("00000000-0000-4000-8000-000000000000")


def test_notion_long_text_is_split_into_2000_character_objects(box):
    from syncapp.clients.notion_values import rich_text

    page_id = box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Acme"})
    client = notion_client(box)
    client.update_page(page_id, {"Note": {"rich_text": rich_text("x" * 4500)}})
    assert box.notion.values(page_id)["Note"] == "x" * 4500


def test_notion_query_past_the_result_limit_is_incomplete(box):
    box.notion.QUERY_RESULT_LIMIT = 150  # Notion's is 10,000; smaller keeps the test quick
    for i in range(200):
        box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"C{i}"})
    with pytest.raises(QueryIncomplete):
        list(notion_client(box).query(ids.CLIENTS_DATABASE_ID))


def test_notion_scan_reads_past_the_result_limit(box):
    box.notion.QUERY_RESULT_LIMIT = 150
    clock = {"now": 1_780_000_000.0}
    box.notion.clock = lambda: clock["now"]
    for i in range(400):
        if i % 40 == 0:
            clock["now"] += 60  # 40 pages a minute
        box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"C{i:03d}"})
    client = notion_client(box)
    names = [read_property(p["properties"]["Name"]) for p in client.scan(ids.CLIENTS_DATABASE_ID)]
    assert sorted(names) == [f"C{i:03d}" for i in range(400)]
    assert len(names) == 400  # the overlap minute is read twice but yielded once


def test_notion_scan_gives_up_when_one_minute_holds_too_many(box):
    box.notion.QUERY_RESULT_LIMIT = 150
    box.notion.clock = lambda: 1_780_000_000.0
    for i in range(200):
        box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"C{i}"})
    with pytest.raises(QueryIncomplete):
        list(notion_client(box).scan(ids.CLIENTS_DATABASE_ID))


# -- Clockify -----------------------------------------------------------------------------------
def test_clockify_lists_every_page(box):
    for i in range(120):
        box.clockify.create_client(f"Client {i:03d}")
    client = clockify_client(box, page_size=50)
    names = [c["name"] for c in client.clients()]
    assert len(names) == 120 and len(set(names)) == 120
    assert client.calls == {"GET /workspaces/{workspace}/clients": 3}


def test_clockify_unknown_id_is_not_found(box):
    client = clockify_client(box)
    with pytest.raises(NotFound) as caught:
        client.get_project("0123456789abcdef01234567")
    assert caught.value.status == 400 and caught.value.code == 501
    assert client.total_calls == 1


def test_clockify_429_without_retry_after_backs_off(box):
    box.clockify.faults.schedule("429", times=2)
    client = clockify_client(box)
    assert list(client.clients()) == []
    assert client.total_calls == 3
    assert len(box.sleeps) == 2 and 0.5 <= box.sleeps[0] <= 1.0 and 1.0 <= box.sleeps[1] <= 2.0


def test_clockify_rate_limit_exhausted_raises(box):
    box.clockify.faults.schedule("429", times=10)
    with pytest.raises(RateLimited):
        list(clockify_client(box, max_retries=2).clients())


def test_post_with_lost_response_is_not_resent(box):
    box.clockify.faults.schedule("commit_then_drop", method="POST")
    client = clockify_client(box)
    with pytest.raises(OutcomeUnknown):
        client.create_client({"name": "Acme"})
    assert client.calls["POST /workspaces/{workspace}/clients"] == 1
    assert [c["name"] for c in box.clockify.clients()] == ["Acme"]


def test_post_answered_with_5xx_is_outcome_unknown(box):
    box.clockify.faults.schedule("500", method="POST")
    client = clockify_client(box)
    with pytest.raises(OutcomeUnknown):
        client.create_client({"name": "Acme"})
    assert client.total_calls == 1


def test_post_timeout_is_outcome_unknown_get_timeout_is_retried(box):
    box.clockify.faults.schedule("timeout", method="POST")
    client = clockify_client(box)
    with pytest.raises(OutcomeUnknown):
        client.create_client({"name": "Acme"})
    box.clockify.faults.schedule("timeout", method="GET")
    assert list(client.clients()) == []
    assert client.retries == 1


def test_update_is_get_merge_put_keeping_flags(box):
    project = box.clockify.create_project("Site", billable=True, isPublic=True, note="keep")
    client = clockify_client(box)
    updated = client.update_project(project["id"], {"name": "Site v2"})
    assert updated["name"] == "Site v2"
    assert updated["billable"] is True and updated["public"] is True and updated["note"] == "keep"
    assert client.calls == {"GET /workspaces/{workspace}/projects/{id}": 1,
                            "PUT /workspaces/{workspace}/projects/{id}": 1}


def test_duplicate_name_is_a_validation_error(box):
    box.clockify.create_client("Acme")
    with pytest.raises(ValidationFailed) as caught:
        clockify_client(box).create_client({"name": "Acme"})
    assert "already exists" in caught.value.message
