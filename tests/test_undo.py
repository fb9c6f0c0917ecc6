"""Undo a run: the inverse of what it applied, on both sides, as a new run linked to it.

Through the real code paths: the emulators over `requests`, the ORM, the sync lock
(`runs.execute_run`), the review queue for what changed since.
"""

from __future__ import annotations

# ruff: noqa: F811 - pytest fixtures imported by name
import pytest

from syncapp.models import (
    ChangeRecord,
    Decision,
    Outcome,
    PendingChange,
    ReviewStatus,
    RunStatus,
    SyncRun,
    Trigger,
)
from syncapp.services import review, runs, undo
from syncapp.services.review_apply import apply_pending
from tests.dashboard import staff, staff_client  # noqa: F401
from tests.syncing import SOURCES, assert_mirror, cid, reset_calls, sync, writes

pytestmark = pytest.mark.django_db

VOLATILE = {"timeEstimate", "duration"}  # recomputed by the emulator, not values we set


def seed(box) -> dict:
    """A synced workspace: two clients, three projects, two tasks."""
    page = {
        "acme": box.notion.create_page(SOURCES["client"], {"Name": "Acme"}),
        "globex": box.notion.create_page(SOURCES["client"], {"Name": "Globex"}),
    }
    page["site"] = box.notion.create_page(SOURCES["project"], {
        "Name": "Website", "Client": [page["acme"]], "Status": "In progress"})
    page["old"] = box.notion.create_page(SOURCES["project"], {
        "Name": "Old site", "Client": [page["acme"]], "Status": "In progress"})
    page["trashed"] = box.notion.create_page(SOURCES["project"], {
        "Name": "Side project", "Client": [page["globex"]], "Status": "In progress"})
    page["design"] = box.notion.create_page(SOURCES["task"], {
        "Name": "Design", "Project": [page["site"]], "Status": "Not started"})
    page["copy"] = box.notion.create_page(SOURCES["task"], {
        "Name": "Copy", "Project": [page["site"]], "Status": "In progress"})
    assert sync().status == RunStatus.SUCCEEDED
    return page


def notion_state(box) -> dict:
    """Every page's values and whether it is in the trash."""
    return {p["id"]: {**box.notion.values(p["id"]), "_trash": p["in_trash"]}
            for source in SOURCES.values() for p in box.notion.pages(source,
                                                                     include_trashed=True)}


def clockify_state(box) -> dict:
    entities = box.clockify.clients() + box.clockify.projects() + box.clockify.tasks()
    return {e["id"]: {k: v for k, v in e.items() if k not in VOLATILE} for e in entities}


def the_run(box, page: dict) -> SyncRun:
    """One run that renames, archives (status and trash), creates, and writes back."""
    box.notion.update_page(page["acme"], {"Name": "Acme Corp"})  # rename
    box.notion.update_page(page["old"], {"Status": "Done"})  # archive
    box.notion.trash_page(page["trashed"])  # archive (trashed page)
    page["new"] = box.notion.create_page(SOURCES["project"], {  # create, and a child
        "Name": "Launch", "Client": [page["globex"]], "Status": "In progress"})
    page["new_task"] = box.notion.create_page(SOURCES["task"], {
        "Name": "Press kit", "Project": [page["new"]], "Status": "Not started"})
    box.clockify.update_task(cid(page["design"]), status="DONE")  # written back to Notion
    page["_clockify_before_run"] = clockify_state(box)
    run = sync()
    assert run.status == RunStatus.SUCCEEDED
    actions = set(run.changes.filter(outcome=Outcome.APPLIED).values_list("action", flat=True))
    assert {"update", "archive", "create", "write_back"} <= actions
    return run


def undo_now(run: SyncRun) -> SyncRun:
    """Ask for the undo as the dashboard does, and let a worker run it under the lock."""
    queued = undo.request_undo(run, "tester")
    assert queued.status == RunStatus.QUEUED and queued.undo_of == run
    assert runs.execute_run(queued.pk).startswith(f"run {queued.pk}")
    queued.refresh_from_db()
    return queued


