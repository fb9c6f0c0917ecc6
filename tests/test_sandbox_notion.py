"""The Notion emulator, driven through a real requests.Session.

Shapes are held against the real recordings in ../shared/reference
(notion-samples); behaviour against the facts in notion-api-notes.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import requests

from syncapp.sandbox import ids
from syncapp.sandbox.notion import PERSON_ID, NotionEmulator
from syncapp.sandbox.transport import mount
from tests.conftest import load_shared
from tests.shapes import shape_mismatches

BASE = "http://sandbox.test/notion"
NEW, LEGACY, LATEST = "2025-09-03", "2022-06-28", "2026-03-11"
T0 = datetime(2026, 8, 1, 10, 15, 30, tzinfo=UTC).timestamp()
RUBY = "notion-samples/recorded/notion_ruby_mapping/"
PY = "notion-samples/recorded/notion-sdk-py/"
# Sample properties the sandbox does not model (formula, rollup) or that the
# recorded pages carry but the recorded schema lacks; "dual_property" relations.
NOT_MODELLED = frozenset({"FormulaTitle", "RollupTitle", "dual_property",
                          "Related to New database title (Relation) 1"})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    def __init__(self, emu: NotionEmulator) -> None:
        self.session = requests.Session()
        mount(self.session, BASE, emu)

    def __call__(self, method: str, path: str, *, version: str | None = NEW,
                 token: str = ids.NOTION_TOKEN, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        if version:
            headers["Notion-Version"] = version
        return self.session.request(method, BASE + path, headers=headers, **kwargs)

    def query(self, data_source_id: str, body: dict | None = None, **kwargs) -> dict:
        response = self("POST", f"/v1/data_sources/{data_source_id}/query", json=body or {},
                        **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def query_all(self, data_source_id: str, body: dict | None = None) -> list[dict]:
        results, cursor = [], None
        while True:
            page = self.query(data_source_id, {**(body or {}), **({"start_cursor": cursor}
                                                                  if cursor else {})})
            results += page["results"]
            if not page["has_more"]:
                return results
            cursor = page["next_cursor"]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def emu(clock) -> NotionEmulator:
    return NotionEmulator(clock=clock)


@pytest.fixture
def api(emu) -> Api:
    return Api(emu)


@pytest.fixture
def ws(emu):
    """Clients and Projects, as the product's workspace has them."""
    clients_db, clients = emu.add_database(
        "Clients", {"Name": "title", "Archived": "checkbox", "Clockify ID": "rich_text"},
        database_id=ids.CLIENTS_DATABASE_ID, data_source_id=ids.CLIENTS_DATA_SOURCE_ID)
    projects_db, projects = emu.add_database("Projects", {
        "Name": "title", "Client": ("relation", clients), "Clockify ID": "rich_text",
        "Status": ("status", ["Not started", "In progress", "Done"]),
        "Color": ("select", ["Red", "Blue"]), "Estimate (h)": "number", "Billable": "checkbox",
    }, database_id=ids.PROJECTS_DATABASE_ID, data_source_id=ids.PROJECTS_DATA_SOURCE_ID)
    return type("Ws", (), {"clients_db": clients_db, "clients": clients,
                           "projects_db": projects_db, "projects": projects})


def schema_from_sample(properties: dict) -> dict:
    """The emulator's simple schema for a recorded data source's properties."""
    schema = {}
    for name, prop in properties.items():
        kind = prop["type"]
        if kind in ("formula", "rollup"):
            continue
        if kind in ("select", "multi_select", "status"):
            schema[name] = (kind, [option["name"] for option in prop[kind]["options"]])
        elif kind == "relation":
            schema[name] = ("relation", prop["relation"]["data_source_id"])
        elif kind in ("unique_id", "number"):
            schema[name] = (kind, prop[kind].get("prefix", prop[kind].get("format")))
        else:
            schema[name] = kind
    return schema


@pytest.fixture
def sample_table(emu):
    """A data source with the schema of the recorded ruby-mapping "Sample table"."""
    recorded = load_shared(RUBY + "retrieve_data_source_data_source.json")
    _, ds = emu.add_database("Sample table", schema_from_sample(recorded["properties"]))
    return ds


