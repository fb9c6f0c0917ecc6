"""The emulators answer a listing at the cost of what it returns, so a benchmark at scale
measures the product, not the emulators: a project's task list never scans other projects'
tasks, and a Notion query filters its rows once, not once per page."""

from __future__ import annotations

import pytest

from syncapp.sandbox import ids, notion_values
from syncapp.sandbox import notion as notion_module
from syncapp.sandbox.workspace import Sandbox
from tests.test_clients import clockify_client, notion_client


class NoScan(dict):
    """A task table that refuses to be scanned whole."""

    def values(self):
        raise AssertionError("the whole task table was scanned")

    def __iter__(self):
        raise AssertionError("the whole task table was scanned")


@pytest.fixture
def box() -> Sandbox:
    box = Sandbox()
    box.sleeps = []
    return box


def test_a_project_task_list_reads_only_that_projects_tasks(box):
    projects = [box.clockify.create_project(f"P{i}")["id"] for i in range(3)]
    for i in range(30):
        box.clockify.create_task(projects[i % 3], f"Task {i:02d}")
    box.clockify._tasks = NoScan(box.clockify._tasks)
    client = clockify_client(box, page_size=4)

    names = [t["name"] for t in client.tasks(projects[1])]

    assert names == [f"Task {i:02d}" for i in range(1, 30, 3)]
    task = client.create_task(projects[2], {"name": "New"})
    assert len([t for t in client.tasks(projects[2]) if t["name"] == "New"]) == 1
    box.clockify._tasks = dict(box.clockify._tasks)  # inspection may scan
    assert box.clockify.task(task["id"])["projectId"] == projects[2]
    assert len(box.clockify.tasks(projects[0])) == 10


def test_the_task_index_survives_a_save_and_a_deleted_project(box):
    project = box.clockify.create_project("Pea")["id"]
    other = box.clockify.create_project("Queue")["id"]
    box.clockify.create_task(project, "A")
    box.clockify.create_task(other, "B")
    fresh = Sandbox()
    fresh.clockify.load_state(box.clockify.dump_state())
    fresh.sleeps = []
    assert [t["name"] for t in clockify_client(fresh).tasks(other)] == ["B"]
    fresh.clockify.update_project(other, archived=True)
    client = clockify_client(fresh)
    client._call("DELETE", "/projects/{id}", id=other)
    assert [t["name"] for t in fresh.clockify.tasks()] == ["A"]


def test_a_notion_query_filters_its_rows_once_and_renders_only_the_page(box, monkeypatch):
    for i in range(1000):
        box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"C{i:04d}",
                                                            "Archived": i % 2 == 0})
    tested, rendered = [], []
    compile_filter = notion_values.compile_filter

    def counting_filter(*args, **kwargs):
        keep = compile_filter(*args, **kwargs)
        return lambda page: tested.append(page["id"]) or keep(page)

    monkeypatch.setattr(notion_module, "compile_filter", counting_filter)
    render = box.notion._render_page
    box.notion._render_page = lambda page, *a, **k: rendered.append(page["id"]) or render(
        page, *a, **k)

    open_only = {"property": "Archived", "checkbox": {"equals": False}}
    pages = list(notion_client(box).query(ids.CLIENTS_DATABASE_ID, filter=open_only))

    assert len(pages) == 500 and len({p["id"] for p in pages}) == 500
    assert len(tested) == 1000  # each row tested once for the whole listing, not per page
    assert sorted(rendered) == sorted(p["id"] for p in pages)  # only the returned rows


def test_a_page_trashed_while_a_listing_pages_is_no_longer_returned(box):
    made = [box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"C{i}"})
            for i in range(150)]
    client = notion_client(box)
    listing = client.query(ids.CLIENTS_DATABASE_ID)
    first = [next(listing)["id"] for _ in range(100)]
    box.notion.trash_page(made[120])
    rest = [page["id"] for page in listing]
    assert first == made[:100]
    assert rest == made[100:120] + made[121:]


def test_a_cursor_from_another_data_source_or_an_expired_listing_is_refused(box):
    for name in ("C", "D"):
        box.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": name})
    first = box.notion.handle(_query(ids.CLIENTS_DATA_SOURCE_ID, page_size=1)).payload
    cursor = first["next_cursor"]
    second = box.notion.handle(_query(ids.CLIENTS_DATA_SOURCE_ID, start_cursor=cursor))
    assert second.status == 200 and second.payload["has_more"] is False
    answer = box.notion.handle(_query(ids.PROJECTS_DATA_SOURCE_ID, start_cursor=cursor))
    assert answer.status == 400 and "start_cursor" in answer.payload["message"]
    box.notion._sessions.clear()  # as after many other listings: the oldest expire
    answer = box.notion.handle(_query(ids.CLIENTS_DATA_SOURCE_ID, start_cursor=cursor))
    assert answer.status == 400 and "start_cursor" in answer.payload["message"]


def _query(source: str, **body):
    import json

    from syncapp.sandbox.base import SandboxRequest

    return SandboxRequest.build(
        "POST", f"/v1/data_sources/{source}/query", "",
        {"Authorization": f"Bearer {ids.NOTION_TOKEN}", "Notion-Version": "2025-09-03"},
        json.dumps(body).encode())