def test_undo_puts_both_sides_back_and_archives_what_the_run_created(sandbox):
    page = seed(sandbox)
    synced_notion, synced_clockify = notion_state(sandbox), clockify_state(sandbox)
    run = the_run(sandbox, page)
    before_run = page["_clockify_before_run"]
    before_run_pages = set(before_run)
    created = {cid(page["new"]), cid(page["new_task"])}

    done = undo_now(run)

    assert done.status == RunStatus.SUCCEEDED, [
        (c.name, c.action, c.outcome, c.fields, c.error) for c in done.changes.all()]
    assert done.trigger == Trigger.UNDO and list(run.undos.all()) == [done]
    after = clockify_state(sandbox)
    # Clockify: what existed before the run holds its values from before the run, except
    # the task whose DONE came from Clockify: it is reopened with Notion (see below).
    for entity_id in before_run_pages:
        expected = dict(before_run[entity_id])
        if entity_id == cid(page["design"]):
            assert before_run[entity_id]["status"] == "DONE"
            expected["status"] = "ACTIVE"
        assert after[entity_id] == expected, entity_id
    assert synced_clockify == {k: v for k, v in after.items() if k in synced_clockify}
    # What the run created is archived (a task set DONE), never deleted.
    assert set(after) == before_run_pages | created
    assert after[cid(page["new"])]["archived"] is True
    assert after[cid(page["new_task"])]["status"] == "DONE"
    # Notion: every page the previous sync saw is back as it was then (the rename from
    # Notion renamed back, the closed page reopened, the trashed one out of the trash, the
    # written-back status undone); the new pages are closed and keep their Clockify ID.
    notion_now = notion_state(sandbox)
    for page_id, values in synced_notion.items():
        assert notion_now[page_id] == values, page_id
    assert notion_now[page["new"]]["Status"] in {"Done", "Obsolete", "Archived"}
    assert notion_now[page["new_task"]]["Status"] == "Done"
    assert notion_now[page["new"]]["Clockify ID"] == cid(page["new"])
    assert_mirror(sandbox)
    # The next sync agrees: it redoes nothing.
    reset_calls(sandbox)
    again = sync()
    assert again.status == RunStatus.SUCCEEDED
    assert writes(sandbox) == {"notion": 0, "clockify": 0}
    assert not again.changes.filter(outcome=Outcome.APPLIED).exists()
    assert clockify_state(sandbox) == after


def test_a_record_changed_since_is_flagged_not_overwritten_and_review_decides(sandbox):
    page = seed(sandbox)
    run = the_run(sandbox, page)
    # Since the run, someone renamed the client in Notion and closed the new project in
    # Clockify.
    sandbox.notion.update_page(page["acme"], {"Name": "Acme Inc"})
    sandbox.clockify.update_project(cid(page["new"]), note="Kick-off moved")

    done = undo_now(run)

    assert done.status == RunStatus.PARTIAL
    items = {p.notion_page_id: p for p in PendingChange.objects.filter(reason="undo")}
    assert set(items) == {page["acme"], page["new"]}
    assert all(p.status == ReviewStatus.PENDING and p.run_id == done.pk
               for p in items.values())
    # Nothing written for the flagged ones: the later changes stand.
    assert sandbox.clockify.client(cid(page["acme"]))["name"] == "Acme Corp"
    assert sandbox.notion.values(page["acme"])["Name"] == "Acme Inc"
    assert sandbox.clockify.project(cid(page["new"]))["archived"] is False
    assert sandbox.clockify.project(cid(page["new"]))["note"] == "Kick-off moved"
    flagged = done.changes.get(outcome=Outcome.FLAGGED, notion_page_id=page["acme"])
    assert "changed since" in flagged.fields["name"]["note"]
    acme = items[page["acme"]]
    assert acme.diff["name"] == {"baseline": "Acme Corp", "notion": "Acme Inc",
                                 "clockify": "Acme Corp", "proposed": "Acme", "write": True}
    # The others were undone.
    assert sandbox.clockify.project(cid(page["old"]))["archived"] is False
    assert sandbox.notion.values(page["old"])["Status"] == "In progress"

    # Approve the client: both sides go back to the name before the run.
    assert review.decide(acme.pk, None, Decision.APPROVE)
    assert "review" in apply_pending(acme.pk)
    acme.refresh_from_db()
    assert acme.status == ReviewStatus.APPLIED, acme.result
    assert sandbox.clockify.client(cid(page["acme"]))["name"] == "Acme"
    assert sandbox.notion.values(page["acme"])["Name"] == "Acme"
    # Reject the project: the later change stays, nothing written.
    launch = items[page["new"]]
    assert review.decide(launch.pk, None, Decision.REJECT)
    assert sandbox.clockify.project(cid(page["new"]))["archived"] is False
    assert sandbox.notion.values(page["new"])["Status"] == "In progress"
    # The next sync redoes nothing of the undo: it agrees with both sides.
    again = sync()
    assert again.status == RunStatus.SUCCEEDED
    assert not again.changes.filter(outcome=Outcome.APPLIED, notion_page_id__in=[
        page["acme"], page["old"], page["trashed"], page["design"]]).exists()


