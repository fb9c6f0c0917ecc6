"""The sync through the real clients into the emulators (issue: sync engine)."""

from __future__ import annotations

import pytest

from syncapp.models import ChangeRecord, EntityMapping, MappingState, Outcome, RunStatus
from syncapp.sandbox import ids
from syncapp.sandbox.demo import TOO_LONG_NAME, seed_demo
from tests.syncing import (
    assert_mirror,
    clockify_entity,
    errors_for,
    reset_calls,
    sync,
    writes,
)

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID


@pytest.fixture
def small(sandbox):
    """One client, one project, two tasks, synced once."""
    client = sandbox.notion.create_page(C, {"Name": "Acme"})
    other = sandbox.notion.create_page(C, {"Name": "Globex"})
    project = sandbox.notion.create_page(P, {"Name": "Website", "Client": [client],
                                             "Status": "In progress", "Billable": True})
    task = sandbox.notion.create_page(T, {"Name": "Design", "Project": [project],
                                          "Status": "Not started", "Estimate (h)": 2})
    run = sync()
    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    reset_calls(sandbox)
    return {"client": client, "other": other, "project": project, "task": task}


def cid(page_id: str) -> str:
    return EntityMapping.objects.get(notion_page_id=page_id).clockify_id


def test_initial_sync_of_the_demo_mirrors_and_a_second_run_writes_nothing(sandbox):
    seed_demo(sandbox)
    run = sync()
    assert run.status == RunStatus.PARTIAL  # the demo holds deliberately bad records
    assert_mirror(sandbox)
    linked = EntityMapping.objects.filter(kind="client", name="Acme Corporation").get()
    assert len([c for c in sandbox.clockify.clients() if c["name"] == "Acme Corporation"]) == 1
    assert ChangeRecord.objects.get(run=run, mapping=linked).action == "link"
    for mapping in EntityMapping.objects.all():
        assert sandbox.notion.values(mapping.notion_page_id)["Clockify ID"] == mapping.clockify_id
    assert run.counts["task"]["created"] > 150
    assert run.api_calls["clockify"]["total"] > 0
    reset_calls(sandbox)
    second = sync()
    assert writes(sandbox) == {"notion": 0, "clockify": 0}
    assert second.counts["client"].get("created", 0) == 0
    assert_mirror(sandbox)


def test_one_write_per_entity_on_initial_sync(sandbox):
    client = sandbox.notion.create_page(C, {"Name": "Acme"})
    project = sandbox.notion.create_page(P, {"Name": "Web", "Client": [client]})
    sandbox.notion.create_page(T, {"Name": "Do", "Project": [project]})
    sync()
    assert writes(sandbox) == {"notion": 3, "clockify": 3}


def test_rename_propagates(sandbox, small):
    sandbox.notion.update_page(small["project"], {"Name": "Website 2.0"})
    run = sync()
    assert clockify_entity(sandbox, "project", cid(small["project"]))["name"] == "Website 2.0"
    assert run.counts["project"]["updated"] == 1
    change = ChangeRecord.objects.get(run=run, kind="project", action="update")
    assert change.fields["name"] == {"before": "Website", "after": "Website 2.0",
                                     "side": "clockify"}


def test_reparent_project_to_another_client(sandbox, small):
    sandbox.notion.update_page(small["project"], {"Client": [small["other"]]})
    run = sync()
    project = clockify_entity(sandbox, "project", cid(small["project"]))
    assert project["clientId"] == cid(small["other"])
    assert ChangeRecord.objects.get(run=run, kind="project").action == "reparent"
    assert_mirror(sandbox)


def test_close_by_checkbox_and_by_status_then_reopen(sandbox, small):
    sandbox.notion.update_page(small["client"], {"Archived": True})
    sandbox.notion.update_page(small["project"], {"Status": "Obsolete"})
    sandbox.notion.update_page(small["task"], {"Status": "Done"})
    run = sync()
    assert clockify_entity(sandbox, "client", cid(small["client"]))["archived"] is True
    assert clockify_entity(sandbox, "project", cid(small["project"]))["archived"] is True
    assert clockify_entity(sandbox, "task", cid(small["task"]))["status"] == "DONE"
    assert {r.action for r in ChangeRecord.objects.filter(run=run)} == {"archive"}
    assert EntityMapping.objects.get(notion_page_id=small["client"]).state == "archived"
    sandbox.notion.update_page(small["project"], {"Status": "In progress"})
    sync()
    assert clockify_entity(sandbox, "project", cid(small["project"]))["archived"] is False
    assert_mirror(sandbox)


