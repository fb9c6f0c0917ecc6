"""The review queue: each reason from a realistic scenario, decisions applied exactly once."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from syncapp.models import (
    Decision,
    EntityMapping,
    FieldPolicy,
    PendingChange,
    ReviewStatus,
    RunStatus,
    SyncPolicy,
)
from syncapp.sandbox import ids
from syncapp.services import review
from syncapp.services.review_apply import apply_pending
from tests.syncing import clockify_entity, reset_calls, sync

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID


@pytest.fixture
def admin_user():
    return get_user_model().objects.create_user("reviewer", password="pw", is_staff=True,
                                                is_superuser=True)


@pytest.fixture
def small(sandbox):
    client = sandbox.notion.create_page(C, {"Name": "Acme"})
    project = sandbox.notion.create_page(P, {"Name": "Website", "Client": [client],
                                             "Status": "In progress"})
    tasks = [sandbox.notion.create_page(T, {"Name": f"Task {i}", "Project": [project],
                                            "Status": "Not started"}) for i in range(3)]
    assert sync().status == RunStatus.SUCCEEDED
    reset_calls(sandbox)
    return {"client": client, "project": project, "tasks": tasks}


def cid(page_id: str) -> str:
    return EntityMapping.objects.get(notion_page_id=page_id).clockify_id


def approve(pending: PendingChange, user, decision=Decision.APPROVE) -> str:
    assert review.decide(pending.pk, user, decision)
    return apply_pending(pending.pk)


def only_pending(**filters) -> PendingChange:
    return PendingChange.objects.get(status=ReviewStatus.PENDING, **filters)


# -- each reason, nothing applied until approved --------------------------------------------------
def test_conflict_waits_for_a_decision_then_applies(sandbox, small, admin_user):
    sandbox.notion.update_page(small["project"], {"Name": "Site (Notion)"})
    sandbox.clockify.update_project(cid(small["project"]), name="Site (Clockify)")
    sync()
    pending = only_pending(reason="conflict")
    assert pending.diff["name"] == {"baseline": "Website", "notion": "Site (Notion)",
                                    "clockify": "Site (Clockify)", "proposed": "Site (Notion)"}
    assert clockify_entity(sandbox, "project", cid(small["project"]))["name"] == "Site (Clockify)"
    assert approve(pending, admin_user).endswith("applied")
    assert clockify_entity(sandbox, "project", cid(small["project"]))["name"] == "Site (Notion)"
    assert PendingChange.objects.get(pk=pending.pk).status == ReviewStatus.APPLIED
    assert sync().status == RunStatus.SUCCEEDED  # settled: no new conflict


def test_conflict_keep_clockify_writes_clockify_value_to_notion(sandbox, small, admin_user):
    sandbox.notion.update_page(small["project"], {"Name": "Site (Notion)"})
    sandbox.clockify.update_project(cid(small["project"]), name="Site (Clockify)")
    sync()
    approve(only_pending(reason="conflict"), admin_user, Decision.KEEP_CLOCKIFY)
    assert sandbox.notion.values(small["project"])["Name"] == "Site (Clockify)"
    assert clockify_entity(sandbox, "project", cid(small["project"]))["name"] == "Site (Clockify)"


def test_ambiguous_match_links_only_after_approval(sandbox, admin_user):
    existing = sandbox.clockify.create_client("ACME  Corp")
    page = sandbox.notion.create_page(C, {"Name": "Acme Corp"})
    sync()
    pending = only_pending(reason="ambiguous_match")
    assert pending.candidates == [{"id": existing["id"], "name": "ACME  Corp"}]
    assert not EntityMapping.objects.filter(notion_page_id=page).exists()
    assert len(sandbox.clockify.clients()) == 1
    approve(pending, admin_user)
    assert cid(page) == existing["id"]
    assert sandbox.notion.values(page)["Clockify ID"] == existing["id"]
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme Corp"]


def test_unreachable_page_is_archived_only_after_approval(sandbox, small, admin_user):
    task = small["tasks"][0]
    sandbox.notion.revoke_access(task)
    sync()
    pending = only_pending(reason="unreachable")
    assert clockify_entity(sandbox, "task", cid(task))["status"] == "ACTIVE"
    approve(pending, admin_user)
    assert clockify_entity(sandbox, "task", cid(task))["status"] == "DONE"


def test_destructive_archive_needs_review_when_policy_says_so(sandbox, small, admin_user):
    SyncPolicy.objects.update_or_create(pk=SyncPolicy.current().pk,
                                        defaults={"archives_need_review": True})
    task = small["tasks"][1]
    sandbox.notion.update_page(task, {"Status": "Done"})
    sync()
    pending = only_pending(reason="destructive")
    assert clockify_entity(sandbox, "task", cid(task))["status"] == "ACTIVE"
    approve(pending, admin_user)
    assert clockify_entity(sandbox, "task", cid(task))["status"] == "DONE"


def test_mass_archive_holds_the_run(sandbox, admin_user):
    project = sandbox.notion.create_page(P, {"Name": "Big", "Status": "In progress"})
    tasks = [sandbox.notion.create_page(T, {"Name": f"T{i:02d}", "Project": [project]})
             for i in range(30)]
    sync()
    for task in tasks:
        sandbox.notion.trash_page(task)
    run = sync()
    assert run.status == RunStatus.HELD
    assert PendingChange.objects.filter(reason="mass_change", status="pending").count() == 30
    assert all(t["status"] == "ACTIVE" for t in sandbox.clockify.tasks())
    approve(PendingChange.objects.filter(reason="mass_change").first(), admin_user)
    assert sum(t["status"] == "DONE" for t in sandbox.clockify.tasks()) == 1


def test_validation_is_flagged_with_the_fix(sandbox):
    sandbox.notion.create_page(P, {"Name": "X"})
    sync()
    pending = only_pending(reason="validation")
    assert "Clockify accepts 2–250" in pending.explanation
    assert "Change the title in Notion" in pending.explanation
    assert sandbox.clockify.projects() == []


def test_lost_tasks_database_holds_the_run_and_archives_nothing(sandbox, small):
    sandbox.notion.revoke_access(ids.TASKS_DATABASE_ID)
    run = sync()
    assert run.status == RunStatus.HELD
    assert all(t["status"] == "ACTIVE" for t in sandbox.clockify.tasks())
    assert sandbox.clockify.call_count("PUT") == 0


# -- exactly once, rejection memory, supersession, policy ------------------------------------------
def test_approving_twice_applies_once(sandbox, small, admin_user):
    sandbox.notion.update_page(small["project"], {"Name": "Site (Notion)"})
    sandbox.clockify.update_project(cid(small["project"]), name="Site (Clockify)")
    sync()
    pending = only_pending(reason="conflict")
    other = get_user_model().objects.create_user("second", is_staff=True)
    assert review.decide(pending.pk, admin_user, Decision.APPROVE)
    assert not review.decide(pending.pk, other, Decision.APPROVE)  # two admins: one decision
    reset_calls(sandbox)
    results = [apply_pending(pending.pk), apply_pending(pending.pk)]  # two workers
    assert results[1] == "not approved, or already being applied"
    assert sandbox.clockify.call_count("PUT") == 1
    assert PendingChange.objects.get(pk=pending.pk).decided_by == admin_user


def test_rejected_diff_is_remembered_until_something_changes(sandbox, small, admin_user):
    sandbox.notion.update_page(small["project"], {"Name": "Site (Notion)"})
    sandbox.clockify.update_project(cid(small["project"]), name="Site (Clockify)")
    sync()
    pending = only_pending(reason="conflict")
    assert review.decide(pending.pk, admin_user, Decision.REJECT)
    reset_calls(sandbox)
    sync()
    sync()
    assert PendingChange.objects.count() == 1
    assert sandbox.clockify.call_count("PUT") == 0
    sandbox.notion.update_page(small["project"], {"Name": "Site (Notion, again)"})
    sync()
    assert only_pending(reason="conflict").diff["name"]["notion"] == "Site (Notion, again)"


def test_superseded_change_is_not_applied(sandbox, small, admin_user):
    sandbox.notion.update_page(small["project"], {"Name": "Site (Notion)"})
    sandbox.clockify.update_project(cid(small["project"]), name="Site (Clockify)")
    sync()
    pending = only_pending(reason="conflict")
    sandbox.notion.update_page(small["project"], {"Name": "Site (later edit)"})
    approve(pending, admin_user)
    assert PendingChange.objects.get(pk=pending.pk).status == ReviewStatus.SUPERSEDED
    assert clockify_entity(sandbox, "project", cid(small["project"]))["name"] == "Site (Clockify)"


def test_policy_change_takes_effect_on_the_next_run(sandbox, small):
    FieldPolicy.objects.create(kind="project", field="name", direction="n2c",
                               on_conflict="notion")
    sandbox.notion.update_page(small["project"], {"Name": "Site (Notion)"})
    sandbox.clockify.update_project(cid(small["project"]), name="Site (Clockify)")
    run = sync()
    assert run.status == RunStatus.SUCCEEDED
    assert not PendingChange.objects.exists()
    assert clockify_entity(sandbox, "project", cid(small["project"]))["name"] == "Site (Notion)"


def test_approval_enqueues_one_apply_task(sandbox, small, admin_user,
                                          django_capture_on_commit_callbacks):
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    sandbox.notion.update_page(small["project"], {"Name": "Site (Notion)"})
    sandbox.clockify.update_project(cid(small["project"]), name="Site (Clockify)")
    sync()
    pending = only_pending(reason="conflict")
    with django_capture_on_commit_callbacks(execute=True):
        review.decide(pending.pk, admin_user, Decision.APPROVE)
        review.decide(pending.pk, admin_user, Decision.APPROVE)
    assert broker.queue_size() == 1
    broker.purge_queue()


# -- the console -------------------------------------------------------------------------------
def test_console_is_staff_only_and_decisions_are_csrf_posts(sandbox, small, admin_user):
    sandbox.notion.update_page(small["project"], {"Name": "Site (Notion)"})
    sandbox.clockify.update_project(cid(small["project"]), name="Site (Clockify)")
    sync()
    pending = only_pending(reason="conflict")
    detail = reverse("admin:syncapp_pendingchange_change", args=[pending.pk])
    decide = reverse("admin:syncapp_pendingchange_decide", args=[pending.pk])

    anonymous = Client()
    assert anonymous.get(detail).status_code == 302
    assert anonymous.post(decide, {"decision": "approve"}).status_code == 302
    plain = get_user_model().objects.create_user("plain", password="pw")
    outsider = Client()
    outsider.force_login(plain)
    assert outsider.get(detail).status_code == 302  # the admin sends non-staff to login
    assert outsider.post(decide, {"decision": "approve"}).status_code == 302
    assert PendingChange.objects.get(pk=pending.pk).status == ReviewStatus.PENDING

    staff = Client(enforce_csrf_checks=True)
    staff.force_login(admin_user)
    page = staff.get(detail)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Site (Notion)" in text and "Site (Clockify)" in text and "Keep Clockify" in text
    assert staff.get(decide).status_code == 405
    assert staff.post(decide, {"decision": "approve"}).status_code == 403  # no CSRF token
    token = staff.cookies["csrftoken"].value
    answer = staff.post(decide, {"decision": "approve", "csrfmiddlewaretoken": token})
    assert answer.status_code == 302
    decided = PendingChange.objects.get(pk=pending.pk)
    assert decided.status == ReviewStatus.APPROVED and decided.decided_by == admin_user
    assert LogEntry.objects.filter(object_id=str(pending.pk), user=admin_user).exists()
    index = staff.get(reverse("admin:index")).content.decode()
    assert "0 pending reviews" in index


def test_bulk_actions_and_pending_count_on_admin_index(sandbox, small, admin_user):
    for task in small["tasks"]:
        sandbox.notion.revoke_access(task)
    sync()
    staff = Client()
    staff.force_login(admin_user)
    assert "3 pending reviews" in staff.get(reverse("admin:index")).content.decode()
    ids_ = list(PendingChange.objects.values_list("pk", flat=True))
    staff.post(reverse("admin:syncapp_pendingchange_changelist"),
               {"action": "reject_selected", "_selected_action": ids_})
    assert set(PendingChange.objects.values_list("status", flat=True)) == {"rejected"}


def test_database_mapping_admin_validates_and_checks_against_notion(sandbox, admin_user):
    from syncapp.models import DatabaseMapping

    mapping = DatabaseMapping.for_kind("project")
    staff = Client()
    staff.force_login(admin_user)
    url = reverse("admin:syncapp_databasemapping_change", args=[mapping.pk])
    answer = staff.post(url, {"kind": "project", "properties": '{"colour": "Color"}',
                              "closed_values": "Done"})
    assert answer.status_code == 200 and "Unknown field(s): colour" in answer.content.decode()
    mapping.properties = {**mapping.properties, "billable": "Is billable"}
    mapping.save()
    listing = reverse("admin:syncapp_databasemapping_changelist")
    page = staff.post(listing, {"action": "check_configuration",
                                "_selected_action": [mapping.pk]}, follow=True)
    text = page.content.decode()
    assert "Is billable" in text  # the missing property is named in plain words


def test_a_poll_measures_mass_change_against_all_mapped_records(sandbox):
    from syncapp.models import SyncRun

    project = sandbox.notion.create_page(P, {"Name": "Big", "Status": "In progress"})
    tasks = [sandbox.notion.create_page(T, {"Name": f"T{i:02d}", "Project": [project]})
             for i in range(40)]
    sync()
    for task in tasks[:6]:  # 6 of 40: 15%, under the 20% threshold
        sandbox.notion.update_page(task, {"Status": "Done"})
    run = sync(mode="incremental")
    assert run.status == RunStatus.SUCCEEDED, run.error_summary
    assert sum(t["status"] == "DONE" for t in sandbox.clockify.tasks()) == 6
    assert SyncRun.objects.filter(status=RunStatus.HELD).count() == 0
