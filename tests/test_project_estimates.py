# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name
"""Project estimates (issue 15): Notion's "Estimate (h)" onto the project's time estimate.

Clockify sets a project's estimate only with PATCH …/projects/{id}/estimate (the PUT body has
none); the project DTO says which estimate is in effect (`activeEstimate`) and holds the time
estimate in milliseconds (`timeEstimate.estimate`). Every check reads the project back through
the API, as the sync does, not the emulator's storage.
"""

from __future__ import annotations

import pytest

from syncapp.clients.errors import ValidationFailed
from syncapp.engine.fields import milliseconds_to_hours
from syncapp.engine.kinds.project import estimate_in_effect
from syncapp.models import ChangeRecord, EntityMapping, Outcome, RunStatus
from syncapp.sandbox import ids
from syncapp.services import connections
from tests.dashboard import fresh_cache, staff, staff_client  # noqa: F401
from tests.syncing import cid, reset_calls, sync, writes

pytestmark = pytest.mark.django_db
C, P = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID


def in_effect(project_id: str) -> float | None:
    """The project's estimate in effect, in hours, as the API answers it."""
    return estimate_in_effect(connections.clockify_client().get_project(project_id))


@pytest.fixture
def project(sandbox):
    client = sandbox.notion.create_page(C, {"Name": "Acme"})
    return sandbox.notion.create_page(P, {"Name": "Website", "Client": [client],
                                          "Status": "In progress", "Estimate (h)": 55})


def test_the_estimate_is_created_with_the_project_and_a_change_follows(sandbox, project):
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    project_id = cid(project)
    answer = connections.clockify_client().get_project(project_id)
    assert answer["activeEstimate"] == "TIME"
    assert answer["timeEstimate"]["type"] == "MANUAL"
    assert answer["timeEstimate"]["estimate"] == 55 * 3_600_000  # milliseconds
    assert answer["estimate"] == {"estimate": "PT55H", "type": "MANUAL"}
    assert in_effect(project_id) == 55
    assert sandbox.clockify.call_count("POST", "/projects") == 1
    assert sandbox.clockify.call_count("PATCH", "/estimate") == 1

    reset_calls(sandbox)
    assert sync().status == RunStatus.SUCCEEDED
    assert writes(sandbox) == {"notion": 0, "clockify": 0}  # it reads back as planted

    sandbox.notion.update_page(project, {"Estimate (h)": 12.5})
    reset_calls(sandbox)
    assert sync().status == RunStatus.SUCCEEDED
    assert in_effect(project_id) == 12.5
    # Only the estimate changed: one PATCH, no PUT (which replaces the whole body).
    assert sandbox.clockify.call_count("PATCH", "/estimate") == 1
    assert sandbox.clockify.call_count("PUT") == 0
    record = ChangeRecord.objects.filter(kind="project", action="update").latest("id")
    assert record.fields["estimate"]["before"] == 55 and record.fields["estimate"]["after"] == 12.5

    sandbox.notion.update_page(project, {"Estimate (h)": None})  # emptied: no estimate
    assert sync().status == RunStatus.SUCCEEDED
    assert in_effect(project_id) is None
    assert connections.clockify_client().get_project(project_id)["activeEstimate"] == "NONE"


def test_a_rename_and_an_estimate_change_go_out_together_and_keep_each_other(sandbox, project):
    sync()
    project_id = cid(project)
    sandbox.notion.update_page(project, {"Name": "Web shop", "Estimate (h)": 80,
                                         "Billable": True})
    reset_calls(sandbox)
    assert sync().status == RunStatus.SUCCEEDED
    answer = connections.clockify_client().get_project(project_id)
    assert (answer["name"], answer["billable"], in_effect(project_id)) == ("Web shop", True, 80)
    assert sandbox.clockify.call_count("PUT") == 1
    assert sandbox.clockify.call_count("PATCH", "/estimate") == 1


def test_an_estimate_changed_in_clockify_is_restored_from_notion(sandbox, project):
    sync()
    project_id = cid(project)
    sandbox.clockify.set_project_estimate(project_id, {"timeEstimate": {
        "estimate": "PT3H", "type": "MANUAL", "active": True}})
    assert in_effect(project_id) == 3
    sync()
    assert in_effect(project_id) == 55
    record = ChangeRecord.objects.filter(kind="project", action="update").latest("id")
    assert record.fields["estimate"]["note"] == "changed in Clockify; restored from Notion"