def test_an_undo_item_is_never_stale_and_its_approval_checks_both_sides_again(sandbox):
    page = seed(sandbox)
    run = the_run(sandbox, page)
    sandbox.clockify.update_client(cid(page["acme"]), name="Acme (Clockify edit)")
    undo_now(run)
    item = PendingChange.objects.get(reason="undo")
    assert item.notion_page_id == page["acme"]
    # A later sync reads the page (and restores Notion's name in Clockify): the undo's
    # item is not "resolved" by it, but approving it now finds the sides changed.
    sync(mode="incremental", page_ids=[page["acme"]], targeted=True)
    item.refresh_from_db()
    assert item.status == ReviewStatus.PENDING
    assert sandbox.clockify.client(cid(page["acme"]))["name"] == "Acme Corp"
    review.decide(item.pk, None, Decision.APPROVE)
    apply_pending(item.pk)
    item.refresh_from_db()
    assert item.status == ReviewStatus.SUPERSEDED
    assert sandbox.clockify.client(cid(page["acme"]))["name"] == "Acme Corp"
    assert sandbox.notion.values(page["acme"])["Name"] == "Acme Corp"


def test_a_page_trashed_since_the_run_is_not_written_to(sandbox):
    page = seed(sandbox)
    sandbox.notion.update_page(page["acme"], {"Name": "Acme Corp"})
    run = sync()
    sandbox.notion.trash_page(page["acme"])
    done = undo_now(run)
    assert done.status == RunStatus.PARTIAL
    failed = done.changes.get(outcome=Outcome.FAILED)
    assert "moved to the trash since this run" in failed.error
    assert sandbox.clockify.client(cid(page["acme"]))["name"] == "Acme Corp"
    assert sandbox.notion.values(page["acme"])["Name"] == "Acme Corp"


def test_undo_is_refused_for_dry_runs_undos_runs_already_undone_and_runs_that_applied_nothing(
        sandbox):
    page = seed(sandbox)
    sandbox.notion.update_page(page["acme"], {"Name": "Acme Corp"})
    dry = sync(dry_run=True)
    assert "dry run wrote nothing" in undo.why_not(dry)
    with pytest.raises(undo.NotUndoable, match="dry run"):
        undo.request_undo(dry, "tester")
    run = sync()
    first = undo_now(run)
    assert first.status == RunStatus.SUCCEEDED
    with pytest.raises(undo.NotUndoable, match=f"already undone by run #{first.pk}"):
        undo.request_undo(run, "tester")
    with pytest.raises(undo.NotUndoable, match="is the undo of run"):
        undo.request_undo(first, "tester")
    assert SyncRun.objects.filter(undo_of=run).count() == 1
    # A run whose only record failed applied nothing.
    sandbox.notion.update_page(page["globex"], {"Name": "G" * 300})
    failed = sync()
    assert failed.changes.filter(outcome=Outcome.FAILED).exists()
    assert not failed.changes.filter(outcome=Outcome.APPLIED).exists()
    assert "applied nothing" in undo.why_not(failed)


