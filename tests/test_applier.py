"""The applier says what each planned change came to, and never writes into the plan.

Driven through the real session: clients over `requests` into the emulators, the planner,
the applier and the ORM.
"""

from __future__ import annotations

import dataclasses

import pytest

from syncapp.engine.plan import plan
from syncapp.models import DatabaseMapping, EntityMapping, Outcome, SyncRun
from syncapp.sandbox import ids
from syncapp.services import connections
from syncapp.services.apply import UNCHANGED, Applied
from syncapp.services.sync import SyncOptions, SyncSession
from tests.syncing import sync

pytestmark = pytest.mark.django_db
C, P = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID


def planned(kind: str, **options) -> tuple[SyncSession, object, list]:
    run = SyncRun.objects.create(trigger="command", status="running",
                                 dry_run=options.get("dry_run", False))
    session = SyncSession(run, SyncOptions(**options), connections.notion_client(),
                          connections.clockify_client())
    session.read_notion(None)
    for parent in ("client", "project", "task")[:("client", "project", "task").index(kind)]:
        session.sync_kind(parent)
    snapshot = session.snapshot(kind)
    return session, snapshot, plan(snapshot)


def apply_each(session, snapshot, changes) -> dict[str, Applied]:
    results = {}
    for change in changes:
        before = dataclasses.asdict(change)  # a deep copy
        results[change.name] = session.applier.apply(snapshot, change)
        assert dataclasses.asdict(change) == before, f"the plan of {change.name} was written to"
    return results


def test_a_create_comes_to_applied_with_the_new_clockify_id(sandbox):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    session, snapshot, changes = planned("client")
    result = apply_each(session, snapshot, changes)["Acme"]
    [created] = sandbox.clockify.clients()
    assert result == Applied(Outcome.APPLIED, created["id"])
    assert EntityMapping.objects.get(kind="client").clockify_id == created["id"]


def test_a_create_whose_answer_was_lost_comes_to_failed_with_the_reason(sandbox):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    sandbox.clockify.faults.schedule("500", method="POST")
    session, snapshot, changes = planned("client")
    result = apply_each(session, snapshot, changes)["Acme"]
    assert result.outcome == Outcome.FAILED and result.clockify_id is None
    assert "may have been applied" in result.error and "reads Clockify back" in result.error


def test_a_dry_run_comes_to_planned_and_writes_nothing(sandbox):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    session, snapshot, changes = planned("client", dry_run=True)
    assert apply_each(session, snapshot, changes)["Acme"] == Applied(Outcome.PLANNED, None)
    assert sandbox.clockify.clients() == []


def test_an_edit_on_both_sides_comes_to_flagged_and_an_agreed_record_to_unchanged(sandbox):
    acme = sandbox.notion.create_page(C, {"Name": "Acme"})
    sandbox.notion.create_page(C, {"Name": "Globex"})
    sync()
    clockify_id = EntityMapping.objects.get(notion_page_id=acme).clockify_id
    sandbox.notion.update_page(acme, {"Name": "Acme (Notion)"})
    sandbox.clockify.update_client(clockify_id, name="Acme (Clockify)")
    session, snapshot, changes = planned("client")
    results = apply_each(session, snapshot, changes)
    assert results["Acme (Notion)"] == Applied(Outcome.FLAGGED, clockify_id)
    assert results["Globex"].outcome == UNCHANGED


def test_a_status_notion_cannot_hold_comes_to_flagged_not_applied(sandbox):
    sandbox.notion.remove_option(P, "Status", "Archived")
    page = sandbox.notion.create_page(P, {"Name": "Website", "Status": "In progress"})
    sync()
    DatabaseMapping.objects.filter(kind="project").update(closed_values="Archived")
    clockify_id = EntityMapping.objects.get(notion_page_id=page).clockify_id
    sandbox.clockify.update_project(clockify_id, archived=True)
    session, snapshot, changes = planned("project")
    result = apply_each(session, snapshot, changes)["Website"]
    assert result.outcome == Outcome.FLAGGED and result.clockify_id == clockify_id
    assert "closed" in result.error
