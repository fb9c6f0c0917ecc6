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