def test_a_failed_undo_may_be_tried_again_and_finishes_what_it_left(sandbox):
    page = seed(sandbox)
    sandbox.notion.update_page(page["acme"], {"Name": "Acme Corp"})
    run = sync()
    broken = SyncRun.objects.create(trigger=Trigger.UNDO, status=RunStatus.FAILED, undo_of=run,
                                    error_summary="Reading failed")
    assert undo.why_not(run) == ""
    done = undo_now(run)
    assert done.status == RunStatus.SUCCEEDED and done.pk != broken.pk
    assert sandbox.clockify.client(cid(page["acme"]))["name"] == "Acme"
    # The failed attempt wrote nothing: this one sets the name back on both sides.
    record = ChangeRecord.objects.filter(run=done, notion_page_id=page["acme"],
                                         outcome=Outcome.APPLIED).first()
    assert record is not None and record.fields["name"]["side"] == "both"


def test_the_plan_lists_each_inverse_from_the_audit_trail(sandbox):
    page = seed(sandbox)
    run = the_run(sandbox, page)
    plan = {i.page_id: i for i in undo.plan(run)}
    assert plan[page["acme"]].what == "rename back"
    assert plan[page["acme"]].fields["name"].after == "Acme Corp"
    assert plan[page["acme"]].fields["name"].target == "Acme"
    assert plan[page["old"]].what == "unarchive"
    assert plan[page["new"]].what == "archive what the run created"
    assert plan[page["new_task"]].what == "set DONE what the run created"
    assert plan[page["design"]].what == "reopen"
    kinds_in_order = [i.kind for i in undo.plan(run)]
    assert kinds_in_order == sorted(kinds_in_order, key=["client", "project", "task"].index)