def test_a_task_based_estimate_in_clockify_is_left_alone_while_notion_has_none(sandbox):
    page = sandbox.notion.create_page(P, {"Name": "Intranet", "Status": "In progress"})
    sync()
    project_id = cid(page)
    sandbox.clockify.create_task(project_id, "Build", estimate="PT4H")
    sandbox.clockify.set_project_estimate(project_id, {"timeEstimate": {"type": "AUTO",
                                                                        "active": True}})
    reset_calls(sandbox)
    sync()
    answer = connections.clockify_client().get_project(project_id)
    assert answer["timeEstimate"]["type"] == "AUTO" and answer["activeEstimate"] == "TIME"
    assert milliseconds_to_hours(answer["timeEstimate"]["estimate"]) == 4  # the tasks' sum
    assert sandbox.clockify.call_count("PATCH", "/estimate") == 0


@pytest.mark.parametrize("fault", ["500", "commit_then_drop"])
def test_a_create_whose_estimate_fails_is_not_duplicated_and_ends_visible(sandbox, project,
                                                                          fault):
    """The POST lands, the PATCH fails (an error after the retries, or an answer lost after
    Clockify applied it): the project is mapped and its ID written back, the failure is a
    failed record of the run, and the next run sets the estimate without a second POST."""
    sandbox.clockify.faults.schedule(fault, method="PATCH", path_contains="/estimate", times=5)
    run = sync()
    assert run.status == RunStatus.PARTIAL
    project_id = cid(project)
    assert sandbox.notion.values(project)["Clockify ID"] == project_id
    assert run.counts["project"]["created"] == 1 and run.counts["project"]["failed"] == 1
    failed = ChangeRecord.objects.get(run=run, kind="project", outcome=Outcome.FAILED)
    assert "Created in Clockify, but its estimate could not be set" in failed.error
    assert "estimate" in failed.fields
    projects = [p for p in sandbox.clockify.projects() if p["name"] == "Website"]
    assert [p["id"] for p in projects] == [project_id]

    sandbox.clockify.faults.clear()
    reset_calls(sandbox)
    again = sync()
    assert again.status == RunStatus.SUCCEEDED, again.error_summary
    assert sandbox.clockify.call_count("POST", "/projects") == 0
    assert [p["id"] for p in sandbox.clockify.projects() if p["name"] == "Website"] == \
        [project_id]
    assert in_effect(project_id) == 55
    if fault == "500":  # the second run wrote it: both sides hold it, the baseline moved
        baseline = EntityMapping.objects.get(notion_page_id=project).baseline
        assert baseline["notion"]["estimate"] == baseline["clockify"]["estimate"] == 55


def test_the_emulator_follows_the_estimate_request_schema(sandbox):
    api = connections.clockify_client()
    project = api.create_project({"name": "Schema", "estimate": {"estimate": "PT9H",
                                                                "type": "MANUAL"}})
    # ProjectRequest's legacy estimate has no `active`: stored, not in effect.
    assert project["activeEstimate"] == "NONE" and estimate_in_effect(project) is None
    # `active` omitted takes the schema's default (false).
    quiet = api.update_project_estimate(project["id"], {"timeEstimate": {
        "estimate": "PT2H", "type": "MANUAL"}})
    assert quiet["activeEstimate"] == "NONE" and quiet["timeEstimate"]["estimate"] == 7_200_000
    budget = api.update_project_estimate(project["id"], {"budgetEstimate": {
        "estimate": 10000, "type": "MANUAL", "active": True}})
    assert budget["activeEstimate"] == "BUDGET" and budget["budgetEstimate"]["estimate"] == 10000
    timed = api.update_project_estimate(project["id"], {"timeEstimate": {
        "estimate": "PT1H30M", "type": "MANUAL", "active": True, "resetOption": "MONTHLY"}})
    assert timed["activeEstimate"] == "TIME" and timed["budgetEstimate"]["active"] is False
    assert timed["timeEstimate"]["resetOption"] == "MONTHLY"
    assert estimate_in_effect(timed) == 1.5
    for bad in ({"timeEstimate": {"estimate": "90 minutes"}},
                {"timeEstimate": {"type": "SOMETIMES"}},
                {"timeEstimate": {"resetOption": "DAILY"}},
                {"budgetEstimate": {"estimate": -1}},
                {"timeEstimate": {"active": True}, "budgetEstimate": {"active": True}}):
        with pytest.raises(ValidationFailed):
            api.update_project_estimate(project["id"], bad)
    assert estimate_in_effect(api.get_project(project["id"])) == 1.5  # refusals change nothing
    with pytest.raises(Exception, match="doesn't belong"):
        api.update_project_estimate("0" * 24, {"timeEstimate": {"active": False}})


