"""The Clockify emulator's change feed, held against the OpenAPI text (tag "Entity changes
(Experimental)") and its documented quirks, driven through a real requests.Session."""

from __future__ import annotations

import pytest
import requests

from syncapp.sandbox import ids
from syncapp.sandbox.clockify import ClockifyEmulator
from syncapp.sandbox.transport import mount
from tests.conftest import load_shared
from tests.test_sandbox_clockify import BASE, WS, FakeClock

ALL = "CLIENTS,PROJECTS,TASKS"
START = "2025-06-15T15:00:00Z"  # the fake clock starts at 15:06:40


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock) -> ClockifyEmulator:
    return ClockifyEmulator(clock=clock)


@pytest.fixture
def http(emu) -> requests.Session:
    session = requests.Session()
    mount(session, BASE, emu)
    session.headers["X-Api-Key"] = ids.CLOCKIFY_API_KEY
    return session


def feed(http, op: str, start: str = START, end: str = "2025-06-16T00:00:00Z", **params):
    response = http.get(f"{WS}/entities/{op}", params={"type": ALL, "start": start, "end": end,
                                                       **params})
    assert response.status_code == 200, response.text
    return response.json()["response"]


def ids_in(items) -> set[str]:
    return {item["id"] for item in items}


def test_created_updated_deleted_through_the_api(http, emu, clock):
    client = http.post(f"{WS}/clients", json={"name": "Acme"}).json()
    project = http.post(f"{WS}/projects", json={"name": "Site", "clientId": client["id"]}).json()
    task = http.post(f"{WS}/projects/{project['id']}/tasks", json={"name": "Build"}).json()
    # created: each entity once, with its current document
    created = feed(http, "created")
    assert ids_in(created) == {client["id"], project["id"], task["id"]}
    by_id = {item["id"]: item for item in created}
    assert by_id[task["id"]]["documentCode"] == "TASKS"
    assert by_id[task["id"]]["document"]["projectId"] == project["id"]
    # created and updated in the range: left out of /updated (documented)
    http.put(f"{WS}/clients/{client['id']}", json={"name": "Acme 2"})
    assert feed(http, "updated") == []
    later = "2025-06-15T15:10:00Z"
    clock.advance(600)
    http.put(f"{WS}/clients/{client['id']}", json={"name": "Acme 3"})
    updated = feed(http, "updated", start=later)
    assert [(i["id"], i["document"]["name"]) for i in updated] == [(client["id"], "Acme 3")]


def test_deletions_are_a_minute_late_and_never_for_entities_created_in_range(http, emu, clock):
    project = emu.create_project("Old")
    emu.update_project(project["id"], archived=True)
    clock.advance(3600)
    start = "2025-06-15T16:00:00Z"
    http.delete(f"{WS}/projects/{project['id']}")
    assert feed(http, "deleted", start=start) == []  # not yet: about a minute late
    clock.advance(61)
    deleted = feed(http, "deleted", start=start)
    assert ids_in(deleted) == {project["id"]}
    assert deleted[0]["documentCode"] == "PROJECTS" and deleted[0]["deletedAt"]
    # created and deleted within the range: never in /deleted (documented)
    assert feed(http, "deleted", start=START) == []


def test_deleted_answers_the_documented_schema(http, emu, clock, shared_reference):
    spec = load_shared("clockify-openapi.json")
    task = emu.create_task(emu.create_project("Pr")["id"], "T", status="DONE")
    clock.advance(3600)
    http.delete(f"{WS}/projects/{task['projectId']}/tasks/{task['id']}")
    clock.advance(120)
    body = http.get(f"{WS}/entities/deleted", params={"type": "TASKS",
                                                       "start": "2025-06-15T16:00:00Z"}).json()
    schemas = spec["components"]["schemas"]
    assert set(body) == set(schemas["PageableCollectionLogBinDocumentDto"]["properties"])
    item = schemas["LogBinDocumentDto"]["properties"]
    assert set(body["response"][0]) == set(item)
    assert all(isinstance(body["response"][0][key], str) for key in item
               if item[key]["type"] == "string")
    assert isinstance(body["response"][0]["document"], dict)
    assert ids_in(body["response"]) == {task["id"]}


def test_types_paging_and_defaults(http, emu):
    for n in range(5):
        emu.create_client(f"C{n}")
    # type filters; a documented type the emulator does not hold answers nothing
    assert feed(http, "created", type="TASKS") == []
    assert feed(http, "created", type="TIME_ENTRY") == []
    pages = [feed(http, "created", page=str(p), limit="2") for p in range(4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert len(ids_in(sum(pages, []))) == 5
    # no start and no end: the 30 days up to now
    assert len(http.get(f"{WS}/entities/created", params={"type": "CLIENTS"})
               .json()["response"]) == 5
    missing = http.get(f"{WS}/entities/created")
    assert missing.status_code == 400 and missing.json()["code"] == 3000
    assert http.get(f"{WS}/entities/created", params={"type": "CARS"}).status_code == 400


def test_python_helpers_are_recorded_but_unrecorded_changes_are_not(http, emu, clock):
    client = emu.create_client("Acme")
    clock.advance(600)
    start = "2025-06-15T15:15:00Z"
    emu.update_client(client["id"], name="Seen")
    assert ids_in(feed(http, "updated", start=start)) == {client["id"]}
    clock.advance(600)
    with emu.unrecorded():
        emu.update_client(client["id"], name="Behind the feed's back")
    assert feed(http, "updated", start="2025-06-15T15:25:00Z") == []
    assert emu.client(client["id"])["name"] == "Behind the feed's back"


def test_feed_switched_off_or_failing(http, emu):
    emu.set_feed("off")  # as a service without the endpoints: an unknown path
    off = http.get(f"{WS}/entities/created", params={"type": "CLIENTS"})
    assert off.status_code == 404 and off.json()["code"] == 3000
    emu.set_feed("failing")
    assert http.get(f"{WS}/entities/created", params={"type": "CLIENTS"}).status_code == 500
    emu.set_feed("on")
    assert http.get(f"{WS}/entities/created", params={"type": "CLIENTS"}).status_code == 200
    with pytest.raises(ValueError):
        emu.set_feed("sometimes")


def test_feed_survives_a_save_and_load(emu, clock):
    client = emu.create_client("Acme")
    copy = ClockifyEmulator(clock=clock)
    copy.load_state(emu.dump_state())
    session = requests.Session()
    mount(session, BASE, copy)
    session.headers["X-Api-Key"] = ids.CLOCKIFY_API_KEY
    assert ids_in(feed(session, "created")) == {client["id"]}


def test_the_demo_control_endpoint_switches_the_feed():
    from syncapp.sandbox.server import control
    from syncapp.sandbox.workspace import Sandbox

    box = Sandbox()
    assert control(box, "POST", "/_sandbox/clockify/feed", {"mode": "failing"}) == \
        (200, {"ok": True, "mode": "failing"})
    assert box.clockify.feed == "failing"
    status, body = control(box, "POST", "/_sandbox/clockify/feed", {"mode": "maybe"})
    assert status == 400 and "feed mode" in body["error"]
    assert box.clockify.feed == "failing"
