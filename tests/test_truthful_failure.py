"""A run that could not read Notion or Clockify is a failed run, and every place says so:
the run, `manage.py sync`'s exit status and JSON, the runs list, /health/ and the overview."""

from __future__ import annotations

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from syncapp.models import RunStatus, SyncRun
from syncapp.sandbox import ids
from syncapp.sandbox.demo import seed_demo
from tests.dashboard import broker, fresh_cache, staff, staff_client, work_off  # noqa: F401

pytestmark = pytest.mark.django_db
C = ids.CLIENTS_DATA_SOURCE_ID


def sync_json(*args) -> tuple[int, dict, str]:
    out, err = StringIO(), StringIO()
    code = 0
    try:
        call_command("sync", "--json", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    except CommandError as exc:
        code = exc.returncode
    return code, json.loads(out.getvalue()), err.getvalue()


def test_when_notion_cannot_be_read_the_run_fails_exits_2_and_json_lists_the_error(sandbox):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    sandbox.notion.faults.configure(1.0, ("503",))
    code, summary, _ = sync_json()
    assert code == 2
    assert summary["status"] == "failed"
    assert any("Reading the Notion clients database failed" in e and "503" in e
               for e in summary["errors"])
    assert summary["read_errors"] == summary["errors"]
    run = SyncRun.objects.get()
    assert run.status == RunStatus.FAILED and "503" in run.error_summary
    assert sandbox.clockify.clients() == []


def test_when_clockify_cannot_be_read_the_run_fails_exits_2_and_json_lists_the_error(sandbox):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    sandbox.clockify.faults.configure(1.0, ("429",))
    code, summary, _ = sync_json()
    assert code == 2
    assert summary["status"] == "failed"
    assert any(e.startswith("Reading clients failed: clockify 429") for e in summary["errors"]), \
        summary["errors"]
    assert summary["counts"]["client"]["created"] == 0


def test_a_refused_token_fails_the_run_with_exit_2(sandbox, settings):
    settings.NOTION_TOKEN = "ntn_" + "x" * 40
    sandbox.notion.create_page(C, {"Name": "Acme"})
    code, summary, _ = sync_json()
    assert code == 2 and summary["status"] == "failed"
    assert [e.split(";")[0] for e in summary["errors"]] == [
        f"Notion refused access to the {kind} database (check NOTION_TOKEN)"
        for kind in ("clients", "projects", "tasks")]
    assert all("notion 401 [unauthorized]" in e for e in summary["errors"])


def test_notion_failing_nine_calls_in_ten_is_a_failed_run_everywhere(sandbox, staff_client,
                                                                      client, settings):
    """The reported case: before, exit 1, "errors": [], 0 problems, /health/ ok."""
    seed_demo(sandbox)
    sandbox.notion.faults.configure(0.9, ("500", "502", "503", "429", "timeout"))
    code, summary, _ = sync_json()
    sandbox.notion.faults.clear()
    assert code == 2
    assert summary["status"] == "failed" and summary["errors"]
    assert summary["read_errors"]
    run = SyncRun.objects.get()

    rows = staff_client.get(reverse("run-list")).content.decode()
    row = rows.split(f">#{run.pk}</a>")[1].split("</tr>")[0]
    problems = re.findall(r'<td class="num">(?:<span class="status-partial">)?(\d+)', row)[1]
    read_failed = sum(c.get("read_failed", 0) for c in run.counts.values())
    assert read_failed == len(summary["read_errors"])  # one per kind whose read failed
    assert int(problems) == read_failed + sum(c.get("failed", 0) + c.get("flagged", 0)
                                              for c in run.counts.values())
    assert "Failed" in row

    health = client.get(reverse("health"))
    assert health.status_code == 503
    assert health.json()["status"] == "failing"
    assert health.json()["reason"].startswith(f"The last run (#{run.pk}) failed: ")

    overview = staff_client.get(reverse("overview")).content.decode()
    assert "✓ all good" not in overview
    assert "the last run failed" in overview and 'id="last-failure"' in overview

    detail = staff_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "already agreed" not in detail


def test_a_failed_run_without_changes_never_says_notion_and_clockify_agreed(sandbox,
                                                                           staff_client):
    sandbox.notion.faults.configure(1.0, ("503",))
    sync_json()
    run = SyncRun.objects.get()
    detail = staff_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "already agreed" not in detail
    assert "This run failed before it recorded any change" in detail
    assert "read failed" in detail  # per kind, in the progress table


def test_a_record_that_fails_is_listed_in_the_json_errors(sandbox):
    sandbox.notion.create_page(ids.PROJECTS_DATA_SOURCE_ID, {"Name": "X"})  # too short
    code, summary, _ = sync_json()
    assert code == 1 and summary["status"] == "partial"
    assert summary["read_errors"] == []
    [record] = summary["record_errors"]
    assert record["kind"] == "project" and record["name"] == "X"
    assert "Clockify accepts 2–250" in record["error"]
    assert summary["errors"] == [f"project X: {record['error']}"]


def test_dry_runs_are_labelled_dry_run_in_the_list_the_detail_and_the_progress(
        sandbox, staff_client, broker, django_capture_on_commit_callbacks):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(reverse("sync-dry-run"))
    run = SyncRun.objects.get()
    card = staff_client.get(reverse("overview")).content.decode()
    assert "· Dry run by manager (dashboard)" in card
    assert "Manual (Sync now)" not in card
    work_off(broker)
    detail = staff_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert "Dry run by manager (dashboard)" in detail and "Manual (Sync now)" not in detail
    listing = staff_client.get(reverse("run-list")).content.decode()
    row = listing.split(f">#{run.pk}</a>")[1].split("</tr>")[0]
    assert "<td>Dry run<br>" in row
    progress = staff_client.get(reverse("run-progress", args=[run.pk])).json()
    assert progress["trigger_label"] == "Dry run"
