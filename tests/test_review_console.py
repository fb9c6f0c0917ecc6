# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name
"""The review console's pages, decisions over HTTP, stale items and held runs.

The browser tests (tests/test_browser_review.py) click these same buttons in Chromium; here
the HTTP contract, the plain words and the query counts are checked directly.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from syncapp.models import (
    EntityMapping,
    MappingState,
    PendingChange,
    ReviewStatus,
    RunStatus,
    SyncPolicy,
    SyncRun,
    Trigger,
)
from syncapp.sandbox import ids
from syncapp.services import review
from syncapp.services.review_apply import apply_pending
from tests.dashboard import fresh_cache, staff  # noqa: F401
from tests.syncing import cid, clockify_entity, conflict_on_name, held_mass_trash, sync

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID


@pytest.fixture
def staff_client(client, staff):
    """A staff member allowed to decide (the admin's "Can change review item")."""
    staff.user_permissions.add(Permission.objects.get(codename="change_pendingchange"))
    client.force_login(staff)
    return client


@pytest.fixture
def synced(sandbox):
    acme = sandbox.notion.create_page(C, {"Name": "Acme"})
    globex = sandbox.notion.create_page(C, {"Name": "Globex"})
    project = sandbox.notion.create_page(P, {"Name": "Website", "Client": [acme],
                                             "Status": "In progress"})
    assert sync().status == RunStatus.SUCCEEDED
    return {"acme": acme, "globex": globex, "project": project}



def html(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


# -- plain words ----------------------------------------------------------------------------------
def test_a_conflict_names_the_field_and_both_new_values(staff_client, sandbox, synced):
    pending = conflict_on_name(sandbox, synced)
    text = html(staff_client, reverse("review-list"))
    assert "Project “Site (Notion)”" in text
    assert ("name: Notion now says “Site (Notion)”, Clockify says “Site (Clockify)” "
            "(at the last sync both said “Website”)") in text
    assert "Take Notion&#x27;s value" in text and "Keep Clockify&#x27;s value" in text
    assert "Write Clockify&#x27;s value back to Notion." in text
    assert pending.fingerprint not in text


def test_a_parent_conflict_shows_parent_names_not_notion_ids(staff_client, sandbox, synced):
    sandbox.notion.update_page(synced["project"], {"Client": [synced["globex"]]})
    sandbox.clockify.update_project(cid(synced["project"]), clientId="")
    sync()
    pending = PendingChange.objects.get(status=ReviewStatus.PENDING, reason="conflict")
    assert pending.diff["parent"]["notion"] == synced["globex"]
    text = html(staff_client, reverse("review-detail", args=[pending.pk]))
    row = text[text.index('data-field-name="parent"'):]
    row = row[:row.index("</tr>")]
    assert "<td>Acme</td><td>Globex</td><td>—</td>" in row
    assert synced["globex"] not in row and synced["acme"] not in row


@pytest.mark.parametrize(("clockify_names", "notion_name", "words"), [
    (["ACME Corp"], "Acme Corp", "differs only in upper/lower case"),
    (["Müller GmbH"], "Muller GmbH", "differs only in accents"),
    (["Acme  Corp", "acme corp"], "Acme Corp", "Several Clockify clients could be this one"),
])
def test_an_ambiguous_match_says_what_kind_of_near_match(staff_client, sandbox, clockify_names,
                                                         notion_name, words):
    for name in clockify_names:
        sandbox.clockify.create_client(name)
    sandbox.notion.create_page(C, {"Name": notion_name})
    sync()
    text = html(staff_client, reverse("review-list"), reason="ambiguous_match")
    assert words in text
    for name in clockify_names:
        assert f"“{name}”" in text


def test_validation_item_tells_the_fix_to_make_in_notion(staff_client, sandbox):
    sandbox.notion.create_page(P, {"Name": "X"})
    sync()
    text = html(staff_client, reverse("review-list"))
    assert "Clockify refuses the project “X”." in text
    assert "Change the title in Notion" in text
    assert ">Retry</button>" in text


def test_filters_by_kind_and_reason_and_ignores_unknown_values(staff_client, sandbox, synced):
    conflict_on_name(sandbox, synced)
    sandbox.notion.create_page(C, {"Name": ""})  # Clockify refuses it
    sync()
    assert "Project “Site (Notion)”" not in html(staff_client, reverse("review-list"),
                                                 kind="client")
    only = html(staff_client, reverse("review-list"), reason="conflict")
    assert "Project “Site (Notion)”" in only and "Client “(no name)”" not in only
    everything = html(staff_client, reverse("review-list"), kind="nonsense", reason="<x>")
    assert "Project “Site (Notion)”" in everything and "Client “(no name)”" in everything


# -- decisions over HTTP ----------------------------------------------------------------------
def test_decisions_are_staff_only_csrf_posts(sandbox, synced, staff):
    pending = conflict_on_name(sandbox, synced)
    url = reverse("review-decide", args=[pending.pk])
    assert Client().post(url, {"decision": "reject"}).status_code == 302  # to the login
    outsider = Client()
    outsider.force_login(get_user_model().objects.create_user("plain"))
    assert outsider.post(url, {"decision": "reject"}).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff)
    assert strict.get(url).status_code == 405
    assert strict.post(url, {"decision": "reject"}).status_code == 403  # no CSRF token
    assert PendingChange.objects.get(pk=pending.pk).status == ReviewStatus.PENDING


def test_staff_without_the_permission_see_the_queue_but_cannot_decide(client, staff, sandbox,
                                                                      synced):
    pending = conflict_on_name(sandbox, synced)
    client.force_login(staff)
    text = html(client, reverse("review-list"))
    assert "Project “Site (Notion)”" in text and "not decide" in text
    assert 'class="decide"' not in text
    answer = client.post(reverse("review-decide", args=[pending.pk]), {"decision": "reject"},
                         HTTP_ACCEPT="application/json")
    assert answer.status_code == 403 and answer.json()["status"] == "pending"
    assert PendingChange.objects.get(pk=pending.pk).status == ReviewStatus.PENDING


def test_only_a_held_run_is_decided_at_once(staff_client, sandbox, synced):
    pending = conflict_on_name(sandbox, synced)
    answer = staff_client.post(reverse("review-decide-run", args=[pending.run_id]),
                               {"decision": "reject"}, follow=True)
    assert "is not held: decide its items one by one" in answer.content.decode()
    assert PendingChange.objects.get(pk=pending.pk).status == ReviewStatus.PENDING


def test_a_decision_that_does_not_fit_the_item_is_refused(staff_client, sandbox):
    sandbox.notion.create_page(P, {"Name": "X"})
    sync()
    pending = PendingChange.objects.get(reason="validation")
    answer = staff_client.post(reverse("review-decide", args=[pending.pk]),
                               {"decision": "keep_clockify"}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 409
    assert answer.json()["message"] == "This decision does not apply to this item."
    assert PendingChange.objects.get(pk=pending.pk).status == ReviewStatus.PENDING


def test_without_javascript_a_decision_redirects_to_the_item_with_its_status(
        staff_client, sandbox, synced, django_capture_on_commit_callbacks):
    pending = conflict_on_name(sandbox, synced)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = staff_client.post(reverse("review-decide", args=[pending.pk]),
                                   {"decision": "take_notion"}, follow=True)
    assert len(callbacks) == 1  # the apply task is enqueued once the decision is committed
    assert answer.redirect_chain[-1][0] == reverse("review-detail", args=[pending.pk])
    text = answer.content.decode()
    assert "Decision recorded: Take Notion&#x27;s value." in text
    assert 'data-status="approved"' in text
    apply_pending(pending.pk)  # what the django-q2 worker runs
    status = staff_client.get(reverse("review-status", args=[pending.pk])).json()
    assert status["status"] == "applied" and status["final"] is True
    assert status["pending_count"] == 0
    assert clockify_entity(sandbox, "project", cid(synced["project"]))["name"] == "Site (Notion)"


def test_deciding_twice_answers_already_decided(staff_client, sandbox, synced):
    pending = conflict_on_name(sandbox, synced)
    url = reverse("review-decide", args=[pending.pk])
    first = staff_client.post(url, {"decision": "reject"}, HTTP_ACCEPT="application/json")
    second = staff_client.post(url, {"decision": "take_notion"}, HTTP_ACCEPT="application/json")
    assert first.json()["status"] == "rejected"
    assert second.status_code == 409 and second.json()["status"] == "rejected"


def test_nav_shows_the_live_pending_count(staff_client, sandbox, synced):
    text = html(staff_client, reverse("overview"))
    assert 'id="review-count" title="Pending review items">0<' in text
    conflict_on_name(sandbox, synced)
    text = html(staff_client, reverse("run-list"))
    assert 'id="review-count" title="Pending review items">1<' in text


# -- admin --------------------------------------------------------------------------------------
def test_admin_decision_buttons_submit_the_change_form_itself(staff_client, sandbox, synced,
                                                              staff):
    staff.is_superuser = True
    staff.save()
    pending = conflict_on_name(sandbox, synced)
    url = reverse("admin:syncapp_pendingchange_change", args=[pending.pk])
    text = html(staff_client, url)
    form = text[text.index('id="pendingchange_form"'):]
    form = form[:form.index("</form>")]
    assert 'name="_decision" value="take_notion"' in form  # inside the one form
    assert form.count("<form") == 0
    assert pending.fingerprint not in text
    assert "Project “Site (Notion)”: changed on both sides" in text
    answer = staff_client.post(url, {"_decision": "take_notion"})
    assert answer.status_code == 302
    assert PendingChange.objects.get(pk=pending.pk).status == ReviewStatus.APPROVED
    titles = html(staff_client, reverse("admin:index"))
    assert "Field policies" in titles and "Field policys" not in titles
    listing = html(staff_client, reverse("admin:syncapp_pendingchange_changelist"))
    assert "Review queue" in listing and "Select review item to change" not in listing


# -- stale items, superseded approvals, held runs ----------------------------------------------


def test_restored_pages_resolve_their_mass_change_items(sandbox):
    tasks, held = held_mass_trash(sandbox)
    for task in tasks:
        sandbox.notion.restore_page(task)
    later = sync()
    assert later.status == RunStatus.SUCCEEDED
    items = PendingChange.objects.filter(reason="mass_change")
    assert {(i.status, i.resolved_by_id) for i in items} == {(ReviewStatus.RESOLVED, later.pk)}
    released = SyncRun.objects.get(pk=held.pk)
    assert released.status == RunStatus.PARTIAL
    assert f"Hold released: run {later.pk} found the held changes gone." \
        in released.error_summary
    assert all(t["status"] == "ACTIVE" for t in sandbox.clockify.tasks())


def test_a_conflict_both_sides_settled_resolves_itself(sandbox, synced):
    pending = conflict_on_name(sandbox, synced)
    sandbox.clockify.update_project(cid(synced["project"]), name="Site (Notion)")
    later = sync()
    pending.refresh_from_db()
    assert pending.status == ReviewStatus.RESOLVED and pending.resolved_by == later


def test_an_item_still_flagged_stays_pending(sandbox, synced):
    pending = conflict_on_name(sandbox, synced)
    sync()
    pending.refresh_from_db()
    assert pending.status == ReviewStatus.PENDING and pending.resolved_by is None


def test_a_superseded_approval_is_a_succeeded_run_with_the_note(sandbox, synced, staff):
    pending = conflict_on_name(sandbox, synced)
    sandbox.notion.update_page(synced["project"], {"Name": "Site (later edit)"})
    assert review.decide(pending.pk, staff, "take_notion")
    apply_pending(pending.pk)
    pending.refresh_from_db()
    assert pending.status == ReviewStatus.SUPERSEDED
    run = SyncRun.objects.filter(trigger=Trigger.REVIEW).get()
    assert run.status == RunStatus.SUCCEEDED
    assert run.phase.startswith("Superseded: Notion or Clockify changed")
    assert run.error_summary == ""


def test_rejecting_a_held_run_releases_it_and_later_runs_are_not_held(staff_client, sandbox):
    tasks, held = held_mass_trash(sandbox)
    answer = staff_client.post(reverse("review-decide-run", args=[held.pk]),
                               {"decision": "reject"}, follow=True)
    assert f"Run #{held.pk}: 6 items rejected. The hold is released." \
        in answer.content.decode()
    released = SyncRun.objects.get(pk=held.pk)
    assert released.status == RunStatus.PARTIAL
    assert "Hold released after review by manager." in released.error_summary
    later = sync()
    assert later.status == RunStatus.SUCCEEDED, later.error_summary
    assert all(t["status"] == "ACTIVE" for t in sandbox.clockify.tasks())
    assert not PendingChange.objects.filter(status=ReviewStatus.PENDING).exists()


def test_a_held_run_stays_held_while_items_wait(sandbox):
    held_mass_trash(sandbox)
    assert sync().status == RunStatus.HELD


def test_a_dry_run_of_a_mass_change_reports_held_and_resolves_nothing(sandbox):
    held_mass_trash(sandbox)
    from syncapp.services.sync import SyncOptions, run_sync

    assert run_sync(SyncOptions(dry_run=True)).status == RunStatus.HELD
    assert PendingChange.objects.filter(status=ReviewStatus.PENDING).count() == 6


def test_the_destructive_policy_item_resolves_when_the_page_reopens(sandbox, synced):
    SyncPolicy.objects.filter(pk=SyncPolicy.current().pk).update(archives_need_review=True)
    sandbox.notion.update_page(synced["project"], {"Status": "Done"})
    sync()
    pending = PendingChange.objects.get(reason="destructive")
    sandbox.notion.update_page(synced["project"], {"Status": "In progress"})
    sync()
    pending.refresh_from_db()
    assert pending.status == ReviewStatus.RESOLVED


# -- query counts do not grow with the queue ------------------------------------------------------
def queue(n: int) -> SyncRun:
    """n pending items over a few runs (one held), every reason, parents that have names."""
    client = EntityMapping.objects.create(kind="client", notion_page_id="client-page",
                                          clockify_id="client-c", name="Acme",
                                          state=MappingState.LINKED)
    other = EntityMapping.objects.create(kind="client", notion_page_id="client-2",
                                         clockify_id="client-d", name="Globex",
                                         state=MappingState.LINKED)
    runs = [SyncRun.objects.create(trigger="schedule", status=RunStatus.HELD if i == 0
                                   else RunStatus.PARTIAL) for i in range(3)]
    reasons = ["conflict", "ambiguous_match", "unreachable", "destructive", "mass_change",
               "validation"]
    PendingChange.objects.bulk_create([PendingChange(
        run=runs[i % 3], kind="project", name=f"Project {i}", notion_page_id=f"p{i}",
        clockify_id=f"c{i}", action="update", reason=reasons[i % 6], fingerprint=f"f{i}",
        explanation="Change the title in Notion",
        candidates=[{"id": "x", "name": f"project {i}"}] if i % 6 == 1 else [],
        diff={"parent": {"baseline": client.notion_page_id, "notion": other.notion_page_id,
                         "clockify": "clockify:client-c", "proposed": other.notion_page_id},
              "name": {"baseline": "a", "notion": "b", "clockify": "c", "proposed": "b"}})
        for i in range(n)])
    return runs[0]


def test_console_query_counts_do_not_grow_with_the_queue(staff_client,
                                                         django_assert_num_queries):
    def urls(held: SyncRun) -> dict[str, str]:
        first = PendingChange.objects.order_by("pk").first().pk
        return {"list": reverse("review-list"),
                "filtered": reverse("review-list") + "?kind=project&reason=conflict",
                "held run": reverse("review-list") + f"?run={held.pk}",
                "page 2": reverse("review-list") + "?page=2",
                "detail": reverse("review-detail", args=[first]),
                "status": reverse("review-status", args=[first])}

    held = queue(10)
    counts = {}
    for name, url in urls(held).items():
        staff_client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(url).status_code == 200
        counts[name] = len(captured)
    PendingChange.objects.all().delete()
    SyncRun.objects.all().delete()
    EntityMapping.objects.all().delete()
    held = queue(1000)
    for name, url in urls(held).items():
        with django_assert_num_queries(counts[name]):
            assert staff_client.get(url).status_code == 200, name
    text = html(staff_client, reverse("review-list"))
    assert "Acme" in text and "Globex" in text and "client-page" not in text
    assert counts["list"] <= 10, counts


def test_a_retry_before_the_fix_fails_with_clockifys_reason(sandbox, staff):
    sandbox.notion.create_page(P, {"Name": "X"})
    sync()
    pending = PendingChange.objects.get(status=ReviewStatus.PENDING, reason="validation")
    assert review.decide(pending.pk, staff, "approve")
    assert apply_pending(pending.pk).endswith("failed")
    pending.refresh_from_db()
    assert pending.status == ReviewStatus.FAILED
    assert "Clockify accepts 2–250" in pending.result
    assert sandbox.clockify.projects() == []
