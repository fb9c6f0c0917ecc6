"""A Notion database read completely whatever its creation pattern.

Notion returns at most 10,000 results per query and stamps `created_time` to the minute, so
a CSV import of more than 10,000 rows in one minute cannot be split by creation time. The
scan splits such a minute by the database's ID (unique_id) property; without one it says
the database cannot be read completely, and the run infers nothing from it.
"""

from __future__ import annotations

from collections import Counter

import pytest

from syncapp.clients.errors import QueryIncomplete
from syncapp.clients.notion import NotionClient
from syncapp.models import EntityMapping, RunStatus
from syncapp.sandbox import ids
from syncapp.sandbox.workspace import Sandbox
from tests.conftest import SANDBOX_ROOT
from tests.syncing import sync

IMPORT_MINUTE = 1_780_000_020.0  # 2026-05-28T20:27:00Z; the emulator stamps to the minute
QUERY = "POST /v1/data_sources/{source_id}/query"


def import_database(box: Sandbox) -> tuple[str, str]:
    return box.notion.add_database("Imported tasks", {"Name": "title", "ID": ("unique_id", "T"),
                                                      "Estimate (h)": "number"})


def reader(box: Sandbox) -> tuple[NotionClient, list[str]]:
    """The product's Notion client over the emulator, keeping the id of every page that any
    query answer carried (before the client's own de-duplication)."""
    client = NotionClient(ids.NOTION_TOKEN, base_url=f"{SANDBOX_ROOT}/notion", rate=1e6,
                          sleep=lambda seconds: None)
    box.mount(client.session, SANDBOX_ROOT)
    answered: list[str] = []
    query_source = client._query_source

    def recording(*args, **kwargs):
        for page in query_source(*args, **kwargs):
            answered.append(page["id"])
            yield page

    client._query_source = recording
    return client, answered


def test_twelve_thousand_pages_created_in_one_minute_are_all_read_once():
    box = Sandbox()
    clock = {"now": IMPORT_MINUTE - 60}
    box.notion.clock = lambda: clock["now"]
    database, source = import_database(box)
    before = [box.notion.create_page(source, {"Name": f"Early {i}"}) for i in range(50)]
    clock["now"] = IMPORT_MINUTE
    imported = [box.notion.create_page(source, {"Name": f"Row {i:05d}"}) for i in range(12_000)]
    clock["now"] = IMPORT_MINUTE + 60
    after = [box.notion.create_page(source, {"Name": f"Late {i}"}) for i in range(50)]
    client, answered = reader(box)

    read = [page["id"] for page in client.scan(database)]

    assert len(read) == 12_100 and set(read) == {*before, *imported, *after}
    # The import's minute was read by ID ranges that partition it: across those queries
    # every page of the minute came exactly once (the creation-time passes before the
    # split read 9,950 and 10,000 of them too, which is why the split was needed).
    split = answered[20_000:32_000]
    assert Counter(split) == Counter(imported)
    # 100 + 100 calls stop at the limit, 120 calls of 100 read the minute by ID, 1 the rest.
    assert client.calls[QUERY] == 100 + 100 + 120 + 1
    assert client.calls["GET /v1/data_sources/{data_source_id}"] == 1  # finds the ID property


def test_a_minute_split_by_id_keeps_the_callers_filter():
    box = Sandbox()
    box.notion.QUERY_RESULT_LIMIT = 150  # Notion's is 10,000; smaller keeps the test quick
    box.notion.clock = lambda: IMPORT_MINUTE
    database, source = import_database(box)
    for i in range(400):
        box.notion.create_page(source, {"Name": f"Row {i:03d}", "Estimate (h)": i % 2})
    client, answered = reader(box)

    odd = {"property": "Estimate (h)", "number": {"equals": 1}}
    read = list(client.scan(database, filter=odd, filter_properties=["Name"]))

    assert sorted(p["properties"]["Name"]["title"][0]["plain_text"] for p in read) == \
        [f"Row {i:03d}" for i in range(1, 400, 2)]
    assert len({p["id"] for p in read}) == 200
    assert set(read[0]["properties"]) == {"Name"}
    assert set(read[-1]["properties"]) == {"Name", "ID"}  # the split reads the ID too


def test_without_an_id_property_a_crowded_minute_cannot_be_read_and_says_why():
    box = Sandbox()
    box.notion.QUERY_RESULT_LIMIT = 150
    box.notion.clock = lambda: IMPORT_MINUTE
    for i in range(200):
        box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"C{i}"})
    client, _ = reader(box)
    with pytest.raises(QueryIncomplete) as caught:
        list(client.scan(ids.CLIENTS_DATABASE_ID))
    assert "2026-05-28T20:27:00.000Z" in str(caught.value)
    assert "no ID (unique_id) property" in str(caught.value)


@pytest.mark.django_db
def test_a_run_that_cannot_read_a_database_completely_fails_and_archives_nothing(sandbox):
    clock = {"now": IMPORT_MINUTE - 600}
    sandbox.notion.clock = lambda: clock["now"]
    synced = [sandbox.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"Old {i}"})
              for i in range(5)]
    assert sync().status == RunStatus.SUCCEEDED
    # An import lands more clients in one minute than a query returns; the database has no
    # ID property to split it by.
    sandbox.notion.QUERY_RESULT_LIMIT = 150
    clock["now"] = IMPORT_MINUTE
    for i in range(200):
        sandbox.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"Imported {i}"})

    run = sync()

    assert run.status == RunStatus.FAILED
    assert "Reading the Notion clients database failed" in run.error_summary
    assert "no ID (unique_id) property" in run.error_summary
    assert run.counts["client"]["read_failed"] == 1
    # Nothing inferred from the partial read: the five synced clients stay open and mapped,
    # none of the imported ones was created.
    assert [c["archived"] for c in sandbox.clockify.clients()] == [False] * 5
    assert EntityMapping.objects.filter(kind="client").count() == 5
    assert {m.notion_page_id for m in EntityMapping.objects.all()} == set(synced)
