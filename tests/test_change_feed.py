"""Full syncs read Clockify through its change feed: 3 calls when nothing changed, the same
outcome as a complete read when something did, a complete read (said so) when the feed
cannot be used, and a full audit that finds what the feed missed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import transaction
from django.utils import timezone

from syncapp.clients import http as http_module
from syncapp.clients.clockify import FeedEntry
from syncapp.engine.records import clockify_record
from syncapp.models import ChangeRecord, EntityMapping, Mode, SyncRun
from syncapp.sandbox import ids
from syncapp.sandbox.demo import seed_scale
from syncapp.sandbox.workspace import Sandbox
from syncapp.services import clockify_reads, side_by_side, snapshots
from tests.conftest import SANDBOX_ROOT
from tests.dashboard import fresh_cache, staff  # noqa: F401
from tests.dashboard import staff_client as staff_client  # noqa: F401 - a fixture
from tests.syncing import SOURCES, as_if_an_hour_ago, assert_mirror, reset_calls, sync

pytestmark = pytest.mark.django_db
WS = f"{SANDBOX_ROOT}/clockify/api/v1/workspaces/{ids.CLOCKIFY_WORKSPACE_ID}"
FEED_CALLS = 3


def clockify_api(box) -> requests.Session:
    """A person's script on Clockify's API (recorded by the feed like any change)."""
    session = requests.Session()
    box.mount(session, SANDBOX_ROOT)
    session.headers["X-Api-Key"] = ids.CLOCKIFY_API_KEY
    return session


def synced_workspace(box, *, clients=3, projects=6, tasks=18) -> SyncRun:
    seed_scale(box, clients=clients, projects=projects, tasks=tasks)
    first = sync()
    assert first.clockify_read == "complete" and "No earlier complete state" in first.feed_note
    assert first.clockify_state_at is not None
    return first


def a_mapped(kind: str) -> EntityMapping:
    return EntityMapping.objects.filter(kind=kind).order_by("name").first()


def records_of(run: SyncRun) -> list[tuple]:
    """The audit trail of a run, in a form two runs on twin workspaces can compare."""
    return sorted((r.kind, r.action, r.outcome, r.name, r.reason, repr(r.fields), r.error)
                  for r in ChangeRecord.objects.filter(run=run))


def test_a_no_change_full_sync_makes_three_clockify_calls(sandbox):
    synced_workspace(sandbox, clients=4, projects=12, tasks=60)
    # a record Clockify refuses (a name too long) stays pending without costing a call
    sandbox.notion.create_page(SOURCES["client"], {"Name": "x" * 150})
    complete = sync()
    reset_calls(sandbox)
    run = sync()  # right after: the feed still names every entity the first run created
    assert run.clockify_read == "feed"
    assert sandbox.clockify.call_count() == FEED_CALLS
    assert sandbox.clockify.call_count("GET", "/entities/") == FEED_CALLS
    assert run.api_calls["clockify"]["total"] == FEED_CALLS
    assert run.api_calls["notion"]["total"] == complete.api_calls["notion"]["total"]
    assert "named" in run.feed_note
    assert run.clockify_state_at is not None
    assert records_of(run) == [r for r in records_of(complete) if r[2] != "applied"]


def _rename(api, box):
    project = a_mapped("project")
    api.put(f"{WS}/projects/{project.clockify_id}",
            json={**box.clockify.project(project.clockify_id), "isPublic": False,
                  "name": "Renamed in Clockify"}).raise_for_status()


def _done(api, box):
    task = box.clockify.task(a_mapped("task").clockify_id)
    api.put(f"{WS}/projects/{task['projectId']}/tasks/{task['id']}",
            json={**task, "status": "DONE"}).raise_for_status()


def _archive(api, box):
    project = a_mapped("project")
    api.put(f"{WS}/projects/{project.clockify_id}",
            json={**box.clockify.project(project.clockify_id), "archived": True}
            ).raise_for_status()


def _delete(api, box):
    task = box.clockify.task(a_mapped("task").clockify_id)
    url = f"{WS}/projects/{task['projectId']}/tasks/{task['id']}"
    api.put(url, json={**task, "status": "DONE"}).raise_for_status()
    api.delete(url).raise_for_status()
    # deletions reach the feed about a minute late: the next run comes two minutes later
    box.clockify.clock = lambda: time.time() + 120


EDITS = {"rename": _rename, "done": _done, "archive": _archive, "delete": _delete}


class _Undo(Exception):
    pass


def _scenario(monkeypatch, edit: str, feed_mode: str) -> tuple[list[tuple], SyncRun, Sandbox]:
    """On a fresh twin workspace: sync, edit Clockify through its API, sync again."""
    box = Sandbox()
    monkeypatch.setattr(http_module, "SESSION_HOOKS",
                        [lambda session: box.mount(session, SANDBOX_ROOT)])
    synced_workspace(box)
    box.clockify.set_feed(feed_mode)
    EDITS[edit](clockify_api(box), box)
    reset_calls(box)
    run = sync()
    return records_of(run), run, box


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_clockify_edit_is_found_through_the_feed_as_a_complete_read_finds_it(
        sandbox, monkeypatch, edit):
    outcomes = {}
    for feed_mode in ("on", "off", "failing"):
        try:
            with transaction.atomic():  # each mode on its own twin, from the same start
                outcomes[feed_mode] = _scenario(monkeypatch, edit, feed_mode)
                assert_mirror(outcomes[feed_mode][2])
                raise _Undo
        except _Undo:
            pass
    records, run, box = outcomes["on"]
    assert records, "the edit made no change record"
    assert records == outcomes["off"][0] == outcomes["failing"][0]
    assert run.clockify_read == "feed"
    # the feed, what it named (and the GET before a PUT), and the feed again after writing
    assert box.clockify.call_count("GET") <= 2 * FEED_CALLS + 2
    off, failing = outcomes["off"][1], outcomes["failing"][1]
    assert off.clockify_read == failing.clockify_read == "complete"
    assert "not offered" in off.feed_note and "failed" in failing.feed_note
    assert off.status == failing.status == run.status


def test_a_deleted_project_is_confirmed_by_a_read_not_inferred(sandbox):
    synced_workspace(sandbox)
    project = a_mapped("project")
    api = clockify_api(sandbox)
    as_if_an_hour_ago(sandbox)
    # the feed says "deleted", but the project is there: a read decides, nothing is recreated
    sandbox.clockify._record("PROJECTS", sandbox.clockify._projects[project.clockify_id],
                             "deleted")
    sandbox.clockify.clock = lambda: time.time() + 120
    reset_calls(sandbox)
    run = sync()
    assert run.clockify_read == "feed"
    assert sandbox.clockify.call_count("GET", f"/projects/{project.clockify_id}") >= 1
    assert not ChangeRecord.objects.filter(run=run, action="create").exists()
    assert api.get(f"{WS}/projects/{project.clockify_id}").status_code == 200


def test_the_feed_cannot_be_used_so_the_run_reads_everything_and_says_why(sandbox, settings,
                                                                        monkeypatch):
    synced_workspace(sandbox)
    # a gap: the last complete state is older than the horizon
    SyncRun.objects.update(clockify_state_at=timezone.now() - timedelta(hours=200))
    settings.CLOCKIFY_FEED_HORIZON_HOURS = 168
    gap = sync()
    assert gap.clockify_read == "complete" and "older than CLOCKIFY_FEED_HORIZON_HOURS" \
        in gap.feed_note
    # the feed answers a shape we cannot read
    with monkeypatch.context() as patch:
        patch.setattr(type(sandbox.clockify), "_feed_created", lambda self, *args: "not a list")
        odd = sync()
    assert odd.clockify_read == "complete" and "shape we cannot read" in odd.feed_note
    # turned off in the settings
    settings.CLOCKIFY_CHANGE_FEED = False
    off = sync()
    assert off.clockify_read == "complete" and "turned off" in off.feed_note
    assert gap.status == odd.status == off.status == "succeeded"


def test_a_full_audit_finds_drift_planted_behind_the_feeds_back(sandbox, staff_client):
    synced_workspace(sandbox)
    project = a_mapped("project")
    as_if_an_hour_ago(sandbox)
    with sandbox.clockify.unrecorded():
        sandbox.clockify.update_project(project.clockify_id, name="Drifted quietly")
    trusting = sync()  # the feed names nothing: the drift stays unseen
    assert trusting.clockify_read == "feed"
    assert sandbox.clockify.project(project.clockify_id)["name"] == "Drifted quietly"
    audit = sync(mode=Mode.AUDIT)
    assert audit.clockify_read == "complete"
    assert audit.drift == [{"kind": "project", "clockify_id": project.clockify_id,
                            "name": project.name, "fields": {"name": {
                                "assumed": project.name, "actual": "Drifted quietly"}}}]
    assert "1 entities differed" in audit.feed_note
    assert sandbox.clockify.project(project.clockify_id)["name"] == project.name  # restored
    page = staff_client.get(f"/runs/{audit.pk}/").content.decode()
    assert "Drift the change feed missed" in page and "Drifted quietly" in page
    again = sync(mode=Mode.AUDIT)
    assert again.drift == [] and "matched" in again.feed_note


def test_notion_and_clockify_are_read_side_by_side(sandbox, monkeypatch):
    synced_workspace(sandbox)
    clockify_started, notion_started = threading.Event(), threading.Event()
    seen = {}

    def on_clockify_thread(stage: str) -> None:
        if stage == "start":
            clockify_started.set()
            seen["notion_reading_meanwhile"] = notion_started.wait(10)

    original = snapshots.notion_records

    def notion_records(*args, **kwargs):
        notion_started.set()
        seen["clockify_reading_meanwhile"] = clockify_started.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(side_by_side, "THREAD_HOOKS", [on_clockify_thread])
    monkeypatch.setattr(snapshots, "notion_records", notion_records)
    run = sync()
    assert seen == {"notion_reading_meanwhile": True, "clockify_reading_meanwhile": True}
    assert run.status == "succeeded"


def test_the_audit_has_its_own_weekly_schedule_and_wins_a_merge(sandbox, staff_client):
    from django_q.models import Schedule

    from syncapp import tasks
    from syncapp.models import Trigger
    from syncapp.services import runs

    schedule = Schedule.objects.get(name="Weekly full audit")
    assert (schedule.func, schedule.schedule_type) == ("syncapp.tasks.full_audit", "W")
    queued = SyncRun.objects.get(pk=tasks.full_audit())
    assert (queued.mode, queued.status, queued.trigger) == (Mode.AUDIT, "queued", "schedule")
    # Sync now while the audit waits: merged into it, and it stays an audit
    assert runs.request_sync(trigger=Trigger.MANUAL).pk == queued.pk
    queued.refresh_from_db()
    assert queued.mode == Mode.AUDIT and queued.coalesced == 1
    # the dashboard's button is a POST (CSRF-protected like every form) and joins it too
    assert staff_client.get("/sync/audit/").status_code == 405
    assert staff_client.post("/sync/audit/").status_code == 302
    assert SyncRun.objects.filter(status="queued").count() == 1
    page = staff_client.get("/settings/").content.decode()
    assert "CLOCKIFY_FEED_HORIZON_HOURS" in page and "Weekly full audit" in page
    assert 'id="full-audit"' in staff_client.get("/").content.decode()


def test_manage_py_sync_audit(sandbox):
    import json
    from io import StringIO

    from django.core.management import call_command

    synced_workspace(sandbox)
    project = a_mapped("project")
    as_if_an_hour_ago(sandbox)
    with sandbox.clockify.unrecorded():
        sandbox.clockify.update_project(project.clockify_id, name="Drifted quietly")
    out = StringIO()
    call_command("sync", "--audit", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["mode"] == "audit" and result["clockify_read"] == "complete"
    assert [d["clockify_id"] for d in result["drift"]] == [project.clockify_id]
    table = StringIO()
    call_command("sync", stdout=table)  # a plain full sync after it: through the feed
    assert "through the change feed" in table.getvalue()


def test_after_its_writes_a_run_settles_its_state_only_if_the_feed_shows_nothing_else(sandbox):
    from syncapp.services import connections, feed

    first = synced_workspace(sandbox)
    assert first.clockify_state_at > first.started_at  # after its writes, not before them
    assert "next run asks it from the end of this one" in first.feed_note
    client = connections.clockify_client()
    assert feed.settled_at(client, first.started_at) is not None
    # one of its creates deleted since (created and deleted in the range: in no endpoint)
    task = sandbox.clockify.task(a_mapped("task").clockify_id)
    url = f"{WS}/projects/{task['projectId']}/tasks/{task['id']}"
    api = clockify_api(sandbox)
    api.put(url, json={**task, "status": "DONE"}).raise_for_status()
    assert feed.settled_at(client, first.started_at) is None  # its document changed
    api.delete(url).raise_for_status()
    assert feed.settled_at(client, first.started_at) is None  # gone from every endpoint


def test_the_client_pages_the_feed_and_refuses_what_it_cannot_read(sandbox, monkeypatch):
    from syncapp.clients import clockify as clockify_client
    from syncapp.clients.errors import UnexpectedShape
    from syncapp.services import connections

    for n in range(5):
        sandbox.clockify.create_client(f"Client {n}")
    client = connections.clockify_client()
    monkeypatch.setattr(clockify_client, "FEED_LIMIT", 2)
    start = "2000-01-01T00:00:00Z"
    end = "2100-01-01T00:00:00Z"
    entries = client.entity_changes("created", ["CLIENTS"], start=start, end=end)
    assert len({e.id for e in entries}) == 5 and {e.doc_type for e in entries} == {"CLIENTS"}
    assert client.calls["GET /workspaces/{workspace}/entities/created"] == 3  # 2 + 2 + 1
    # the untyped endpoints may answer bare documents: read too
    bare = clockify_client._feed_entries([{"id": "a1", "name": "x"}], "GET /entities/created")
    assert [(e.id, e.document["name"]) for e in bare] == [("a1", "x")]
    for odd in ({"response": "nope"}, [17], [{"name": "no id"}], "text"):
        with pytest.raises(UnexpectedShape):
            clockify_client._feed_entries(odd, "GET /entities/created")


def test_a_feed_document_is_kept_with_only_what_a_record_is_built_from(sandbox):
    """Memory: the feed after an initial sync names every entity; each document is cut to
    the keys the kinds read, and the record built from it is the one the whole one gives."""
    synced_workspace(sandbox, clients=1, projects=1, tasks=1)
    project = a_mapped("project")
    estimate = {"estimate": "PT5H", "type": "MANUAL", "active": True}
    sandbox.clockify.set_project_estimate(project.clockify_id, {"timeEstimate": estimate})
    api = clockify_api(sandbox)
    documents = {"client": api.get(f"{WS}/clients/{a_mapped('client').clockify_id}").json(),
                 "project": api.get(f"{WS}/projects/{project.clockify_id}").json(),
                 "task": sandbox.clockify.task(a_mapped("task").clockify_id)}
    for kind, document in documents.items():
        entry = FeedEntry(document["id"], None, document)
        slim = clockify_reads._slim(entry).document
        assert len(slim) < len(document)
        whole, kept = clockify_record(kind, document), clockify_record(kind, slim)
        assert (kept.fields, kept.parent_id) == (whole.fields, whole.parent_id)
