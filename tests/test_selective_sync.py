"""Selective sync: a filter per database decides which pages are synced (issue 15).

Pages outside the filter are never created (nor their children) and make no review noise; a
synced page that leaves the filter is archived like a close, through the same policy, review
and mass-change rules, and never deleted. Through the real clients into the emulators.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from syncapp.engine.records import MappingConfig, SyncFilter, notion_record
from syncapp.models import (
    ChangeRecord,
    DatabaseMapping,
    EntityMapping,
    MappingState,
    Outcome,
    PendingChange,
    RunStatus,
    SyncPolicy,
)
from syncapp.sandbox import ids
from tests.syncing import cid, clockify_entity, reset_calls, sync, writes

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID
TICK = "Sync to Clockify"
START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(sandbox, monkeypatch):
    """One injected clock for Notion's stamps and the product's: `clock(minutes)` moves it."""
    def move(minutes: float) -> None:
        moment = START + timedelta(minutes=minutes)
        sandbox.notion.clock = lambda: moment.timestamp()
        monkeypatch.setattr(timezone, "now", lambda: moment + timedelta(seconds=5))
    move(0)
    return move


def set_filter(kind: str, **rule) -> None:
    mapping = DatabaseMapping.for_kind(kind)
    mapping.sync_filter = rule
    mapping.full_clean()
    mapping.save()


@pytest.fixture
def ticked_projects(sandbox, clock):
    """Projects sync only when “Sync to Clockify” is ticked."""
    sandbox.notion.add_property(P, TICK, "checkbox")
    set_filter("project", property=TICK)
    client = sandbox.notion.create_page(C, {"Name": "Acme"})
    inside = sandbox.notion.create_page(P, {"Name": "Website", "Client": [client],
                                            "Status": "In progress", TICK: True})
    outside = sandbox.notion.create_page(P, {"Name": "Private notes", "Client": [client],
                                             "Status": "In progress"})
    task_in = sandbox.notion.create_page(T, {"Name": "Design", "Project": [inside]})
    task_out = sandbox.notion.create_page(T, {"Name": "Diary", "Project": [outside]})
    return {"client": client, "inside": inside, "outside": outside, "task_in": task_in,
            "task_out": task_out}


def names(entities) -> list[str]:
    return sorted(e["name"] for e in entities)


# -- pages outside the filter ---------------------------------------------------------------------
def test_pages_outside_the_filter_and_their_children_are_never_created(sandbox, ticked_projects,
                                                                        clock):
    w = ticked_projects
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    assert names(sandbox.clockify.projects()) == ["Website"]
    assert names(sandbox.clockify.tasks()) == ["Design"]
    assert not EntityMapping.objects.filter(notion_page_id__in=[w["outside"], w["task_out"]])
    assert sandbox.notion.values(w["outside"])["Clockify ID"] == ""
    # No review noise: the page itself leaves no trace; its child is skipped with the reason.
    assert not PendingChange.objects.exists()
    assert not ChangeRecord.objects.filter(notion_page_id=w["outside"]).exists()
    child = ChangeRecord.objects.get(notion_page_id=w["task_out"])
    assert (child.outcome, child.reason) == (Outcome.SKIPPED, "parent_excluded")
    assert "outside the sync filter" in child.error

    # Edited but still outside: a poll creates nothing either.
    clock(10)
    sandbox.notion.update_page(w["outside"], {"Name": "Private notes 2"})
    reset_calls(sandbox)
    poll = sync(mode="incremental")
    assert poll.mode == "incremental"
    assert writes(sandbox) == {"notion": 0, "clockify": 0}
    assert names(sandbox.clockify.projects()) == ["Website"]

    # Ticked: the next poll creates it and its task.
    clock(20)
    sandbox.notion.update_page(w["outside"], {TICK: True})
    sandbox.notion.update_page(w["task_out"], {"Name": "Diary"})
    sync(mode="incremental")
    assert names(sandbox.clockify.projects()) == ["Private notes 2", "Website"]
    assert names(sandbox.clockify.tasks()) == ["Design", "Diary"]


def test_a_status_filter_syncs_only_the_chosen_values(sandbox, clock):
    set_filter("task", property="Status", values=["In progress", "Done"])
    project = sandbox.notion.create_page(P, {"Name": "Website", "Status": "In progress"})
    doing = sandbox.notion.create_page(T, {"Name": "Build", "Project": [project],
                                           "Status": "In progress"})
    later = sandbox.notion.create_page(T, {"Name": "Someday", "Project": [project],
                                           "Status": "Not started"})
    sync()
    assert names(sandbox.clockify.tasks()) == ["Build"]
    assert clockify_entity(sandbox, "task", cid(doing))["status"] == "ACTIVE"
    assert not EntityMapping.objects.filter(notion_page_id=later).exists()


# -- leaving the filter ---------------------------------------------------------------------------
def test_a_page_unticked_is_archived_by_the_next_poll_never_deleted(sandbox, ticked_projects,
                                                                    clock):
    w = ticked_projects
    sync()
    project_id = cid(w["inside"])
    clock(10)
    sandbox.notion.update_page(w["inside"], {TICK: False})
    run = sync(mode="incremental")
    assert run.mode == "incremental" and run.status == RunStatus.SUCCEEDED, run.error_summary
    project = clockify_entity(sandbox, "project", project_id)
    assert project is not None and project["archived"] is True  # archived, not deleted
    change = ChangeRecord.objects.get(run=run, notion_page_id=w["inside"])
    assert (change.action, change.outcome, change.reason) == ("archive", Outcome.APPLIED,
                                                              "left_filter")
    assert EntityMapping.objects.get(notion_page_id=w["inside"]).state == MappingState.ARCHIVED
    # Notion is not touched: the page keeps its own status.
    assert sandbox.notion.values(w["inside"])["Status"] == "In progress"

    # Outside now: reopened by hand in Clockify, it is left alone (the page is not synced).
    sandbox.clockify.update_project(project_id, archived=False)
    reset_calls(sandbox)
    sync()
    assert writes(sandbox) == {"notion": 0, "clockify": 0}

    # Ticked again: back inside, synced as usual (its open status reopens it).
    sandbox.clockify.update_project(project_id, archived=True)
    clock(20)
    sandbox.notion.update_page(w["inside"], {TICK: True, "Name": "Website 2"})
    sync(mode="incremental")
    project = clockify_entity(sandbox, "project", project_id)
    assert (project["name"], project["archived"]) == ("Website 2", False)
    assert len(sandbox.clockify.projects()) == 1


def test_leaving_the_filter_waits_for_review_when_the_policy_says_so(sandbox, ticked_projects,
                                                                     admin_user):
    from syncapp.services import review
    from syncapp.services.review_apply import apply_pending

    w = ticked_projects
    sync()
    SyncPolicy.objects.update_or_create(pk=SyncPolicy.current().pk,
                                        defaults={"archives_need_review": True})
    sandbox.notion.update_page(w["inside"], {TICK: False})
    sync()
    pending = PendingChange.objects.get(status="pending")
    assert (pending.reason, pending.notion_page_id) == ("destructive", w["inside"])
    assert clockify_entity(sandbox, "project", cid(w["inside"]))["archived"] is False
    assert review.decide(pending.pk, admin_user, "approve")
    apply_pending(pending.pk)
    assert clockify_entity(sandbox, "project", cid(w["inside"]))["archived"] is True


def test_many_pages_leaving_at_once_hold_the_run(sandbox):
    set_filter("task", property="Status", values=["Not started", "In progress"])
    project = sandbox.notion.create_page(P, {"Name": "Big", "Status": "In progress"})
    tasks = [sandbox.notion.create_page(T, {"Name": f"T{i:02d}", "Project": [project],
                                            "Status": "In progress"}) for i in range(6)]
    sync()
    set_filter("task", property="Status", values=["Not started"])  # all six leave it
    held = sync()
    assert held.status == RunStatus.HELD
    assert PendingChange.objects.filter(reason="mass_change").count() == 6
    assert all(clockify_entity(sandbox, "task", cid(t))["status"] == "ACTIVE" for t in tasks)


def test_a_filter_that_cannot_be_read_changes_nothing(sandbox, ticked_projects):
    w = ticked_projects
    sync()
    set_filter("project", property="No such property")
    run = sync()
    assert clockify_entity(sandbox, "project", cid(w["inside"]))["archived"] is False
    failed = ChangeRecord.objects.get(run=run, notion_page_id=w["inside"])
    assert failed.outcome == Outcome.FAILED
    assert "“No such property” property (the sync filter)" in failed.error


# -- the rule itself, pure ----------------------------------------------------------------------
def test_the_filter_reads_checkboxes_and_option_values():
    def page(**props) -> dict:
        return {"id": "p1", "properties": {"Name": {"type": "title", "title": []}, **props}}

    tick = SyncFilter("Sync")
    status = SyncFilter("Stage", ("Doing",))
    config = MappingConfig("client", {}, [], tick)
    ticked = notion_record(config, page(Sync={"type": "checkbox", "checkbox": True}))
    unticked = notion_record(config, page(Sync={"type": "checkbox", "checkbox": False}))
    assert (ticked.excluded, unticked.excluded) == (False, True)
    assert unticked.fields["closed"] is True  # leaving reads as a close
    config = MappingConfig("client", {}, [], status)
    doing = notion_record(config, page(Stage={"type": "select", "select": {"name": "Doing"}}))
    empty = notion_record(config, page(Stage={"type": "select", "select": None}))
    wrong = notion_record(config, page(Stage={"type": "number", "number": 3}))
    assert (doing.excluded, empty.excluded, wrong.excluded) == (False, True, False)
    assert wrong.errors and "needs a Checkbox, Status or Select" in wrong.errors[0]
    assert SyncFilter.from_json(status.to_json()) == status
    assert SyncFilter.from_json({}) is None