def test_trashed_page_is_archived_never_deleted(sandbox, small):
    sandbox.notion.trash_page(small["task"])
    run = sync()
    assert clockify_entity(sandbox, "task", cid(small["task"]))["status"] == "DONE"
    assert ChangeRecord.objects.get(run=run, kind="task").action == "archive"
    assert sandbox.clockify.call_count("DELETE") == 0
    reset_calls(sandbox)
    sync()  # an archived, trashed page costs no further lookup
    assert sandbox.notion.call_count("GET", "/v1/pages/") == 0


def test_task_done_in_clockify_is_written_to_notion(sandbox, small):
    sandbox.clockify.update_task(cid(small["task"]), status="DONE")
    run = sync()
    assert sandbox.notion.values(small["task"])["Status"] == "Done"
    assert ChangeRecord.objects.get(run=run, kind="task").action == "write_back"
    sandbox.clockify.update_task(cid(small["task"]), status="ACTIVE")
    sync()
    assert sandbox.notion.values(small["task"])["Status"] == "Not started"


def test_name_changed_in_clockify_is_restored_from_notion(sandbox, small):
    sandbox.clockify.update_client(cid(small["client"]), name="ACME (renamed by hand)")
    run = sync()
    assert clockify_entity(sandbox, "client", cid(small["client"]))["name"] == "Acme"
    change = ChangeRecord.objects.get(run=run, kind="client")
    assert "restored" in change.fields["name"]["note"]


def test_edit_on_both_sides_is_a_conflict_and_nothing_is_applied(sandbox, small):
    sandbox.notion.update_page(small["project"], {"Name": "Website (Notion)"})
    sandbox.clockify.update_project(cid(small["project"]), name="Website (Clockify)",
                                    archived=True)
    run = sync()
    flagged = ChangeRecord.objects.get(run=run, kind="project", outcome=Outcome.FLAGGED)
    assert flagged.fields["conflicts"]["name"] == {
        "baseline": "Website", "notion": "Website (Notion)", "clockify": "Website (Clockify)"}
    assert "both sides" in flagged.error
    # nothing applied for the conflicting name; the archive made in Clockify flows to Notion
    project = clockify_entity(sandbox, "project", cid(small["project"]))
    assert project["name"] == "Website (Clockify)"
    assert sandbox.notion.values(small["project"])["Name"] == "Website (Notion)"
    assert sandbox.notion.values(small["project"])["Status"] == "Archived"
    assert run.status == RunStatus.PARTIAL
    again = sync()  # still a conflict until someone decides
    assert ChangeRecord.objects.filter(run=again, outcome=Outcome.FLAGGED).count() == 1


def test_bad_input_is_isolated_and_explained(sandbox):
    trashed_client = sandbox.notion.create_page(C, {"Name": "Trashed Co"})
    sandbox.notion.trash_page(trashed_client)
    good = sandbox.notion.create_page(C, {"Name": "Good Co"})
    sandbox.notion.create_page(C, {"Name": ""})
    sandbox.notion.create_page(C, {"Name": "Twin"})
    sandbox.notion.create_page(C, {"Name": "Twin"})
    bad_project = sandbox.notion.create_page(P, {"Name": "X", "Client": [good]})
    sandbox.notion.create_page(P, {"Name": TOO_LONG_NAME, "Client": [good]})
    sandbox.notion.create_page(P, {"Name": "Orphan", "Client": [trashed_client]})
    fine = sandbox.notion.create_page(P, {"Name": "Fine", "Client": [good]})
    sandbox.notion.create_page(T, {"Name": "Child of X", "Project": [bad_project]})
    sandbox.notion.create_page(T, {"Name": "Child of Fine", "Project": [fine]})
    run = sync()
    assert run.status == RunStatus.PARTIAL and run.finished_at
    assert "has no name" in errors_for("")[0]
    assert "Clockify accepts 2–250" in errors_for("X")[0]
    assert errors_for(TOO_LONG_NAME.strip())[0].startswith(
        f"The name is {len(TOO_LONG_NAME.strip())} characters long; Clockify accepts 2–250")
    assert any("already exists" in e for e in errors_for("Twin"))
    assert "parent" in errors_for("Child of X")[0]
    assert "trashed" in errors_for("Orphan")[0]
    names = {t["name"] for t in sandbox.clockify.tasks()}
    assert names == {"Child of Fine"}
    assert len([c for c in sandbox.clockify.clients() if c["name"] == "Twin"]) == 1


