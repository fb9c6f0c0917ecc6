"""Tracked time rolled back into Notion (issue: inbound webhooks)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from syncapp.models import EntityMapping, RollupState
from syncapp.sandbox import ids
from syncapp.services import rollup
from tests.webhooking import CLOCKIFY_TOKEN, entry_body, post_clockify

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(sandbox, settings):
    settings.CLOCKIFY_WEBHOOK_TOKENS = [CLOCKIFY_TOKEN]
    project = sandbox.notion.create_page(ids.PROJECTS_DATA_SOURCE_ID, {"Name": "Website"})
    task = sandbox.notion.create_page(ids.TASKS_DATA_SOURCE_ID,
                                      {"Name": "Design", "Project": [project]})
    EntityMapping.objects.create(kind="project", notion_page_id=project, clockify_id="cp",
                                 state="linked")
    EntityMapping.objects.create(kind="task", notion_page_id=task, clockify_id="ct",
                                 state="linked")
    return {"project": project, "task": task}


def track(client, event, entry_id, seconds, **fields):
    body = entry_body(entry_id, seconds=seconds, project_id="cp", task_id="ct", **fields)
    assert post_clockify(client, event, body).status_code == 200


def tracked(sandbox, page):
    return sandbox.notion.values(page)["Tracked (h)"]


def test_a_burst_is_one_write_per_page_and_only_changes_are_written(client, sandbox, pages):
    for n in range(20):
        track(client, "NEW_TIME_ENTRY", f"e{n}", 900)  # 20 × 15 min
    track(client, "NEW_TIMER_STARTED", "running", None)  # not counted until it stops
    assert sandbox.notion.call_count("PATCH") == 0  # nothing written per entry
    counts = rollup.flush()
    assert counts["written"] == 2
    assert tracked(sandbox, pages["task"]) == 5.0 and tracked(sandbox, pages["project"]) == 5.0
    assert sandbox.notion.call_count("PATCH") == 2
    state = RollupState.objects.get(kind="task")
    assert state.last_written == Decimal("5.00") and not state.dirty
    # a description edit leaves the hours alone: dirty, but nothing to write
    track(client, "TIME_ENTRY_UPDATED", "e0", 900, description="renamed")
    sandbox.notion.reset_calls()
    assert rollup.flush()["unchanged"] == 2
    assert sandbox.notion.call_count("PATCH") == 0
    track(client, "TIME_ENTRY_DELETED", "e1", 900)
    track(client, "TIMER_STOPPED", "running", 1800)
    rollup.flush()
    assert tracked(sandbox, pages["task"]) == 5.25
    assert sandbox.notion.call_count("PATCH") == 2


def test_moving_an_entry_rewrites_both_tasks(client, sandbox, pages):
    other = sandbox.notion.create_page(ids.TASKS_DATA_SOURCE_ID, {"Name": "Build"})
    EntityMapping.objects.create(kind="task", notion_page_id=other, clockify_id="ct2",
                                 state="linked")
    track(client, "NEW_TIME_ENTRY", "e1", 3600)
    rollup.flush()
    body = entry_body("e1", seconds=3600, project_id="cp", task_id="ct2")
    post_clockify(client, "TIME_ENTRY_UPDATED", body)
    rollup.flush()
    assert tracked(sandbox, pages["task"]) == 0 and tracked(sandbox, other) == 1.0


def test_a_transient_notion_failure_keeps_the_page_dirty(client, sandbox, pages, settings):
    settings.HTTP_MAX_RETRIES = 0
    track(client, "NEW_TIME_ENTRY", "e1", 3600)
    sandbox.notion.faults.schedule("503", method="PATCH", times=2)
    assert rollup.flush()["failed"] == 2
    assert RollupState.objects.filter(dirty=True).count() == 2
    assert "503" in RollupState.objects.get(kind="task").error
    assert rollup.flush()["written"] == 2
    assert tracked(sandbox, pages["task"]) == 1.0
    assert RollupState.objects.get(kind="task").error == ""


def test_a_change_during_the_flush_stays_dirty(client, sandbox, pages, monkeypatch):
    track(client, "NEW_TIME_ENTRY", "e1", 3600)
    real = rollup.connections.notion_client

    def client_that_races():
        notion = real()
        update = notion.update_page

        def update_page(page_id, properties):
            result = update(page_id, properties)
            rollup.mark_dirty([("task", "ct")])  # an entry arrives mid-flush
            return result

        notion.update_page = update_page
        return notion

    monkeypatch.setattr(rollup.connections, "notion_client", client_that_races)
    rollup.flush()
    assert RollupState.objects.get(kind="task").dirty


def test_empty_property_setting_disables_the_rollup(client, sandbox, pages, settings):
    settings.NOTION_TRACKED_PROPERTY = ""
    track(client, "NEW_TIME_ENTRY", "e1", 3600)
    assert RollupState.objects.count() == 0
    assert rollup.flush() == {}
    assert sandbox.notion.call_count("PATCH") == 0


def test_other_property_name_and_unmapped_entities(client, sandbox, pages, settings):
    settings.NOTION_TRACKED_PROPERTY = "Estimate (h)"  # any number property works
    track(client, "NEW_TIME_ENTRY", "e1", 7200)
    post_clockify(client, "NEW_TIME_ENTRY", entry_body("e2", project_id="nobody", seconds=60))
    counts = rollup.flush()
    assert counts == {"written": 2, "unmapped": 1}
    assert sandbox.notion.values(pages["task"])["Estimate (h)"] == 2.0
    assert RollupState.objects.get(clockify_id="nobody").error.startswith("No Notion page")


def test_a_missing_property_is_a_recorded_permanent_failure(client, sandbox, pages, settings):
    settings.NOTION_TRACKED_PROPERTY = "Hours logged"
    track(client, "NEW_TIME_ENTRY", "e1", 7200)
    assert rollup.flush() == {"failed": 2}
    assert not RollupState.objects.filter(dirty=True).exists()  # refused: not retried forever
    assert "Hours logged" in RollupState.objects.get(kind="task").error