SAMPLE_ROW = {"Title": "ABC", "TextTitle": "def", "SelectTitle": "Select 3",
              "StatusTitle": "In progress", "CheckboxTitle": True, "NumberTitle": 1.41421356,
              "MultiSelectTitle": ["Multi Select 2", "Multi Select 1"],
              "DateTitle": "2022-02-25T01:23:00.000+09:00", "UserTitle": [PERSON_ID],
              "MailTitle": "a@example.com", "UrlTitle": "https://example.com/",
              "TelTitle": "xx-xxxx-xxxx", "File&MediaTitle": ["https://example.com/a.png"],
              "RelationTitle": ["860753bb-6d1f-48de-9621-1fa6e0e31f82"]}


def assert_shape(sample, ours, ignore=NOT_MODELLED):
    assert shape_mismatches(sample, ours, ignore=ignore) == []


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["object"], body["status"], body["code"]) == ("error", status, code)
    assert body["request_id"] and body["message"]
    return body


# -- auth, versions, routing ---------------------------------------------------------------
def test_wrong_token_is_401_like_the_recording(api):
    body = assert_error(api("GET", "/v1/users/me", token="ntn_wrong"), 401, "unauthorized")
    assert_shape(load_shared(PY + "v2025-09-03_error_401_unauthorized.json")["response"]["body"],
                 body)
    assert api("GET", "/v1/users/me", token="").status_code == 401


def test_missing_version_is_400_missing_version(api):
    assert_error(api("GET", "/v1/users/me", version=None), 400, "missing_version")
    assert_error(api("GET", "/v1/users/me", version="2099-01-01"), 400, "validation_error")


def test_unknown_route_and_wrong_method_are_invalid_request_url(api, ws):
    body = assert_error(api("GET", "/v1/invalid"), 400, "invalid_request_url")
    sample = load_shared(PY + "v2025-09-03_error_400_invalid_request_url.json")
    assert body["message"] == sample["response"]["body"]["message"]
    assert_shape(sample["response"]["body"], body)
    assert_error(api("DELETE", f"/v1/data_sources/{ws.projects}/query"), 400,
                 "invalid_request_url")


