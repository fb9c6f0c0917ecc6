"""Status flowing back to Notion: a baseline moves only after both sides hold the value.

Issue: a project archived in Clockify was written back as a Status option the Notion
database does not have; Notion refused, but the baseline already said "closed", so the next
run took Notion's open status for a reopening and unarchived the project in Clockify.
"""

from __future__ import annotations

import pytest

from syncapp.models import (
    ChangeRecord,
    DatabaseMapping,
    EntityMapping,
    Outcome,
    PendingChange,
    ReviewStatus,
    RunStatus,
)
from syncapp.sandbox import ids
from tests.syncing import reset_calls, sync

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID


@pytest.fixture
def project(sandbox):
    """A Projects database without the "Archived" option, and one synced open project."""
    sandbox.notion.remove_option(P, "Status", "Archived")
    client = sandbox.notion.create_page(C, {"Name": "Acme"})
    page = sandbox.notion.create_page(P, {"Name": "Website", "Client": [client],
                                          "Status": "In progress"})
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    reset_calls(sandbox)
    return page


def clockify_id(page_id: str) -> str:
    return EntityMapping.objects.get(notion_page_id=page_id).clockify_id


def archive_in_clockify(sandbox, page_id: str) -> str:
    project_id = clockify_id(page_id)
    sandbox.clockify.update_project(project_id, archived=True)
    return project_id


def test_an_archive_in_clockify_is_written_as_a_closed_status_notion_has(sandbox, project):
    project_id = archive_in_clockify(sandbox, project)
    for _ in range(3):
        run = sync()
        assert run.status == RunStatus.SUCCEEDED, run.error_summary
        assert sandbox.clockify.project(project_id)["archived"] is True
    # "Archived" is not an option of this database; "Done" is, and it means closed.
    assert sandbox.notion.values(project)["Status"] == "Done"


def test_a_closed_status_notion_cannot_hold_is_flagged_and_never_undoes_the_archive(
        sandbox, project):
    DatabaseMapping.objects.filter(kind="project").update(closed_values="Archived")
    project_id = archive_in_clockify(sandbox, project)
    runs = [sync() for _ in range(3)]
    assert sandbox.clockify.project(project_id)["archived"] is True
    assert sandbox.notion.values(project)["Status"] == "In progress"
    assert all(run.status == RunStatus.PARTIAL for run in runs)
    pending = PendingChange.objects.get(notion_page_id=project, status=ReviewStatus.PENDING)
    assert pending.reason == "validation" and pending.action == "write_back"
    assert "add the option “Archived” to “Status”" in pending.explanation
    flagged = ChangeRecord.objects.filter(notion_page_id=project, outcome=Outcome.FLAGGED)
    assert flagged.count() == 3
    # Nothing was sent to Notion that it would refuse.
    assert not sandbox.notion.call_count("PATCH", project)


def test_the_flagged_status_is_written_once_the_option_exists(sandbox, project):
    DatabaseMapping.objects.filter(kind="project").update(closed_values="Archived")
    project_id = archive_in_clockify(sandbox, project)
    sync()
    DatabaseMapping.objects.filter(kind="project").update(closed_values="Done, Archived")
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    assert sandbox.notion.values(project)["Status"] == "Done"
    assert sandbox.clockify.project(project_id)["archived"] is True
    item = PendingChange.objects.get(notion_page_id=project)
    assert item.status == ReviewStatus.RESOLVED and item.resolved_by == run


def test_a_failed_notion_write_keeps_the_baseline_and_is_retried_next_run(sandbox, project):
    project_id = archive_in_clockify(sandbox, project)
    sandbox.notion.faults.schedule("500", method="PATCH", path_contains=project, times=20)
    failed = sync()
    assert failed.status == RunStatus.PARTIAL
    record = ChangeRecord.objects.get(run=failed, action="write_back")
    assert record.outcome == Outcome.FAILED and "Notion" in record.error
    baseline = EntityMapping.objects.get(notion_page_id=project).baseline
    assert baseline["notion"]["closed"] is False and baseline["clockify"]["closed"] is False
    sandbox.notion.faults.clear()
    retried = sync()
    assert retried.status == RunStatus.SUCCEEDED, retried.error_summary
    assert sandbox.notion.values(project)["Status"] == "Done"
    assert sandbox.clockify.project(project_id)["archived"] is True
    sync()
    assert sandbox.clockify.project(project_id)["archived"] is True


def test_a_failed_clockify_write_keeps_the_baseline_and_is_retried_next_run(sandbox, project):
    project_id = clockify_id(project)
    sandbox.notion.update_page(project, {"Name": "Website relaunch"})
    sandbox.clockify.faults.schedule("500", method="PUT", path_contains=project_id, times=20)
    failed = sync()
    assert failed.status == RunStatus.PARTIAL
    assert EntityMapping.objects.get(notion_page_id=project).baseline["notion"]["name"] \
        == "Website"
    sandbox.clockify.faults.clear()
    sync()
    assert sandbox.clockify.project(project_id)["name"] == "Website relaunch"


# -- values that cannot be synced as they are become validation items, never guesses --------
def pending_for(page_id: str) -> PendingChange:
    return PendingChange.objects.get(notion_page_id=page_id, status=ReviewStatus.PENDING)


def test_a_project_linking_several_clients_is_flagged_not_filed_under_one(sandbox):
    acme = sandbox.notion.create_page(C, {"Name": "Acme"})
    globex = sandbox.notion.create_page(C, {"Name": "Globex"})
    page = sandbox.notion.create_page(P, {"Name": "Shared site", "Client": [acme, globex],
                                          "Status": "In progress"})
    run = sync()
    assert run.status == RunStatus.PARTIAL
    assert not [p for p in sandbox.clockify.projects() if p["name"] == "Shared site"]
    item = pending_for(page)
    assert item.reason == "validation"
    assert "“Client” links 2 pages" in item.explanation and "keep one" in item.explanation
    sandbox.notion.update_page(page, {"Client": [globex]})
    fixed = sync()
    assert fixed.status == RunStatus.SUCCEEDED, fixed.error_summary
    created = [p for p in sandbox.clockify.projects() if p["name"] == "Shared site"]
    assert [p["clientId"] for p in created] == [clockify_id(globex)]


def test_a_colour_clockify_cannot_show_is_flagged_with_the_fix(sandbox):
    page = sandbox.notion.create_page(P, {"Name": "Brand", "Status": "In progress",
                                          "Color": "Mauve-ish"})
    sync()
    assert not [p for p in sandbox.clockify.projects() if p["name"] == "Brand"]
    item = pending_for(page)
    assert item.reason == "validation"
    assert "“Mauve-ish”" in item.explanation and "#rrggbb" in item.explanation


def test_a_relation_to_a_page_of_another_database_is_flagged_with_the_fix(sandbox):
    other_db, other_source = sandbox.notion.add_database("Companies", {"Name": "title"})
    stranger = sandbox.notion.create_page(other_source, {"Name": "Not a client"})
    page = sandbox.notion.create_page(P, {"Name": "Odd", "Status": "In progress"})
    # Notion stores relation targets by id; a relation edited to another database's page
    sandbox.notion.update_page(page, {"Client": [stranger]})
    sync()
    item = pending_for(page)
    assert item.reason == "validation"
    assert "not a synced page of the Clients database" in item.explanation
    assert "link a page of the Clients database" in item.explanation
