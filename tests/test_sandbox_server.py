"""The sandbox served over loopback HTTP: what the demo's web server and worker share."""

from __future__ import annotations

import pytest
import requests

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import OutcomeUnknown
from syncapp.clients.notion import NotionClient
from syncapp.clients.notion_values import read_property
from syncapp.sandbox import ids


def test_clients_work_over_http_and_share_state(served):
    box, root = served
    created = requests.post(f"{root}/_sandbox/notion/pages", timeout=5,
                            json={"database": "clients", "values": {"Name": "Über Client"}})
    assert created.status_code == 201
    notion = NotionClient(ids.NOTION_TOKEN, base_url=f"{root}/notion", rate=1e6)
    names = [read_property(p["properties"]["Name"]) for p in notion.query(ids.CLIENTS_DATABASE_ID)]
    assert names == ["Über Client"]
    clockify = ClockifyClient(ids.CLOCKIFY_API_KEY, ids.CLOCKIFY_WORKSPACE_ID,
                              base_url=f"{root}/clockify/api/v1", rate=1e6)
    clockify.create_client({"name": "Über Client"})
    assert [c["name"] for c in box.clockify.clients()] == ["Über Client"]


def test_dropped_connection_over_http_is_outcome_unknown(served):
    box, root = served
    box.clockify.faults.schedule("commit_then_drop", method="POST")
    clockify = ClockifyClient(ids.CLOCKIFY_API_KEY, ids.CLOCKIFY_WORKSPACE_ID,
                              base_url=f"{root}/clockify/api/v1", rate=1e6, sleep=lambda s: None)
    with pytest.raises(OutcomeUnknown):
        clockify.create_client({"name": "Acme"})
    assert [c["name"] for c in box.clockify.clients()] == ["Acme"]


def test_faults_can_be_switched_on_for_the_demo(served):
    box, root = served
    answer = requests.post(f"{root}/_sandbox/faults", timeout=5,
                           json={"service": "notion", "rate": 1.0, "kinds": ["503"]})
    assert answer.status_code == 200
    status = requests.get(f"{root}/notion/v1/users/me", timeout=5, headers={
        "Authorization": f"Bearer {ids.NOTION_TOKEN}", "Notion-Version": "2025-09-03"})
    assert status.status_code == 503 and status.json()["code"] == "service_unavailable"
    box.notion.faults.clear()


def test_demo_time_entries_land_on_synced_tasks(served):
    box, root = served
    project = box.clockify.create_project("Website")
    task = box.clockify.create_task(project["id"], "Design")
    answer = requests.post(f"{root}/_sandbox/clockify/track", json={"count": 5}, timeout=5)
    assert answer.status_code == 201 and answer.json() == {"created": 5}
    entries = box.clockify.time_entries()
    assert len(entries) == 5
    assert {e["taskId"] for e in entries} == {task["id"]}
    assert all(e["timeInterval"]["end"] for e in entries)