def test_invalid_json_body(api, ws):
    response = api("POST", f"/v1/data_sources/{ws.projects}/query", data="{nope",
                   headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_json")


def test_users_me_is_the_bot(api):
    me = api("GET", "/v1/users/me").json()
    assert (me["object"], me["id"], me["type"]) == ("user", ids.NOTION_BOT_ID, "bot")
    assert "owner" in me["bot"] and me["request_id"]


def test_malformed_id_is_a_validation_error(api):
    assert_error(api("GET", "/v1/pages/not-a-uuid"), 400, "validation_error")


# -- databases and data sources ---------------------------------------------------------------
def test_database_lists_its_data_sources_like_the_recording(api, ws):
    body = api("GET", f"/v1/databases/{ws.projects_db}").json()
    assert body["data_sources"] == [{"id": ws.projects, "name": "Projects"}]
    assert "properties" not in body
    sample = load_shared(PY + "v2025-09-03_database_retrieve_with_data_sources.json")
    assert_shape(sample["response"]["body"], body)


def test_data_source_schema_like_the_recording(api, sample_table):
    body = api("GET", f"/v1/data_sources/{sample_table}").json()
    assert_shape(load_shared(RUBY + "retrieve_data_source_data_source.json"), body)
    status = body["properties"]["StatusTitle"]["status"]
    assert [g["name"] for g in status["groups"]] == ["To-do", "In progress", "Complete"]
    assert body["properties"]["Title"]["id"] == "title"


def test_data_source_relation_names_both_ids(api, ws):
    body = api("GET", f"/v1/data_sources/{ws.projects}").json()
    relation = body["properties"]["Client"]["relation"]
    assert (relation["database_id"], relation["data_source_id"]) == (ws.clients_db, ws.clients)
    assert body["parent"] == {"type": "database_id", "database_id": ws.projects_db}


def test_legacy_version_reads_database_schema_and_queries_it(api, emu, ws):
    page_id = emu.create_page(ws.projects, {"Name": "Site"})
    body = api("GET", f"/v1/databases/{ws.projects_db}", version=LEGACY).json()
    assert body["object"] == "database" and "Client" in body["properties"]
    assert "data_source_id" not in body["properties"]["Client"]["relation"]
    past_week = {"timestamp": "created_time", "created_time": {"past_week": {}}}
    response = api("POST", f"/v1/databases/{ws.projects_db}/query", version=LEGACY,
                   json={"filter": past_week})
    listed = response.json()
    assert (listed["type"], listed["page_or_database"]) == ("page_or_database", {})
    assert [p["id"] for p in listed["results"]] == [page_id]
    assert listed["results"][0]["parent"] == {"type": "database_id", "database_id": ws.projects_db}
    sample = load_shared(PY + "v2022-06-28_database_query_created_time_filter.json")
    assert_shape(sample["response"]["body"], listed)


def test_versions_gate_the_endpoints(api, ws):
    assert_error(api("POST", f"/v1/databases/{ws.projects_db}/query", json={}), 400,
                 "invalid_request_url")
    assert_error(api("GET", f"/v1/data_sources/{ws.projects}", version=LEGACY), 400,
                 "invalid_request_url")
    assert_error(api("POST", f"/v1/data_sources/{ws.projects}/query", version=LEGACY, json={}),
                 400, "invalid_request_url")


def test_multi_source_database_fails_on_legacy_version(api, emu, ws):
    second = emu.add_data_source(ws.projects_db, "Archive", {"Name": "title"})
    listed = api("GET", f"/v1/databases/{ws.projects_db}").json()["data_sources"]
    assert [d["id"] for d in listed] == [ws.projects, second]
    for response in (api("GET", f"/v1/databases/{ws.projects_db}", version=LEGACY),
                     api("POST", f"/v1/databases/{ws.projects_db}/query", version=LEGACY, json={}),
                     api("POST", "/v1/pages", json={"parent": {"database_id": ws.projects_db}})):
        extra = assert_error(response, 400, "validation_error")["additional_data"]
        assert extra["error_type"] == "multiple_data_sources_for_database"
        assert extra["child_data_source_ids"] == [ws.projects, second]
        assert extra["minimum_api_version"] == NEW


def test_database_and_data_source_ids_are_not_interchangeable(api, ws):
    assert_error(api("GET", f"/v1/databases/{ws.projects}"), 404, "object_not_found")
    assert_error(api("GET", f"/v1/data_sources/{ws.projects_db}"), 404, "object_not_found")


# -- query ------------------------------------------------------------------------------------
def test_query_pages_through_250_rows_in_creation_order(api, emu, ws):
    created = [emu.create_page(ws.clients, {"Name": f"Client {i}"}) for i in range(250)]
    sizes, seen, cursor = [], [], None
    while True:
        body = {"page_size": 100, **({"start_cursor": cursor} if cursor else {})}
        page = api.query(ws.clients, body)
        sizes.append(len(page["results"]))
        seen += [p["id"] for p in page["results"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None and "request_status" not in page
            break
        cursor = page["next_cursor"]
        assert isinstance(cursor, str)
    assert sizes == [100, 100, 50] and seen == created
    assert len(api.query(ws.clients)["results"]) == 100  # default page_size


def test_query_shape_like_the_recording(api, emu, sample_table):
    for title in ("JKL", "MNO", "PQR"):
        emu.create_page(sample_table, {**SAMPLE_ROW, "Title": title})
    body = api.query(sample_table, {"page_size": 2})
    assert body["has_more"] and body["next_cursor"]
    assert body["results"][0]["parent"]["data_source_id"] == sample_table
    assert_shape(load_shared(RUBY + "query_data_source_limit_2.json"), body)
    empty = api.query(sample_table, {"filter": {"property": "Title", "title": {"equals": "x"}}})
    assert_shape(load_shared(PY + "v2025-09-03_data_source_query_empty.json")["response"]["body"],
                 empty)


def test_page_size_and_cursor_validation(api, ws):
    path = f"/v1/data_sources/{ws.clients}/query"
    body = assert_error(api("POST", path, json={"page_size": 101}), 400, "validation_error")
    assert "page_size" in body["message"]
    assert_error(api("POST", path, json={"page_size": 0}), 400, "validation_error")
    assert_error(api("POST", path, json={"start_cursor": "garbage"}), 400, "validation_error")
    assert_error(api("POST", path, json={"bogus": 1}), 400, "validation_error")


def test_last_edited_filter_sees_minute_truncated_times(api, emu, clock, ws):
    early = emu.create_page(ws.clients, {"Name": "Early"})  # 10:15:30 -> 10:15:00
    later = emu.create_page(ws.clients, {"Name": "Later"})
    clock.advance(80)  # 10:16:50
    emu.update_page(later, {"Archived": True})  # last_edited_time 10:16:00
    assert emu.page(later)["last_edited_time"] == "2026-08-01T10:16:00.000Z"

    def edited(condition: dict) -> list[str]:
        body = {"filter": {"timestamp": "last_edited_time", "last_edited_time": condition}}
        return [p["id"] for p in api.query(ws.clients, body)["results"]]

    assert edited({"on_or_after": "2026-08-01T10:16:30Z"}) == []  # edited 10:16:50, stored :00
    assert edited({"on_or_after": "2026-08-01T10:16:00Z"}) == [later]
    assert edited({"after": "2026-08-01T10:16:00.000Z"}) == []
    assert edited({"before": "2026-08-01T10:16:00Z"}) == [early]
    assert edited({"on_or_before": "2026-08-01T12:16:00+02:00"}) == [early, later]
    assert edited({"equals": "2026-08-01"}) == [early, later]
    assert edited({"on_or_after": "2026-08-02"}) == []
    created = {"filter": {"timestamp": "created_time", "created_time": {"after": "2026-07-31"}}}
    assert len(api.query(ws.clients, created)["results"]) == 2


def test_property_filters(api, emu, ws):
    acme = emu.create_page(ws.clients, {"Name": "Acme"})
    other = emu.create_page(ws.clients, {"Name": "Other"})
    p1 = emu.create_page(ws.projects, {"Name": "Website redesign", "Client": [acme],
                                       "Status": "In progress", "Color": "Red",
                                       "Estimate (h)": 12, "Billable": True})
    p2 = emu.create_page(ws.projects, {"Name": "Logo", "Client": [other], "Status": "Done",
                                       "Estimate (h)": 3, "Clockify ID": "65a1"})
    p3 = emu.create_page(ws.projects, {"Name": "Web shop", "Status": "Not started"})

    def where(condition: dict) -> list[str]:
        return [p["id"] for p in api.query(ws.projects, {"filter": condition})["results"]]

    assert where({"property": "Clockify ID", "rich_text": {"is_empty": True}}) == [p1, p3]
    assert where({"property": "Clockify ID", "rich_text": {"equals": "65a1"}}) == [p2]
    assert where({"property": "Name", "title": {"contains": "web"}}) == [p1, p3]
    assert where({"property": "Name", "rich_text": {"starts_with": "Logo"}}) == [p2]
    assert where({"property": "Name", "title": {"does_not_equal": "Logo"}}) == [p1, p3]
    assert where({"property": "Billable", "checkbox": {"equals": True}}) == [p1]
    assert where({"property": "Status", "status": {"equals": "Done"}}) == [p2]
    assert where({"property": "Status", "status": {"does_not_equal": "Done"}}) == [p1, p3]
    assert where({"property": "Color", "select": {"is_empty": True}}) == [p2, p3]
    assert where({"property": "Estimate (h)", "number": {"greater_than": 5}}) == [p1]
    assert where({"property": "Client", "relation": {"contains": acme.replace("-", "")}}) == [p1]
    assert where({"property": "Client", "relation": {"is_empty": True}}) == [p3]
    billable_red = {"and": [{"property": "Billable", "checkbox": {"equals": True}},
                            {"property": "Color", "select": {"equals": "Red"}}]}
    done = {"property": "Status", "status": {"equals": "Done"}}
    assert where({"or": [done, billable_red]}) == [p1, p2]
    for bad in ({"property": "Nope", "rich_text": {"is_empty": True}},
                {"property": "Status", "select": {"equals": "Done"}},
                {"property": "Status", "status": {"resembles": "Done"}},
                {"timestamp": "last_edited_time", "last_edited_time": {"after": "yesterday"}}):
        response = api("POST", f"/v1/data_sources/{ws.projects}/query", json={"filter": bad})
        assert_error(response, 400, "validation_error")


def test_sorts(api, emu, clock, ws):
    a = emu.create_page(ws.projects, {"Name": "b", "Estimate (h)": 2})
    clock.advance(60)
    b = emu.create_page(ws.projects, {"Name": "a", "Estimate (h)": None})
    clock.advance(60)
    c = emu.create_page(ws.projects, {"Name": "c", "Estimate (h)": 9})

    def ordered(sorts: list) -> list[str]:
        return [p["id"] for p in api.query(ws.projects, {"sorts": sorts})["results"]]

    assert ordered([{"property": "Estimate (h)", "direction": "descending"}]) == [c, a, b]
    assert ordered([{"property": "Estimate (h)", "direction": "ascending"}]) == [a, c, b]
    assert ordered([{"property": "Name", "direction": "ascending"}]) == [b, a, c]
    assert ordered([{"timestamp": "created_time", "direction": "descending"}]) == [c, b, a]


def test_filter_properties_trims_each_page(api, emu, ws):
    emu.create_page(ws.projects, {"Name": "Site", "Clockify ID": "x"})
    schema = api("GET", f"/v1/data_sources/{ws.projects}").json()["properties"]
    clockify_id = schema["Clockify ID"]["id"]
    body = api.query(ws.projects, params=[("filter_properties", "title"),
                                          ("filter_properties", clockify_id)])
    assert set(body["results"][0]["properties"]) == {"Name", "Clockify ID"}
    body = api.query(ws.projects, params={"filter_properties[]": ["Status"]})
    assert set(body["results"][0]["properties"]) == {"Status"}
    response = api("POST", f"/v1/data_sources/{ws.projects}/query", json={},
                   params={"filter_properties": "Nope"})
    assert_error(response, 400, "validation_error")


def test_query_stops_at_10000_results(api, emu):
    _, ds = emu.add_database("Big", {"Name": "title"})
    for _ in range(10_050):
        emu.create_page(ds, {})
    last, total, requests_made, cursor = None, 0, 0, None
    while True:
        last = api.query(ds, {"page_size": 100, **({"start_cursor": cursor} if cursor else {})},
                         params={"filter_properties": "title"})
        total += len(last["results"])
        requests_made += 1
        if not last["has_more"]:
            break
        cursor = last["next_cursor"]
    assert (total, requests_made) == (10_000, 100)
    assert last["next_cursor"] is None
    assert last["request_status"] == {"type": "incomplete",
                                      "incomplete_reason": "query_result_limit_reached"}


# -- pages --------------------------------------------------------------------------------------
def test_page_retrieve_like_the_recording(api, emu, sample_table):
    page_id = emu.create_page(sample_table, SAMPLE_ROW)
    body = api("GET", f"/v1/pages/{page_id}").json()
    assert_shape(load_shared(RUBY + "retrieve_page_db_first.json"), body)
    sample = load_shared(PY + "v2025-09-03_create_page_minute_truncated_timestamps.json")
    assert_shape(sample["response"]["body"], body, ignore=frozenset({"properties", "parent"}))
    assert body["created_time"] == "2026-08-01T10:15:00.000Z"
    assert body["created_by"] == body["last_edited_by"] == {"object": "user", "id": PERSON_ID}
    assert body["properties"]["ID"]["unique_id"] == {"prefix": "ST", "number": 1}
    assert emu.values(page_id)["MultiSelectTitle"] == ["Multi Select 2", "Multi Select 1"]


def test_trashed_pages_leave_queries_but_stay_readable(api, emu, ws):
    keep = emu.create_page(ws.clients, {"Name": "Keep"})
    gone = emu.create_page(ws.clients, {"Name": "Gone"})
    emu.trash_page(gone)
    assert [p["id"] for p in api.query_all(ws.clients)] == [keep]
    body = api("GET", f"/v1/pages/{gone}").json()
    assert body["in_trash"] is True and body["archived"] is True
    response = api("PATCH", f"/v1/pages/{gone}", json={"properties": {"Archived":
                                                                       {"checkbox": True}}})
    assert "Can't edit block that is archived" in assert_error(response, 400,
                                                               "validation_error")["message"]
    restored = api("PATCH", f"/v1/pages/{gone}", json={"in_trash": False}).json()
    assert restored["in_trash"] is False and restored["last_edited_by"]["id"] == ids.NOTION_BOT_ID
    assert [p["id"] for p in api.query_all(ws.clients)] == [keep, gone]
    api("PATCH", f"/v1/pages/{keep}", json={"in_trash": True})
    assert [p["id"] for p in api.query_all(ws.clients)] == [gone]
    assert emu.pages(ws.clients, include_trashed=True)[0]["in_trash"] is True


def test_latest_version_drops_archived(api, emu, ws):
    page_id = emu.create_page(ws.clients, {"Name": "Acme"})
    assert "archived" not in api("GET", f"/v1/pages/{page_id}", version=LATEST).json()
    response = api("PATCH", f"/v1/pages/{page_id}", version=LATEST, json={"archived": True})
    assert_error(response, 400, "validation_error")
    legacy = api("PATCH", f"/v1/pages/{page_id}", json={"archived": True}).json()
    assert legacy["in_trash"] is True


def test_many_relations_are_cut_at_25_and_complete_via_property_items(api, emu):
    _, children = emu.add_database("Children", {"Name": "title"})
    kids = [emu.create_page(children, {"Name": f"Kid {i}"}) for i in range(30)]
    _, parents = emu.add_database("Parents", {"名前": "title", "タグ": ("multi_select", []),
                                              "Children": ("relation", children)})
    parent = emu.create_page(parents, {"名前": "A parent", "Children": kids})
    body = api("GET", f"/v1/pages/{parent}").json()
    relation = body["properties"]["Children"]
    assert len(relation["relation"]) == 25 and relation["has_more"] is True
    assert_shape(load_shared(RUBY + "retrieve_page_with_many_relations.json"), body)
    assert api.query(parents)["results"][0]["properties"]["Children"]["has_more"] is True

    prop_id = relation["id"]  # already url-encoded, as the API gives it
    collected, cursor, first = [], None, None
    while True:
        params = {"page_size": 10, **({"start_cursor": cursor} if cursor else {})}
        listed = api("GET", f"/v1/pages/{parent}/properties/{prop_id}", params=params).json()
        first = first or listed
        collected += [item["relation"]["id"] for item in listed["results"]]
        if not listed["has_more"]:
            break
        cursor = listed["next_cursor"]
        assert listed["property_item"]["next_url"].endswith(cursor)
    assert collected == kids
    assert_shape(load_shared(RUBY + "retrieve_property_relation.json"), first)


def test_property_item_by_name_and_single_values(api, emu, ws):
    page_id = emu.create_page(ws.projects, {"Name": "Site", "Estimate (h)": 4})
    title = api("GET", f"/v1/pages/{page_id}/properties/title", version=LEGACY).json()
    assert title["results"][0]["title"]["plain_text"] == "Site"
    sample = load_shared(PY + "v2022-06-28_page_property_item_title.json")
    assert_shape(sample["response"]["body"], title)
    number = api("GET", f"/v1/pages/{page_id}/properties/{quote('Estimate (h)')}").json()
    assert (number["object"], number["type"], number["number"]) == ("property_item", "number", 4)
    response = api("GET", f"/v1/pages/{page_id}/properties/nope")
    assert "is not a property that exists" in assert_error(response, 400,
                                                           "validation_error")["message"]


def test_patch_updates_values_as_the_bot(api, emu, clock, ws):
    page_id = emu.create_page(ws.projects, {"Name": "Site"})
    clock.advance(120)
    schema = api("GET", f"/v1/data_sources/{ws.projects}").json()["properties"]
    body = {"properties": {
        schema["Clockify ID"]["id"]: {"rich_text": [{"text": {"content": "65abc"}}]},
        "Status": {"status": {"name": "Done"}},
        "Color": {"type": "select", "select": {"name": "Green"}},  # new option, as Notion does
        "Estimate (h)": {"number": None},
    }}
    updated = api("PATCH", f"/v1/pages/{page_id}", json=body).json()
    assert updated["last_edited_by"] == {"object": "user", "id": ids.NOTION_BOT_ID}
    assert updated["last_edited_time"] == "2026-08-01T10:17:00.000Z"
    assert updated["created_time"] == "2026-08-01T10:15:00.000Z"
    assert updated["properties"]["Clockify ID"]["rich_text"][0]["plain_text"] == "65abc"
    assert emu.values(page_id) == {"Name": "Site", "Client": [], "Clockify ID": "65abc",
                                   "Status": "Done", "Color": "Green", "Estimate (h)": None,
                                   "Billable": False}
    cleared = {"properties": {"Clockify ID": {"rich_text": []}, "Color": {"select": None}}}
    api("PATCH", f"/v1/pages/{page_id}", json=cleared)
    assert (emu.values(page_id)["Clockify ID"], emu.values(page_id)["Color"]) == ("", None)


def test_patch_validation_errors_change_nothing(api, emu, clock, ws):
    page_id = emu.create_page(ws.projects, {"Name": "Site", "Clockify ID": "old"})
    before = emu.page(page_id)
    clock.advance(300)

    def rejected(properties: dict) -> str:
        response = api("PATCH", f"/v1/pages/{page_id}", json={"properties": properties})
        return assert_error(response, 400, "validation_error")["message"]

    assert rejected({"Clockify ID": {"rich_text": [{"text": {"content": "x" * 2001}}]}}) == (
        "body failed validation: body.properties.Clockify ID.rich_text[0].text.content.length "
        "should be ≤ `2000`, instead was `2001`.")
    assert rejected({"Nope": {"rich_text": []}, "Gone": {"number": 1}}) == (
        "Nope is not a property that exists. Gone is not a property that exists.")
    assert rejected({"Clockify ID": {"number": 5}}) == "Clockify ID is expected to be rich_text."
    assert "should be ≤ `100`" in rejected(
        {"Client": {"relation": [{"id": ws.clients}] * 101}})
    assert "does not exist" in rejected({"Status": {"status": {"name": "Someday"}}})
    assert "number" in rejected({"Estimate (h)": {"number": "12"}})
    response = api("PATCH", f"/v1/pages/{page_id}", json={"properties": {}, "colour": "red"})
    assert_error(response, 400, "validation_error")
    assert emu.page(page_id) == before
    api("PATCH", f"/v1/pages/{page_id}", json={"properties": {"Clockify ID": {"rich_text": [
        {"text": {"content": "x" * 2000}}]}}}).raise_for_status()
    assert emu.values(page_id)["Clockify ID"] == "x" * 2000


def test_update_page_like_the_recording(api, emu, sample_table):
    page_id = emu.create_page(sample_table, {"Title": "ABC"})
    request = load_shared(RUBY + "update_page_all.request.json")
    request["properties"]["UserTitle"]["people"] = [{"object": "user", "id": PERSON_ID}]
    body = api("PATCH", f"/v1/pages/{page_id}", json=request).json()
    assert_shape(load_shared(RUBY + "update_page_all.json"), body)
    values = emu.values(page_id)
    assert (values["Title"], values["StatusTitle"], values["SelectTitle"]) == (
        "MNO", "Design", "Select 3")
    assert values["RelationTitle"] == ["860753bb-6d1f-48de-9621-1fa6e0e31f82"]


def test_create_page_like_the_recording(api, emu, sample_table):
    _, ds = emu.add_database("Column", {"Tags": ("multi_select", []), "title2": "rich_text",
                                        "Related to Sample table (Column)":
                                            ("relation", sample_table),
                                        "Name": "title"})
    request = load_shared(RUBY + "create_page_parent_data_source.request.json")
    request["parent"] = {"data_source_id": ds.replace("-", "")}
    response = api("POST", "/v1/pages", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_shape(load_shared(RUBY + "create_page_parent_data_source.json"), body)
    assert body["created_by"]["id"] == ids.NOTION_BOT_ID
    assert body["parent"]["data_source_id"] == ds
    assert emu.values(body["id"])["Name"] == "New Page by data_source_id"


def test_create_page_with_database_parent(api, emu, ws):
    for version in (LEGACY, NEW):
        body = {"parent": {"database_id": ws.clients_db},
                "properties": {"Name": {"title": [{"text": {"content": "Acme"}}]}}}
        created = api("POST", "/v1/pages", json=body, version=version).json()
        assert emu.values(created["id"])["Name"] == "Acme"
    assert_error(api("POST", "/v1/pages", json={"parent": {"page_id": ws.clients_db}}), 400,
                 "validation_error")


# -- access and failures ----------------------------------------------------------------------
def test_unknown_page_is_404_like_the_recording(api):
    missing = "00000000-0000-0000-0000-000000000000"
    body = assert_error(api("GET", f"/v1/pages/{missing}"), 404, "object_not_found")
    assert body["message"].startswith(
        f"Could not find page with ID: {missing}. Make sure the relevant pages and databases are "
        "shared with your integration")
    sample = load_shared(PY + "v2025-09-03_error_404_object_not_found.json")
    assert_shape(sample["response"]["body"], body)
    assert_shape(load_shared(RUBY + "retrieve_page_unpermitted_page.json"), body)


def test_revoked_access_is_404_everywhere(api, emu, ws):
    page_id = emu.create_page(ws.clients, {"Name": "Secret"})
    emu.revoke_access(page_id)
    for method, path in (("GET", f"/v1/pages/{page_id}"), ("PATCH", f"/v1/pages/{page_id}"),
                         ("GET", f"/v1/pages/{page_id}/properties/title")):
        assert_error(api(method, path, json={}), 404, "object_not_found")
    assert api.query(ws.clients)["results"] == []
    emu.grant_access(page_id)
    assert api("GET", f"/v1/pages/{page_id}").status_code == 200

    emu.revoke_access(ws.clients_db)
    for method, path in (("GET", f"/v1/databases/{ws.clients_db}"),
                         ("GET", f"/v1/data_sources/{ws.clients}"),
                         ("POST", f"/v1/data_sources/{ws.clients}/query"),
                         ("GET", f"/v1/pages/{page_id}")):
        assert_error(api(method, path, json={}), 404, "object_not_found")
    assert_error(api("POST", f"/v1/databases/{ws.clients_db}/query", version=LEGACY, json={}),
                 404, "object_not_found")
    emu.grant_access(ws.clients_db)
    assert len(api.query(ws.clients)["results"]) == 1


def test_rate_limit_answers_429_with_retry_after(api, emu, clock):
    emu.limit_rate(3, 1.0)
    assert [api("GET", "/v1/users/me").status_code for _ in range(3)] == [200] * 3
    limited = api("GET", "/v1/users/me")
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["Retry-After"] == "1"
    clock.advance(0.5)
    assert api("GET", "/v1/users/me").headers["Retry-After"] == "1"
    clock.advance(0.5)
    assert api("GET", "/v1/users/me").status_code == 200


def test_scheduled_faults(api, emu, ws):
    page_id = emu.create_page(ws.clients, {"Name": "Acme"})
    emu.faults.schedule("500")
    assert_error(api("GET", f"/v1/pages/{page_id}"), 500, "internal_server_error")
    emu.faults.schedule("503", method="POST")
    assert_error(api("POST", f"/v1/data_sources/{ws.clients}/query", json={}), 503,
                 "service_unavailable")
    emu.faults.schedule("commit_then_drop", method="PATCH")
    write = {"properties": {"Clockify ID": {"rich_text": [{"text": {"content": "65ab"}}]}}}
    with pytest.raises(requests.ConnectionError):
        api("PATCH", f"/v1/pages/{page_id}", json=write)
    assert emu.values(page_id)["Clockify ID"] == "65ab"  # the write happened
    emu.faults.schedule("timeout")
    with pytest.raises(requests.ReadTimeout):
        api("GET", f"/v1/pages/{page_id}")
    assert api("GET", f"/v1/pages/{page_id}").status_code == 200


# -- Python API ---------------------------------------------------------------------------------
def test_simple_values_round_trip(emu, clock, ws):
    acme = emu.create_page(ws.clients, {"Name": "Acme"}, page_id="1" * 32)
    assert acme == "11111111-1111-1111-1111-111111111111"
    values = {"Name": "Site", "Client": [acme], "Clockify ID": "65ab", "Status": "In progress",
              "Color": "Blue", "Estimate (h)": 7.5, "Billable": True}
    project = emu.create_page(ws.projects, values)
    assert emu.values(project) == values
    clock.advance(3600)
    emu.update_page(project, {"Status": "Done"})
    page = emu.page(project)
    assert page["last_edited_by"]["id"] == PERSON_ID
    assert page["last_edited_time"] == "2026-08-01T11:15:00.000Z"
    with pytest.raises(KeyError):
        emu.create_page(ws.projects, {"Nope": 1})
    with pytest.raises(ValueError):
        emu.create_page(ws.projects, {"Status": "Someday"})
    with pytest.raises(ValueError):
        emu.add_database("Bad", {"Name": "title", "Other": "title"})


def test_dump_and_load_state(api, emu, ws):
    client = emu.create_page(ws.clients, {"Name": "Acme"})
    emu.create_page(ws.projects, {"Name": "Site", "Client": [client]})
    emu.trash_page(client)
    emu.revoke_access(ws.projects_db)
    state = json.loads(json.dumps(emu.dump_state()))

    restored = NotionEmulator(clock=emu.clock)
    restored.load_state(state)
    assert restored.page(client) == emu.page(client)
    assert restored.dump_state() == emu.dump_state()
    fresh = restored.create_page(ws.clients, {"Name": "New"})  # same seed: ids must not collide
    assert fresh != client and len(restored.pages(ws.clients, include_trashed=True)) == 2
    other = Api(restored)
    assert_error(other("GET", f"/v1/databases/{ws.projects_db}"), 404, "object_not_found")