@pytest.mark.parametrize(("value", "hours"), [
    (0, None), (198_000_000, 55), ("60000", 0.02), ("5400000", 1.5), ("PT1H30M", 1.5),
    (None, None), ("", None), (True, None),
])
def test_time_estimate_milliseconds_read_as_hours(value, hours):
    assert milliseconds_to_hours(value) == hours


def test_the_estimate_in_effect_needs_a_manual_active_time_estimate():
    manual = {"estimate": 3_600_000, "type": "MANUAL", "active": True}
    assert estimate_in_effect({"activeEstimate": "TIME", "timeEstimate": manual}) == 1
    assert estimate_in_effect({"activeEstimate": "BUDGET", "timeEstimate": manual}) is None
    assert estimate_in_effect({"activeEstimate": "NONE", "timeEstimate": manual}) is None
    assert estimate_in_effect({"timeEstimate": manual}) == 1  # no activeEstimate: its flag
    assert estimate_in_effect({"activeEstimate": "TIME",
                               "timeEstimate": {**manual, "type": "AUTO"}}) is None
    assert estimate_in_effect({}) is None


def test_a_negative_estimate_is_a_validation_item_and_nothing_is_sent(sandbox):
    page = sandbox.notion.create_page(P, {"Name": "Minus", "Status": "In progress",
                                          "Estimate (h)": -4})
    run = sync()
    record = ChangeRecord.objects.get(run=run, notion_page_id=page)
    assert record.outcome == Outcome.FAILED and record.reason == "validation"
    assert "an estimate cannot be negative" in record.error
    assert not [p for p in sandbox.clockify.projects() if p["name"] == "Minus"]


def test_the_sandbox_record_page_sets_an_estimate_as_a_person_would(sandbox, project,
                                                                     staff_client):
    """The demo's Clockify page edits the estimate through the API; the next sync restores
    Notion's value (the estimate flows Notion → Clockify)."""
    sync()
    project_id = cid(project)
    url = f"/sandbox/clockify/project/{project_id}/"
    page = staff_client.get(url).content.decode()
    assert 'id="estimate-form"' in page and 'value="55.0"' in page
    staff_client.post(url, {"action": "estimate", "hours": "7.5"})
    assert in_effect(project_id) == 7.5
    refused = staff_client.post(url, {"action": "estimate", "hours": "-2"}, follow=True)
    assert "Give the estimate as a number of hours" in refused.content.decode()
    assert in_effect(project_id) == 7.5
    sync()
    assert in_effect(project_id) == 55


def test_an_estimated_project_keeps_the_recorded_payloads_shape(sandbox):
    """After the PATCH the DTO still has the recorded project's keys and JSON types:
    `timeEstimate.estimate` a number (milliseconds), `estimate` the legacy ISO object."""
    from tests.conftest import load_shared
    from tests.shapes import shape_mismatches

    sample = load_shared("clockify-samples/webhook-NEW_TIME_ENTRY.activepieces.json")["project"]
    api = connections.clockify_client()
    project = api.create_project({"name": "Shaped"})
    ours = api.update_project_estimate(project["id"], {"timeEstimate": {
        "estimate": "PT2H15M", "type": "MANUAL", "active": True}})
    assert shape_mismatches(sample, ours) == []
    assert ours["timeEstimate"]["estimate"] == 8_100_000
    assert ours["estimate"] == {"estimate": "PT2H15M", "type": "MANUAL"}


def test_every_two_decimal_estimate_reads_back_as_itself():
    """Notion's hours are rounded to 2 decimals; sent to the second, each comes back equal,
    so no estimate is sent again on every run (whole minutes turned 0.34 into 0.33)."""
    from syncapp.engine.fields import duration_to_hours, hours_to_duration

    for hundredths in range(1, 100_001, 7):
        hours = hundredths / 100
        duration = hours_to_duration(hours)
        assert duration_to_hours(duration) == hours, (hours, duration)
        assert milliseconds_to_hours(round(hours * 3_600_000)) == hours
    assert hours_to_duration(0.34) == "PT20M24S" and hours_to_duration(1.5) == "PT1H30M"
    assert hours_to_duration(0) is None and hours_to_duration(-1) is None