def test_lost_response_on_create_leaves_exactly_one_after_rerun(sandbox):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    sandbox.clockify.faults.schedule("commit_then_drop", method="POST")
    first = sync()
    assert first.counts["client"]["failed"] == 1
    assert EntityMapping.objects.get().state == MappingState.CREATING
    second = sync()
    assert second.counts["client"]["linked"] == 1
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme"]
    assert_mirror(sandbox)


def test_crash_between_post_and_write_back_leaves_exactly_one(sandbox, monkeypatch):
    from syncapp.services import apply

    class Crash(BaseException):
        pass

    def crash(stage, change):
        raise Crash(stage)

    page = sandbox.notion.create_page(C, {"Name": "Acme"})
    with monkeypatch.context() as patch, pytest.raises(Crash):
        patch.setattr(apply, "checkpoint", crash)
        sync()
    assert len(sandbox.clockify.clients()) == 1
    assert sandbox.notion.values(page)["Clockify ID"] == ""
    sync()
    assert len(sandbox.clockify.clients()) == 1
    assert sandbox.notion.values(page)["Clockify ID"] == sandbox.clockify.clients()[0]["id"]


def truthful_status(run) -> str:
    """The one status a finished run's own counts allow: a failed read fails the run, a
    failed or flagged record makes it partial, otherwise it succeeded."""
    if any(c.get("read_failed") for c in run.counts.values()):
        return RunStatus.FAILED
    if any(c.get("failed") or c.get("flagged") for c in run.counts.values()):
        return RunStatus.PARTIAL
    return RunStatus.SUCCEEDED


def test_faults_converge_to_the_exact_mirror_without_duplicates(sandbox):
    seed_demo(sandbox)
    for emulator in (sandbox.notion, sandbox.clockify):
        emulator.faults.configure(0.1, ("500", "502", "503", "429", "timeout", "commit_then_drop"))
    for _ in range(6):
        run = sync()
        # The demo's over-long project name fails every run, and the retries absorb a 10%
        # fault rate on reads (seeded generator): partial every time, never failed or clean.
        assert run.status == truthful_status(run) == RunStatus.PARTIAL, \
            (run.status, run.counts, run.error_summary)
        too_long = ChangeRecord.objects.get(run=run, name=TOO_LONG_NAME.strip())
        assert (too_long.outcome, too_long.reason) == (Outcome.FAILED, "validation")
        problems = ChangeRecord.objects.filter(run=run,
                                               outcome__in=[Outcome.FAILED, Outcome.FLAGGED])
        assert all(problem.error for problem in problems)  # each record says why
    for emulator in (sandbox.notion, sandbox.clockify):
        emulator.faults.clear()
    sync()
    assert_mirror(sandbox)
    clean = sync()
    assert clean.counts["task"].get("failed", 0) == 0
    assert len(EntityMapping.objects.filter(kind="task", state=MappingState.CREATING)) == 0


def test_lost_access_to_a_database_archives_nothing(sandbox, small):
    sandbox.notion.revoke_access(ids.TASKS_DATABASE_ID)
    run = sync()
    assert clockify_entity(sandbox, "task", cid(small["task"]))["status"] == "ACTIVE"
    assert "lost access to the notion tasks database" in run.error_summary.lower()
    assert run.status == RunStatus.HELD
    assert not ChangeRecord.objects.filter(run=run, action="archive").exists()


