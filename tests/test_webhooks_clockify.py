"""Clockify webhooks: idempotent time entries, ordering, reconciliation
(issue: inbound webhooks)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from syncapp.models import (
    DeliveryStatus,
    EntityMapping,
    RollupState,
    RunStatus,
    SyncRun,
    TimeEntry,
    WebhookDelivery,
)
from syncapp.sandbox import ids
from syncapp.services import connections, rollup, timeentries
from syncapp.webhooks import clockify
from syncapp.webhooks.store import reprocess
from tests.conftest import load_shared
from tests.dashboard import broker  # noqa: F401
from tests.webhooking import CLOCKIFY_TOKEN, START, entry_body, iso, post_clockify

pytestmark = pytest.mark.django_db
T = ids.TASKS_DATA_SOURCE_ID
P = ids.PROJECTS_DATA_SOURCE_ID


@pytest.fixture
def hooks(sandbox, settings):
    settings.CLOCKIFY_WEBHOOK_TOKENS = [CLOCKIFY_TOKEN]
    return sandbox


def send(client, event: str, body: dict) -> int:
    return post_clockify(client, event, body).status_code


def entry(clockify_id: str) -> TimeEntry:
    return TimeEntry.objects.get(clockify_id=clockify_id)


def test_new_entry_is_stored_with_its_values(client, hooks):
    body = entry_body("e1", seconds=5400, description="Design review", project_id="p1",
                      task_id="t1")
    assert send(client, "NEW_TIME_ENTRY", body) == 200
    stored = entry("e1")
    assert (stored.description, stored.duration_seconds, stored.project_id, stored.task_id) == \
        ("Design review", 5400, "p1", "t1")
    assert stored.start == START and stored.end == START + timedelta(seconds=5400)
    assert stored.billable and not stored.running and not stored.deleted
    assert stored.tags == [{"id": "tag-1", "name": "deep work"}]
    assert stored.user_id == ids.CLOCKIFY_USER_ID and stored.raw == body
    assert stored.last_event == "NEW_TIME_ENTRY"


def test_running_timer_then_stop_then_update_then_delete(client, hooks):
    assert send(client, "NEW_TIMER_STARTED", entry_body("e1", seconds=None)) == 200
    assert entry("e1").running and entry("e1").duration_seconds is None
    send(client, "TIMER_STOPPED", entry_body("e1", seconds=1800))
    assert not entry("e1").running and entry("e1").duration_seconds == 1800
    send(client, "TIME_ENTRY_UPDATED", entry_body("e1", seconds=2400, description="Fixed"))
    assert (entry("e1").duration_seconds, entry("e1").description) == (2400, "Fixed")
    send(client, "TIME_ENTRY_DELETED", entry_body("e1", seconds=2400, description="Fixed"))
    assert entry("e1").deleted
    assert TimeEntry.objects.count() == 1


def test_redelivery_is_a_duplicate_and_changes_nothing(client, hooks):
    first = entry_body("e1", seconds=600, description="A")
    send(client, "NEW_TIME_ENTRY", first)
    send(client, "TIME_ENTRY_UPDATED", entry_body("e1", seconds=900, description="B"))
    assert send(client, "NEW_TIME_ENTRY", first) == 200  # the first one, delivered again
    assert entry("e1").description == "B"
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DUPLICATE).count() == 1


def test_out_of_order_events_end_in_the_final_state(client, hooks):
    # Stopped before started, deleted before created: phases order them.
    send(client, "TIMER_STOPPED", entry_body("e1", seconds=1200))
    send(client, "NEW_TIMER_STARTED", entry_body("e1", seconds=None))
    assert not entry("e1").running and entry("e1").duration_seconds == 1200
    send(client, "TIME_ENTRY_DELETED", {"id": "e2", "workspaceId": ids.CLOCKIFY_WORKSPACE_ID})
    send(client, "NEW_TIME_ENTRY", entry_body("e2"))
    send(client, "TIME_ENTRY_UPDATED", entry_body("e2", description="late update"))
    assert entry("e2").deleted
    # Payload change stamps order two updates whatever order they arrive in.
    newer = entry_body("e3", description="newer", changeDate="2026-11-20T10:05:00Z")
    older = entry_body("e3", description="older", changeDate="2026-11-20T10:01:00Z")
    send(client, "TIME_ENTRY_UPDATED", newer)
    send(client, "TIME_ENTRY_UPDATED", older)
    assert entry("e3").description == "newer"
    assert "stale" in WebhookDelivery.objects.order_by("-id").first().message


def test_restored_entry_comes_back_after_delete(client, hooks):
    send(client, "NEW_TIME_ENTRY", entry_body("e1"))
    send(client, "TIME_ENTRY_DELETED", entry_body("e1"))
    send(client, "TIME_ENTRY_RESTORED", entry_body("e1", description="restored"))
    assert not entry("e1").deleted and entry("e1").description == "restored"
    send(client, "TIME_ENTRY_UPDATED", entry_body("e1", description="after restore"))
    assert entry("e1").description == "after restore"


def test_an_entry_without_an_id_is_400_and_nothing_is_stored(client, hooks):
    body = entry_body()
    del body["id"]
    assert send(client, "NEW_TIME_ENTRY", body) == 400
    assert WebhookDelivery.objects.get().status == DeliveryStatus.MALFORMED
    assert TimeEntry.objects.count() == 0


def _interval(**changes) -> dict:
    return {**entry_body()["timeInterval"], **changes}


# Bodies Clockify could resend forever without success: each is refused 400 with its reason
# (the sender stops retrying), stored as invalid, and nothing is applied.
NEVER_SUCCEED = {
    "start-overflowing-to-infinity": (b'{"id": "e1", "timeInterval": {"start": 1e999}}',
                                      "Number out of range"),
    "start-out-of-datetime-range": ({"timeInterval": _interval(start=1e300)},
                                    "timeInterval.start is out of range"),
    "start-not-a-date": ({"timeInterval": _interval(start="next tuesday")},
                         "timeInterval.start is not a date-time"),
    "end-a-list": ({"timeInterval": _interval(end=[1])}, "timeInterval.end is not a date-time"),
    "end-year-beyond-utc": ({"timeInterval": _interval(end="9999-12-31T23:59:59-05:00")},
                            "timeInterval.end is out of range"),
    "span-of-ten-thousand-years": (
        {"timeInterval": _interval(start="0001-01-01T00:00:00Z", end="9999-01-01T00:00:00Z")},
        "more than 68 years"),
    "interval-a-string": ({"timeInterval": "x"}, "timeInterval is not an object"),
    "user-a-string": ({"user": "x"}, "user is not an object"),
    "task-a-number": ({"task": 7}, "task is not an object"),
    "user-id-a-number": ({"user": {"id": 5}}, "user.id is not a Clockify id"),
    "id-of-300-characters": ({"id": "e" * 300}, "id is not a Clockify id"),
    "id-a-number": ({"id": 123}, "id is not a Clockify id"),
    "id-blank": ({"id": "  "}, "id is not a Clockify id"),
    "project-id-of-300-characters": ({"projectId": "p" * 300}, "projectId is not a Clockify id"),
    "workspace-id-an-object": ({"workspaceId": {"a": 1}}, "workspaceId is not a Clockify id"),
    "description-an-object": ({"description": {"a": 1}}, "description is not a string"),
    "tag-ids-a-string": ({"tagIds": "t"}, "tagIds is not a list"),
    "change-date-out-of-range": ({"changeDate": 1e300}, "changeDate is out of range"),
}


@pytest.mark.parametrize("event", ["NEW_TIME_ENTRY", "TIME_ENTRY_DELETED"])
@pytest.mark.parametrize("case", sorted(NEVER_SUCCEED))
def test_a_time_entry_that_can_never_succeed_is_400_with_its_reason(client, hooks, case, event):
    change, reason = NEVER_SUCCEED[case]
    body = change if isinstance(change, bytes) else {**entry_body("e1"), **change}
    response = post_clockify(client, event, body)
    assert response.status_code == 400, response.content
    assert reason in response.json()["reason"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.MALFORMED and reason in delivery.message
    assert delivery.response_status == 400 and delivery.dedupe_key is None
    assert TimeEntry.objects.count() == 0 and RollupState.objects.count() == 0


def test_an_entity_event_with_an_over_long_id_is_400(client, hooks):
    assert send(client, "PROJECT_UPDATED", {"id": "p" * 300, "name": "x"}) == 400
    assert "id is not a Clockify id" in WebhookDelivery.objects.get().message
    assert SyncRun.objects.count() == 0


def test_an_unused_event_type_is_not_validated_but_ignored(client, hooks):
    assert send(client, "NEW_TAG", {"id": "t" * 300, "user": "x"}) == 200
    assert WebhookDelivery.objects.get().status == DeliveryStatus.IGNORED


def test_irrelevant_and_foreign_events_are_200_ignored(client, hooks):
    assert send(client, "NEW_TAG", {"id": "tag", "name": "x"}) == 200
    assert send(client, "NEW_TIME_ENTRY", entry_body(workspaceId="another-workspace")) == 200
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == \
        {DeliveryStatus.IGNORED}
    assert TimeEntry.objects.count() == 0


def test_event_type_header_name_is_case_insensitive(client, hooks):
    response = client.post("/hooks/clockify/", data=entry_body("e1"),
                           content_type="application/json",
                           headers={"clockify-signature": CLOCKIFY_TOKEN,
                                    "CLOCKIFY-WEBHOOK-EVENT-TYPE": "new_time_entry"})
    assert response.status_code == 200
    assert entry("e1").last_event == "NEW_TIME_ENTRY"


def test_processing_failure_is_500_with_traceback_and_can_be_reprocessed(client, hooks,
                                                                        monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("database on fire")

    body = entry_body("e1", project_id="p1")
    with monkeypatch.context() as patch:
        patch.setattr(timeentries, "_save", explode)
        assert send(client, "NEW_TIME_ENTRY", body) == 500
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "RuntimeError: database on fire" in delivery.error and "Traceback" in delivery.error
    assert delivery.dedupe_key is None  # released: the sender's retry is not a "duplicate"
    assert TimeEntry.objects.count() == 0 and RollupState.objects.count() == 0  # rolled back
    reprocess(delivery, clockify.SOURCE)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PROCESSED and delivery.attempts == 2
    assert delivery.error == ""
    assert entry("e1").project_id == "p1"


def test_admin_reprocess_action(client, hooks, monkeypatch, admin_client):
    with monkeypatch.context() as patch:
        patch.setattr(timeentries, "_save", lambda *a, **k: 1 / 0)
        send(client, "NEW_TIME_ENTRY", entry_body("e1"))
    post_clockify(client, "NEW_TIME_ENTRY", entry_body("e2"), token="wrong")
    failed, invalid = WebhookDelivery.objects.order_by("id")
    response = admin_client.post("/admin/syncapp/webhookdelivery/", {
        "action": "reprocess_deliveries", "_selected_action": [failed.pk, invalid.pk]},
        follow=True)
    assert response.status_code == 200
    assert "Processed again: 1 processed" in response.content.decode()
    assert "1 skipped" in response.content.decode()
    assert TimeEntry.objects.filter(clockify_id="e1").exists()
    assert not TimeEntry.objects.filter(clockify_id="e2").exists()  # never verified


def test_project_and_task_events_queue_a_targeted_sync_of_the_mapped_page(client, hooks):
    EntityMapping.objects.create(kind="task", notion_page_id="page-task", clockify_id="ct1",
                                 state="linked")
    EntityMapping.objects.create(kind="project", notion_page_id="page-project",
                                 clockify_id="cp1", state="linked")
    task = load_shared("clockify-samples/webhook-task-payload.activepieces.json")
    assert send(client, "TASK_UPDATED", {**task, "id": "ct1",
                                         "workspaceId": ids.CLOCKIFY_WORKSPACE_ID}) == 202
    run = SyncRun.objects.get(status=RunStatus.QUEUED)
    assert (run.trigger, run.mode, run.targeted, run.page_ids, run.triggered_by) == \
        ("webhook", "incremental", True, ["page-task"], "Clockify TASK_UPDATED")
    assert send(client, "PROJECT_DELETED", {"id": "cp1", "name": "X"}) == 202
    run.refresh_from_db()  # coalesced into the one queued run
    assert run.page_ids == ["page-project", "page-task"] and run.coalesced == 1
    assert SyncRun.objects.count() == 1
    assert send(client, "NEW_CLIENT", {"id": "unmapped", "name": "By hand"}) == 200
    assert WebhookDelivery.objects.order_by("-id").first().status == DeliveryStatus.IGNORED


def test_clockify_samples_are_accepted(client, hooks, settings):
    sample = load_shared("clockify-samples/webhook-NEW_TIME_ENTRY.activepieces.json")
    settings.CLOCKIFY_WORKSPACE_ID = sample["workspaceId"]  # the sample's own workspace
    assert send(client, "NEW_TIME_ENTRY", sample) == 200
    stored = entry(sample["id"])
    assert stored.duration_seconds == 11 * 3600 + 48 * 60  # PT11H48M
    assert (stored.project_id, stored.task_id) == (sample["projectId"], sample["task"]["id"])
    assert stored.tags == [{"id": "68452a1b0300f917a02f30bc", "name": "new"}]
    assert stored.billable and not stored.running
    task = load_shared("clockify-samples/webhook-task-payload.activepieces.json")
    assert send(client, "NEW_TASK", task) == 200  # unmapped: nothing to reconcile
    EntityMapping.objects.create(kind="task", notion_page_id="p", clockify_id=task["id"],
                                 state="linked")
    assert send(client, "TASK_UPDATED", task) == 202


def test_a_thousand_deliveries_with_duplicates_in_shuffled_order(client, hooks):
    """10% duplicates, any order: the exact final entries and one Notion write per page."""
    rng = random.Random(7)
    projects = {f"cp{i}": hooks.notion.create_page(P, {"Name": f"Project {i}"})
                for i in range(2)}
    tasks = {f"ct{i}": (f"cp{i % 2}", hooks.notion.create_page(T, {"Name": f"Task {i}"}))
             for i in range(4)}
    for cid, page in projects.items():
        EntityMapping.objects.create(kind="project", notion_page_id=page, clockify_id=cid,
                                     state="linked")
    for cid, (_, page) in tasks.items():
        EntityMapping.objects.create(kind="task", notion_page_id=page, clockify_id=cid,
                                     state="linked")
    deliveries, final = [], {}
    for n in range(450):
        eid, task = f"66f0{n:020x}", rng.choice(sorted(tasks))
        start = START + timedelta(minutes=n)
        seconds = rng.randrange(60, 4 * 3600, 60)
        shape = n % 4
        if shape == 0:  # a timer: started, then stopped
            deliveries += [("NEW_TIMER_STARTED", entry_body(eid, start=start, seconds=None,
                                                            task_id=task,
                                                            project_id=tasks[task][0])),
                           ("TIMER_STOPPED", entry_body(eid, start=start, seconds=seconds,
                                                        task_id=task,
                                                        project_id=tasks[task][0]))]
            final[eid] = (False, seconds, task)
        elif shape == 1:  # edited, moved to another task: ordered by the payload's changeDate
            moved = rng.choice(sorted(tasks))
            deliveries += [("NEW_TIME_ENTRY", entry_body(eid, start=start, seconds=seconds,
                                                         task_id=task,
                                                         project_id=tasks[task][0],
                                                         changeDate="2026-11-20T10:00:00Z")),
                           ("TIME_ENTRY_UPDATED", entry_body(eid, start=start,
                                                             seconds=seconds + 60,
                                                             task_id=moved,
                                                             project_id=tasks[moved][0],
                                                             changeDate="2026-11-20T11:00:00Z"))]
            final[eid] = (False, seconds + 60, moved)
        else:  # created (or started), then deleted: the tombstone wins
            deliveries += [("NEW_TIME_ENTRY" if shape == 2 else "NEW_TIMER_STARTED",
                            entry_body(eid, start=start,
                                       seconds=seconds if shape == 2 else None, task_id=task,
                                       project_id=tasks[task][0])),
                           ("TIME_ENTRY_DELETED", entry_body(eid, start=start, seconds=seconds,
                                                             task_id=task,
                                                             project_id=tasks[task][0]))]
            final[eid] = (True, None, task)
    deliveries += rng.sample(deliveries, 100)
    rng.shuffle(deliveries)
    assert len(deliveries) == 1000
    for event, body in deliveries:
        assert send(client, event, body) == 200
    rollup.flush()

    stored = {e.clockify_id: e for e in TimeEntry.objects.all()}
    assert set(stored) == set(final)
    for eid, (deleted, seconds, task) in final.items():
        assert stored[eid].deleted is deleted, eid
        assert stored[eid].task_id == task, eid
        if not deleted:
            assert not stored[eid].running and stored[eid].duration_seconds == seconds, eid
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DUPLICATE).count() == 100
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PROCESSED).count() == 900

    by_task, by_project = Counter(), Counter()
    for deleted, seconds, task in final.values():
        if not deleted:
            by_task[task] += seconds
            by_project[tasks[task][0]] += seconds
    for cid, (_, page) in tasks.items():
        assert hooks.notion.values(page)["Tracked (h)"] == float(rollup.hours(by_task[cid]))
    for cid, page in projects.items():
        assert hooks.notion.values(page)["Tracked (h)"] == \
            float(rollup.hours(by_project[cid]))
    assert hooks.notion.call_count("PATCH") == len(tasks) + len(projects)  # one per page
    hooks.notion.reset_calls()
    rollup.flush()
    assert hooks.notion.call_count("PATCH") == 0


# -- reconciliation ------------------------------------------------------------------------
@pytest.fixture
def clockify_entries(hooks):
    now = timezone.now().replace(microsecond=0)
    project = hooks.clockify.create_project("Website")
    kept = hooks.clockify.add_time_entry(start=now - timedelta(days=1),
                                         end=now - timedelta(days=1) + timedelta(hours=2),
                                         projectId=project["id"], description="kept")
    missed = hooks.clockify.add_time_entry(start=now - timedelta(days=2),
                                           end=now - timedelta(days=2) + timedelta(hours=1),
                                           projectId=project["id"], description="missed")
    return {"now": now, "project": project, "kept": kept, "missed": missed}


def local(body: dict, **fields) -> TimeEntry:
    values = timeentries.entry_values(body)
    return TimeEntry.objects.create(clockify_id=body["id"], **{**values, **fields},
                                    order_key=timeentries.order_key(0, 1, 0))


def test_reconciliation_adds_repairs_and_marks_deleted(hooks, clockify_entries):
    now = clockify_entries["now"]
    kept = hooks.clockify.time_entries()[0]
    local(kept, description="stale description")
    gone = local(entry_body("gone", start=now - timedelta(days=3)))
    ancient = local(entry_body("ancient", start=now - timedelta(days=30)))
    running = hooks.clockify.add_time_entry(start=now - timedelta(minutes=5))
    counts = timeentries.reconcile(now=now + timedelta(minutes=1))
    assert counts["added"] == 2 and counts["repaired"] == 1 and counts["deleted"] == 1
    assert entry(kept["id"]).description == "kept"
    assert entry(clockify_entries["missed"]["id"]).duration_seconds == 3600
    assert entry(clockify_entries["missed"]["id"]).raw["project"]["name"] == "Website"
    assert entry(running["id"]).running
    gone.refresh_from_db()
    ancient.refresh_from_db()
    assert gone.deleted and gone.last_event == "RECONCILED_MISSING"
    assert not ancient.deleted  # outside the window: not judged
    again = timeentries.reconcile(now=now + timedelta(minutes=1))
    assert set(again) == {"unchanged"}
    assert RollupState.objects.filter(kind="project",
                                      clockify_id=clockify_entries["project"]["id"]).exists()


def test_reconciliation_that_cannot_read_marks_nothing_deleted(hooks, clockify_entries,
                                                               settings):
    settings.HTTP_MAX_RETRIES = 0
    gone = local(entry_body("gone", start=clockify_entries["now"] - timedelta(days=1)))
    hooks.clockify.faults.schedule("500", method="GET", path_contains="/time-entries")
    with pytest.raises(Exception, match="500"):
        timeentries.reconcile()
    gone.refresh_from_db()
    assert not gone.deleted


def test_reconciliation_schedule_exists_once_by_name():
    from django_q.models import Schedule

    names = {"Reconcile Clockify time entries (hourly)": "reconcile_time_entries",
             "Write tracked hours to Notion (every minute)": "flush_rollups",
             "Send Salesforce Events (every minute)": "push_salesforce_due"}
    for name, func in names.items():
        schedule = Schedule.objects.get(name=name)
        assert schedule.func == f"syncapp.tasks_webhooks.{func}"
    from importlib import import_module

    migration = import_module("syncapp.migrations.0007_webhook_schedules")
    from django.apps import apps

    migration.create_schedules(apps)  # idempotent by name
    assert Schedule.objects.filter(name__in=names).count() == 3


def test_tasks_entry_points(hooks, clockify_entries):
    from syncapp import tasks_webhooks

    assert tasks_webhooks.reconcile_time_entries()["added"] == 2
    assert tasks_webhooks.flush_rollups() == {"unmapped": 1}
    assert tasks_webhooks.push_salesforce_due() == {"created": 2}
    assert len(hooks.salesforce.events()) == 2


def test_stamp_helpers():
    assert timeentries.payload_stamp({"changeDate": "2026-11-20T10:00:00Z"}) == \
        int(datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp() * 1000)
    assert timeentries.payload_stamp({"auditMetadata": {"updatedAt": 1749306307000}}) == \
        1749306307000
    assert timeentries.payload_stamp({}) == 0
    keys = [timeentries.order_key(0, 2, 1), timeentries.order_key(0, 1, 99),
            timeentries.order_key(5, 0, 1)]
    assert sorted(keys) == [keys[1], keys[0], keys[2]]
    assert rollup.hours(5400) == Decimal("1.50")
    assert iso(START) == "2026-11-20T09:00:00Z"


def test_per_entity_rollup_marks(client, hooks):
    send(client, "NEW_TIME_ENTRY", entry_body("e1", task_id="t1", project_id="p1"))
    send(client, "TIME_ENTRY_UPDATED", entry_body("e1", task_id="t2", project_id="p1",
                                                  description="moved"))
    marked = defaultdict(set)
    for state in RollupState.objects.filter(dirty=True):
        marked[state.kind].add(state.clockify_id)
    assert marked == {"task": {"t1", "t2"}, "project": {"p1"}}


def test_a_late_new_time_entry_does_not_revert_the_updated_version(client, hooks):
    # Clockify's bodies carry no change stamp: the creation event is older than any update
    # about the same entry, whatever order the deliveries come in.
    created = entry_body("e1", seconds=1800, description="First draft", project_id="p1")
    updated = entry_body("e1", seconds=4200, description="Invoiced version", project_id="p2",
                         billable=False)
    assert send(client, "TIME_ENTRY_UPDATED", updated) == 200
    assert send(client, "NEW_TIME_ENTRY", created) == 200
    stored = entry("e1")
    assert (stored.description, stored.duration_seconds, stored.project_id, stored.billable) \
        == ("Invoiced version", 4200, "p2", False)
    assert stored.last_event == "TIME_ENTRY_UPDATED"
    assert "stale" in WebhookDelivery.objects.order_by("-id").first().message
    # A later update still applies; so does a timer's late start not undo its stop.
    assert send(client, "TIME_ENTRY_UPDATED", entry_body("e1", seconds=600,
                                                         description="Trimmed")) == 200
    assert entry("e1").description == "Trimmed"
    send(client, "TIME_ENTRY_UPDATED", entry_body("e2", seconds=None, description="Renamed"))
    send(client, "NEW_TIMER_STARTED", entry_body("e2", seconds=None, description="Timer"))
    assert entry("e2").description == "Renamed" and entry("e2").running


def test_two_stampless_updates_out_of_order_are_settled_by_reading_the_entry_back(
        client, hooks, broker, django_capture_on_commit_callbacks):  # noqa: F811
    from tests.dashboard import work_off

    tracked = hooks.clockify.add_time_entry(start=START, end=START + timedelta(hours=1),
                                            description="v1")
    api = connections.clockify_client()
    send(client, "NEW_TIME_ENTRY", api.get_time_entry(tracked["id"]))
    hooks.clockify.update_time_entry(tracked["id"], description="v2")
    second = api.get_time_entry(tracked["id"])
    hooks.clockify.update_time_entry(tracked["id"], description="v3",
                                     end=START + timedelta(hours=2))
    third = api.get_time_entry(tracked["id"])
    with django_capture_on_commit_callbacks(execute=True):
        send(client, "TIME_ENTRY_UPDATED", third)
        assert broker.queue_size() == 0  # one update after the creation: no doubt
        send(client, "TIME_ENTRY_UPDATED", second)  # the older one, delivered last
    assert entry(tracked["id"]).description == "v2"  # the order received was wrong...
    assert broker.queue_size() == 1  # ...so the entry is read back by its id
    hooks.clockify.reset_calls()
    assert work_off(broker) == ["repaired"]
    assert hooks.clockify.calls == [
        ("GET", f"/v1/workspaces/{ids.CLOCKIFY_WORKSPACE_ID}/time-entries/"
                f"{tracked['id']}")]
    stored = entry(tracked["id"])
    assert (stored.description, stored.duration_seconds) == ("v3", 7200)
    # A later stampless update still applies over the read-back version.
    hooks.clockify.update_time_entry(tracked["id"], description="v4")
    send(client, "TIME_ENTRY_UPDATED", api.get_time_entry(tracked["id"]))
    assert entry(tracked["id"]).description == "v4"
