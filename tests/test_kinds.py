"""The registry of kinds (syncapp/engine/kinds/): one module per kind, asked instead of
branching on kind names. Conversions are held against Clockify's recorded payloads and
OpenAPI in ../shared/reference; the Clockify calls go through the client into the emulator.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings

from syncapp.engine import kinds
from syncapp.engine.fields import READABLE, READABLE_TYPES
from syncapp.engine.records import MappingConfig, clockify_record, notion_record
from syncapp.models import DatabaseMapping
from syncapp.services import config_check, connections
from syncapp.services.config_check import ERROR, CheckResult
from syncapp.views.links import CLOCKIFY_APP
from tests.conftest import load_shared


def openapi_properties(schema: str) -> set[str]:
    spec = load_shared("clockify-openapi.json")
    return set(spec["components"]["schemas"][schema]["properties"])


def recorded_task() -> dict:
    return load_shared("clockify-samples/webhook-task-payload.activepieces.json")


def recorded_project() -> dict:
    return load_shared("clockify-samples/webhook-NEW_TIME_ENTRY.activepieces.json")["project"]


# -- the registry ---------------------------------------------------------------------------------
def test_the_registry_lists_exactly_client_project_task_parents_first():
    assert [spec.name for spec in kinds.KINDS] == ["client", "project", "task"]
    assert kinds.KIND_NAMES == ("client", "project", "task")
    seen: set[str] = set()
    for spec in kinds.KINDS:
        assert spec.parent is None or spec.parent in seen  # a parent is synced first
        seen.add(spec.name)
    assert [spec.name for spec in kinds.children_first()] == ["task", "project"]


def test_an_unknown_kind_is_refused_by_get_and_none_from_find():
    with pytest.raises(KeyError):
        kinds.get("time_entry")
    assert kinds.find("time_entry") is None
    assert kinds.find("task") is kinds.get("task")


def test_each_kind_names_its_own_database_setting_and_every_one_exists():
    assert kinds.database_settings() == ("NOTION_CLIENTS_DATABASE_ID",
                                         "NOTION_PROJECTS_DATABASE_ID",
                                         "NOTION_TASKS_DATABASE_ID")
    for name in kinds.database_settings():
        assert hasattr(django_settings, name)


def test_database_ids_come_from_the_settings_object_passed_in():
    # A sync profile is not django.conf.settings: the registry must not reach for globals.
    profile = SimpleNamespace(NOTION_CLIENTS_DATABASE_ID="c1", NOTION_PROJECTS_DATABASE_ID="p1",
                              NOTION_TASKS_DATABASE_ID="t1")
    other = SimpleNamespace(NOTION_CLIENTS_DATABASE_ID="c2")
    assert kinds.database_ids(profile) == {"client": "c1", "project": "p1", "task": "t1"}
    assert kinds.database_ids(other) == {"client": "c2", "project": "", "task": ""}


def test_every_field_a_kind_syncs_from_a_property_has_readable_types():
    for spec in kinds.KINDS:
        for field in spec.fields:
            assert field.name == "name" or field.name in READABLE, (spec.name, field.name)
        assert set(spec.default_properties) <= set(READABLE)


# -- canonical values in and out -----------------------------------------------------------------
def test_a_recorded_task_converts_in_and_back_out_unchanged():
    sample = recorded_task()
    task = kinds.get("task")
    fields, parent = task.from_clockify(sample)
    assert fields == {"name": "Test", "closed": False, "estimate": None}
    assert parent == sample["projectId"]
    body = task.to_clockify(fields, parent)
    assert body == {"name": "Test", "status": "ACTIVE", "estimate": "PT0S"}
    assert set(body) <= openapi_properties("UpdateTaskRequest")
    assert task.from_clockify({**sample, **body}) == (fields, parent)


def test_a_recorded_project_converts_in_and_back_out_unchanged():
    sample = recorded_project()
    project = kinds.get("project")
    fields, parent = project.from_clockify(sample)
    assert fields == {"name": "Test", "closed": False, "billable": True, "note": None,
                      "color": "#039be5", "estimate": None}  # activeEstimate NONE
    assert parent is None  # clientId "" means no client
    body = project.to_clockify({**fields, "parent": "c-1"}, "c-1")
    # The estimate is no part of the PUT: it goes out in PATCH …/estimate's body.
    estimate = body.pop("timeEstimate")
    assert set(body) <= openapi_properties("UpdateProjectRequest")
    assert set(estimate) <= openapi_properties("TimeEstimateRequest")
    assert estimate["active"] is False and estimate["estimate"] == "PT0S"
    assert project.to_clockify({"estimate": 55}, None)["timeEstimate"] == {
        "estimate": "PT55H", "type": "MANUAL", "active": True, "resetOption": None,
        "includeNonBillable": True}
    assert project.from_clockify({**sample, **body}) == (fields, "c-1")


def test_a_client_converts_in_and_back_out_within_clockifys_schema():
    client = kinds.get("client")
    entity = {"id": "c-1", "name": " Acme ", "archived": True, "email": "",
              "address": "1 Road", "note": None}
    fields, parent = client.from_clockify(entity)
    assert fields == {"name": " Acme ", "closed": True, "email": None, "address": "1 Road",
                      "note": None}
    assert parent is None
    body = client.to_clockify(fields, None)
    assert set(body) <= openapi_properties("UpdateClientRequestV1")
    assert client.from_clockify({**entity, **body}) == (fields, None)


def test_creates_carry_no_closed_flag_and_a_task_no_project_in_its_body():
    assert kinds.get("client").create_body({"name": "A", "closed": False}, None) == {"name": "A"}
    assert kinds.get("project").create_body(
        {"name": "P", "closed": False, "parent": "c-1", "color": None}, "c-1") == \
        {"name": "P", "clientId": "c-1"}
    task_body = kinds.get("task").create_body(
        {"name": "T", "closed": False, "parent": "p-1", "estimate": 1.5}, "p-1")
    assert task_body == {"name": "T", "status": "ACTIVE", "estimate": "PT1H30M"}
    assert set(task_body) <= openapi_properties("TaskRequestV1")


def test_clockify_record_takes_its_fields_from_the_kind():
    record = clockify_record("task", recorded_task())
    assert (record.kind, record.name, record.parent_id) == \
        ("task", "Test", recorded_task()["projectId"])


# -- Clockify calls, through the client into the emulator -----------------------------------------
def test_each_kind_creates_reads_lists_closes_and_reopens_through_the_client(sandbox):
    clockify = connections.clockify_client(max_retries=0)
    client, project, task = kinds.KINDS
    made_client = client.create(clockify, client.create_body({"name": "Kinds Co"}, None))
    made_project = project.create(clockify, project.create_body(
        {"name": "Kinds project", "parent": made_client["id"]}, made_client["id"]))
    made_task = task.create(clockify, task.create_body({"name": "Kinds task"}, None),
                            made_project["id"])
    for spec, made, parent_id in ((client, made_client, None),
                                  (project, made_project, made_client["id"]),
                                  (task, made_task, made_project["id"])):
        assert spec.get(clockify, made["id"], parent_id)["id"] == made["id"]
        listed = spec.list_all(clockify, [parent_id] if spec.under_parent else [])
        assert made["id"] in {e["id"] for e in listed}
        closed = spec.close(clockify, made["id"], parent_id)
        assert spec.from_clockify(closed)[0]["closed"] is True
        reopened = spec.reopen(clockify, made["id"], parent_id)
        assert spec.from_clockify(reopened)[0]["closed"] is False
    assert sandbox.clockify.task(made_task["id"])["status"] == "ACTIVE"


def test_each_kind_knows_its_clockify_app_url():
    assert kinds.get("client").app_url(CLOCKIFY_APP, "c1") == \
        f"{CLOCKIFY_APP}/clients?search=c1"
    assert kinds.get("project").app_url(CLOCKIFY_APP, "p1") == \
        f"{CLOCKIFY_APP}/projects/p1/edit"
    assert kinds.get("task").app_url(CLOCKIFY_APP, "t1", "p1") == \
        f"{CLOCKIFY_APP}/projects/p1/edit#tasks"
    assert kinds.get("task").app_url(CLOCKIFY_APP, "t1") == f"{CLOCKIFY_APP}/projects"


# -- one table of readable types, for the reader and the configuration check ----------------------
def formula_page(value: str) -> dict:
    return {"id": "page-1", "properties": {
        "Name": {"type": "title", "title": [{"plain_text": "Acme", "type": "text",
                                             "text": {"content": "Acme"}}]},
        "Closed?": {"id": "f", "type": "formula", "formula": {"type": "string",
                                                              "string": value}}}}


def test_the_reader_and_the_config_check_share_one_table_of_readable_types():
    for key, readable in READABLE.items():
        assert READABLE_TYPES[key] == readable.types


def test_a_formula_for_closed_is_read_by_the_sync():
    config = MappingConfig("client", {"closed": "Closed?"}, ["Yes"])
    record = notion_record(config, formula_page("Yes"))
    assert record.errors == []
    assert record.fields["closed"] is True
    assert notion_record(config, formula_page("No")).fields["closed"] is False


@pytest.mark.django_db
def test_a_formula_for_closed_is_not_an_error_in_the_config_check():
    schema = {"Name": {"type": "title"}, "Closed?": {"type": "formula", "formula": {}},
              "Clockify ID": {"type": "rich_text"}}
    mapping = DatabaseMapping(kind="client", closed_values="Yes",
                              properties={"closed": "Closed?", "clockify_id": "Clockify ID"})
    result = CheckResult()
    config_check._check_database(result, "Clients database", "client", schema, mapping, None)
    assert [f for f in result.findings if f.level == ERROR] == []
    assert "every mapped property" in result.findings[-1].message


@pytest.mark.django_db
def test_a_people_property_for_closed_is_still_an_error_in_the_config_check():
    schema = {"Name": {"type": "title"}, "Closed?": {"type": "people", "people": {}}}
    mapping = DatabaseMapping(kind="client", closed_values="", properties={"closed": "Closed?"})
    result = CheckResult()
    config_check._check_database(result, "Clients database", "client", schema, mapping, None)
    errors = [f.message for f in result.findings if f.level == ERROR]
    assert errors == ["“Closed?” is a People property; it must be Checkbox, Status, Select or "
                      "Formula (it says whether the record is closed (archived / done in "
                      "Clockify))."]