# -- the pages ------------------------------------------------------------------------------------
def test_the_run_page_offers_undo_and_the_plan_page_lists_each_inverse(sandbox, staff_client):
    page = seed(sandbox)
    run = the_run(sandbox, page)
    detail = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert 'id="undo-run"' in detail and f'action="/runs/{run.pk}/undo/"' in detail
    response = staff_client.post(f"/runs/{run.pk}/undo/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "nothing has been written yet" in html
    assert "in Clockify and in Notion" in html
    for what in ("rename back", "unarchive", "archive what the run created", "reopen"):
        assert f'data-what="{what}"' in html
    assert "<code>Acme Corp</code> → <code>Acme</code>" in html
    assert SyncRun.objects.count() == 2  # the plan wrote nothing, queued nothing

    answer = staff_client.post(f"/runs/{run.pk}/undo/confirm/")
    new = SyncRun.objects.get(undo_of=run)
    assert answer.status_code == 302 and answer["Location"] == f"/runs/{new.pk}/"
    assert new.status == RunStatus.QUEUED and new.triggered_by == "manager (dashboard)"
    html = staff_client.get(f"/runs/{new.pk}/").content.decode()
    assert f'This run undoes <a href="/runs/{run.pk}/">run #{run.pk}</a>' in html
    html = staff_client.get(f"/runs/{run.pk}/").content.decode()
    assert f'Undone by <a href="/runs/{new.pk}/">run #{new.pk}</a>' in html
    assert 'id="undo-run"' not in html
    # A second press is refused with the reason, and queues nothing.
    again = staff_client.post(f"/runs/{run.pk}/undo/confirm/", follow=True)
    assert f"already undone by run #{new.pk}" in again.content.decode()
    assert SyncRun.objects.filter(undo_of=run).count() == 1
    assert staff_client.post(f"/runs/{run.pk}/undo/").status_code == 409


def test_undo_pages_refuse_dry_runs_and_need_staff_and_post(sandbox, staff_client, client,
                                                            django_user_model):
    seed(sandbox)
    dry = sync(dry_run=True)
    html = staff_client.get(f"/runs/{dry.pk}/").content.decode()
    assert 'id="undo-run"' not in html and "dry run wrote nothing" in html
    refused = staff_client.post(f"/runs/{dry.pk}/undo/")
    assert refused.status_code == 409 and "dry run wrote nothing" in refused.content.decode()
    assert staff_client.get(f"/runs/{dry.pk}/undo/confirm/").status_code == 405
    assert not SyncRun.objects.filter(undo_of=dry).exists()
    plain = django_user_model.objects.create_user("plain", password="x-long-password-1")
    client.force_login(plain)
    assert client.post(f"/runs/{dry.pk}/undo/confirm/").status_code == 403


def test_confirming_an_undo_needs_the_csrf_token(sandbox, staff):
    from django.test import Client

    page = seed(sandbox)
    sandbox.notion.update_page(page["acme"], {"Name": "Acme Corp"})
    run = sync()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    assert browser.post(f"/runs/{run.pk}/undo/confirm/").status_code == 403
    assert browser.post(f"/runs/{run.pk}/undo/").status_code == 403
    assert not SyncRun.objects.filter(undo_of=run).exists()
    browser.get(f"/runs/{run.pk}/")
    token = browser.cookies["csrftoken"].value
    answer = browser.post(f"/runs/{run.pk}/undo/confirm/", {"csrfmiddlewaretoken": token})
    assert answer.status_code == 302
    assert SyncRun.objects.filter(undo_of=run, status=RunStatus.QUEUED).count() == 1


def test_the_undo_waits_for_the_sync_lock_and_no_sync_is_merged_into_it(sandbox):
    page = seed(sandbox)
    sandbox.notion.update_page(page["acme"], {"Name": "Acme Corp"})
    run = sync()
    queued = undo.request_undo(run, "tester")
    assert runs.claim("another-sync")  # a live sync holds the lock
    assert runs.execute_run(queued.pk).startswith("busy")
    queued.refresh_from_db()
    assert queued.status == RunStatus.QUEUED
    assert sandbox.clockify.client(cid(page["acme"]))["name"] == "Acme Corp"
    # A trigger meanwhile queues a sync of its own, never merged into the undo.
    poll = runs.request_sync(trigger=Trigger.POLL, mode="incremental")
    assert poll.pk != queued.pk and poll.undo_of is None
    queued.refresh_from_db()
    assert queued.coalesced == 0 and queued.page_ids == []
    runs.release("another-sync")
    assert runs.execute_run(queued.pk) == f"run {queued.pk}: succeeded"
    assert sandbox.clockify.client(cid(page["acme"]))["name"] == "Acme"


def test_a_run_that_only_linked_records_has_nothing_to_undo(sandbox, staff_client):
    sandbox.clockify.create_client("Beta")
    sandbox.notion.create_page(SOURCES["client"], {"Name": "Beta"})
    run = sync()
    assert list(run.changes.values_list("action", "outcome")) == [("link", "applied")]
    with pytest.raises(undo.NotUndoable, match="only linked records"):
        undo.request_undo(run, "tester")
    page = staff_client.post(f"/runs/{run.pk}/undo/")
    assert page.status_code == 409 and "only linked records" in page.content.decode()
    assert 'id="undo-confirm"' not in page.content.decode()


def test_the_review_console_explains_an_undo_item_and_decides_it(sandbox, staff, client):
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="change_pendingchange"))
    client.force_login(staff)
    page = seed(sandbox)
    sandbox.notion.update_page(page["acme"], {"Name": "Acme Corp"})
    run = sync()
    sandbox.notion.update_page(page["acme"], {"Name": "Acme Inc"})
    done = undo_now(run)
    item = PendingChange.objects.get(reason="undo")
    html = client.get("/review/?reason=undo").content.decode()
    assert "Undoing a run would overwrite a later change to the client “Acme Inc”" in html
    assert f"Undo of run #{run.pk}: since that run, name changed" in html
    assert "Approve: undo anyway" in html and "Reject" in html
    assert f"/runs/{done.pk}/" in html or f"#{done.pk}" in html
    answer = client.post(f"/review/{item.pk}/decide/", {"decision": "approve"},
                         HTTP_ACCEPT="application/json")
    assert answer.json()["status"] == "approved"
    apply_pending(item.pk)  # what the django-q2 worker runs
    item.refresh_from_db()
    assert item.status == ReviewStatus.APPLIED, item.result
    assert sandbox.notion.values(page["acme"])["Name"] == "Acme"
    assert sandbox.clockify.client(cid(page["acme"]))["name"] == "Acme"