def test_lost_access_to_one_page_is_flagged_not_archived(sandbox, small):
    sandbox.notion.revoke_access(small["task"])
    run = sync()
    change = ChangeRecord.objects.get(run=run, kind="task")
    assert change.outcome == Outcome.FLAGGED and change.reason == "unreachable"
    assert clockify_entity(sandbox, "task", cid(small["task"]))["status"] == "ACTIVE"
    assert EntityMapping.objects.get(notion_page_id=small["task"]).state == "orphaned"


def test_incremental_picks_up_a_page_created_in_the_same_minute(sandbox, small, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from django.utils import timezone

    from syncapp.services.sync import last_watermark

    # A whole minute a day after the fixture's run, whatever today is: the incremental
    # runs below must come after it, as a later poll would.
    later = last_watermark() + timedelta(days=1)
    minute = later.replace(second=0, microsecond=0).timestamp()
    sandbox.notion.clock = lambda: minute + 50  # Notion stamps 10:15:00
    monkeypatch.setattr(timezone, "now", lambda: datetime.fromtimestamp(minute + 40, UTC))
    first = sync(mode="incremental")
    assert first.mode == "incremental" and first.status == RunStatus.SUCCEEDED
    late = sandbox.notion.create_page(C, {"Name": "Created at 10:15:50"})
    reset_calls(sandbox)
    second = sync(mode="incremental")
    assert second.counts["client"]["created"] == 1
    assert sandbox.notion.values(late)["Clockify ID"]
    reset_calls(sandbox)
    idle = sync(mode="incremental")
    assert sandbox.notion.call_count() == 3 and sandbox.clockify.call_count() == 0
    assert idle.counts == {}


def test_dry_run_writes_nothing_and_records_the_plan(sandbox):
    seed_demo(sandbox)
    run = sync(dry_run=True)
    assert writes(sandbox) == {"notion": 0, "clockify": 0}
    assert EntityMapping.objects.count() == 0
    planned = ChangeRecord.objects.filter(run=run, outcome=Outcome.PLANNED)
    assert planned.filter(kind="task", action="create").count() > 150
    assert run.dry_run
    assert run.counts["project"]["created"] == \
        planned.filter(kind="project", action="create").count() > 0


def test_incremental_brings_an_unmapped_parent(sandbox, small, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from django.utils import timezone

    import syncapp.services.sync as sync_module

    start = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    sandbox.notion.clock = lambda: start.timestamp()
    orphan_client = sandbox.notion.create_page(C, {"Name": "Edited long ago"})
    # the client page was never synced (say its run failed), and is not edited again
    later = start + timedelta(hours=2)
    sandbox.notion.clock = lambda: later.timestamp()
    monkeypatch.setattr(timezone, "now", lambda: later)
    monkeypatch.setattr(sync_module, "last_watermark", lambda: later - timedelta(minutes=5))
    project = sandbox.notion.create_page(P, {"Name": "New project", "Client": [orphan_client]})
    run = sync(mode="incremental")
    assert run.counts["client"]["created"] == 1 and run.counts["project"]["created"] == 1
    project_entity = clockify_entity(sandbox, "project", cid(project))
    assert project_entity["clientId"] == cid(orphan_client)


def test_targeted_run_sees_a_change_made_in_clockify(sandbox, small):
    sandbox.clockify.update_task(cid(small["task"]), status="DONE")
    run = sync(mode="incremental", targeted=True, page_ids=[small["task"]], kinds=["task"])
    assert run.counts["task"]["written_back"] == 1
    assert sandbox.notion.values(small["task"])["Status"] == "Done"


def test_tokens_never_reach_the_logs_or_the_audit_trail(sandbox, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    sandbox.notion.create_page(C, {"Name": "Acme"})
    sandbox.notion.create_page(P, {"Name": "X"})
    sandbox.clockify.faults.schedule("500", method="POST")
    sandbox.notion.faults.schedule("503")
    run = sync()
    sandbox.notion.revoke_access(ids.TASKS_DATABASE_ID)
    held = sync()
    audit = " ".join(str(r.fields) + r.error for r in ChangeRecord.objects.all())
    text = caplog.text + audit + run.error_summary + held.error_summary + str(run.api_calls)
    for secret in (ids.NOTION_TOKEN, ids.CLOCKIFY_API_KEY):
        assert secret not in text
    acme = ChangeRecord.objects.get(run=run, name="Acme")  # its POST answered 500
    assert acme.outcome == Outcome.FAILED
    assert acme.error.startswith("clockify 500 [500]: 500 to a write; it may have been applied")


def test_a_database_with_several_data_sources_is_read_whole(sandbox):
    from syncapp.sandbox.workspace import tasks_schema

    project = sandbox.notion.create_page(P, {"Name": "Website"})
    second = sandbox.notion.add_data_source(ids.TASKS_DATABASE_ID, "Archive tasks",
                                            tasks_schema())
    sandbox.notion.create_page(T, {"Name": "In the first source", "Project": [project]})
    sandbox.notion.create_page(second, {"Name": "In the second source", "Project": [project]})
    run = sync()
    assert run.counts["task"]["created"] == 2
    assert {t["name"] for t in sandbox.clockify.tasks()} == {"In the first source",
                                                           "In the second source"}


def test_an_archived_clockify_entity_with_the_name_is_linked_and_reopened(sandbox):
    archived = sandbox.clockify.create_client("Acme", archived=True)
    page = sandbox.notion.create_page(C, {"Name": "Acme"})
    run = sync()
    assert run.counts["client"]["linked"] == 1
    assert [c["id"] for c in sandbox.clockify.clients()] == [archived["id"]]
    assert sandbox.clockify.client(archived["id"])["archived"] is False
    assert sandbox.notion.values(page)["Clockify ID"] == archived["id"]


def test_incremental_never_links_an_entity_mapped_to_another_page(sandbox, small):
    twin = sandbox.notion.create_page(C, {"Name": "Acme"})  # same name as the synced client
    run = sync(mode="incremental")
    assert run.counts["client"]["failed"] == 1
    assert "already exists" in errors_for("Acme")[-1]
    assert not EntityMapping.objects.filter(notion_page_id=twin, clockify_id__isnull=False)
    assert cid(small["client"]) == sandbox.clockify.clients()[0]["id"]


def test_a_mapping_to_a_property_of_the_wrong_type_fails_those_records_only(sandbox):
    from syncapp.models import DatabaseMapping

    mapping = DatabaseMapping.for_kind("project")
    mapping.properties = {**mapping.properties, "parent": "Note"}  # a rich_text, not a relation
    mapping.save()
    sandbox.notion.create_page(C, {"Name": "Acme"})
    sandbox.notion.create_page(P, {"Name": "Website", "Note": "not a relation"})
    run = sync()
    assert run.status == RunStatus.PARTIAL and run.counts["client"]["created"] == 1
    error = errors_for("Website")[0]
    assert "“Note” is a rich_text property, but parent needs one of: relation" in error
    assert sandbox.clockify.projects() == []


def test_a_required_property_missing_from_the_database_is_reported(sandbox):
    from syncapp.models import DatabaseMapping

    mapping = DatabaseMapping.for_kind("client")
    mapping.properties = {**mapping.properties, "closed": "Closed?"}
    mapping.save()
    sandbox.notion.create_page(C, {"Name": "Acme"})
    run = sync()
    assert "The page has no “Closed?” property" in errors_for("Acme")[0]
    assert run.counts["client"]["failed"] == 1 and sandbox.clockify.clients() == []


def test_an_optional_property_missing_from_the_database_is_simply_not_synced(sandbox):
    from syncapp.models import DatabaseMapping

    mapping = DatabaseMapping.for_kind("client")
    mapping.properties = {**mapping.properties, "email": "E-mail address"}
    mapping.save()
    page = sandbox.notion.create_page(C, {"Name": "Acme"})
    assert sync().status == RunStatus.SUCCEEDED
    sandbox.clockify.update_client(cid(page), email="kept@example.com")
    assert sync().status == RunStatus.SUCCEEDED
    assert sandbox.clockify.client(cid(page))["email"] == "kept@example.com"
