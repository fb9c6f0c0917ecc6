"""Overview, run detail, mapping browser and settings: content, empty states, query counts."""

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from syncapp.models import (
    ChangeRecord,
    DatabaseMapping,
    EntityMapping,
    MappingState,
    Outcome,
    PendingChange,
    RunStatus,
    SyncRun,
)
from syncapp.sandbox import ids
from syncapp.services import config_check
from tests.dashboard import finished_run, fresh_cache, populate, staff, staff_client  # noqa: F401

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID


def page(client, name, *args, **params) -> str:
    response = client.get(reverse(name, args=args), params)
    assert response.status_code == 200
    return response.content.decode()


# -- overview -----------------------------------------------------------------------------------
def test_fresh_install_overview_has_clear_empty_states(staff_client, sandbox):
    html = page(staff_client, "overview")
    assert "No sync has run yet" in html
    assert "Nothing mapped yet" in html
    assert "Nothing waits for a decision" in html
    assert "No runs to show yet" in html
    assert "Daily full sync" in html and "Incremental poll (every minute)" in html
    assert "Notion answers and accepts the token" in html
    assert "Clockify answers, accepts the key and finds the workspace" in html
    assert 'id="sync-now"' in html and 'id="dry-run"' in html


def test_overview_shows_the_current_run_counts_and_merged_triggers(staff_client, sandbox):
    last = finished_run(status=RunStatus.PARTIAL, counts={"client": {"created": 2, "flagged": 1}},
                        api_calls={"notion": {"total": 7}, "clockify": {"total": 4}})
    PendingChange.objects.create(run=last, kind="client", name="Acme", action="link",
                                 reason="ambiguous_match", fingerprint="f" * 64)
    PendingChange.objects.create(run=last, kind="client", name="Old", action="link",
                                 reason="ambiguous_match", fingerprint="e" * 64,
                                 status="rejected")
    SyncRun.objects.create(trigger="schedule", status=RunStatus.RUNNING, phase="Syncing projects",
                           counts={"client": {"created": 3, "unchanged": 5}})
    queued = SyncRun.objects.create(trigger="manual", status=RunStatus.QUEUED, coalesced=4,
                                    last_coalesced_at=timezone.now())
    EntityMapping.objects.create(kind="client", notion_page_id="a" * 32, clockify_id="c1",
                                 name="Acme", state=MappingState.LINKED)
    html = page(staff_client, "overview")
    assert "Syncing projects" in html
    assert '<td class="num" data-field="processed">8</td>' in html
    assert "3 created, 5 unchanged" in html
    assert f"#{queued.pk}" in html and "4 later triggers merged into this run" in html
    assert "1</strong> change is waiting for a decision" in html
    assert f'href="{reverse("review-list")}"' in html  # the console, not the raw admin
    assert "7 / 4" in html  # API calls of the last run in the recent runs table
    assert ">Clients</a>" in html


def test_recent_runs_show_coalesced_badge_and_hide_idle_polls(staff_client, sandbox):
    busy = finished_run(trigger="manual", coalesced=3)
    idle = finished_run(trigger="poll")
    html = page(staff_client, "overview").split('id="recent-runs"')[1]
    assert f">#{busy.pk}</a>" in html and ">+3</span>" in html
    assert f">#{idle.pk}</a>" not in html
    assert f">#{idle.pk}</a>" in page(staff_client, "run-list", idle="1")
    assert f">#{idle.pk}</a>" not in page(staff_client, "run-list")


def test_overview_chart_counts_runs_and_changes_per_day(staff_client, sandbox):
    run = finished_run(status=RunStatus.FAILED)
    # Stamped with the run's own start, so the run and its changes fall on one day's bar
    # even when the test runs just after midnight.
    ChangeRecord.objects.bulk_create([ChangeRecord(run=run, kind="client", name=f"n{i}",
                                                   action="create", outcome=Outcome.APPLIED,
                                                   created_at=run.started_at)
                                      for i in range(3)])
    html = page(staff_client, "overview")
    assert "1 run (1 failed or held), 3 changes applied, 0 failed or flagged" in html


def test_configuration_check_is_cached_so_the_overview_stays_fast(staff_client, sandbox):
    page(staff_client, "overview")
    calls = len(sandbox.notion.calls) + len(sandbox.clockify.calls)
    assert 1 <= calls <= 4  # users/me, /user and one page of clients: never the databases
    page(staff_client, "overview")
    assert len(sandbox.notion.calls) + len(sandbox.clockify.calls) == calls


def test_a_slow_api_does_not_hold_the_overview(staff_client, sandbox, settings):
    """A timeout is reported in plain words at once: short timeout, no retries."""
    sandbox.notion.faults.schedule("timeout", times=10)
    html = page(staff_client, "overview")
    assert "Notion did not answer within 3 s" in html
    assert sandbox.sleeps == []  # no retry, no backoff
    client = config_check._clients(retries=0)[0]
    assert client.timeout == settings.CONFIG_CHECK_TIMEOUT and client.max_retries == 0


def test_missing_settings_are_reported_with_the_fix(staff_client, sandbox, settings):
    settings.NOTION_TOKEN = ""
    html = page(staff_client, "overview")
    assert "NOTION_TOKEN is not set." in html
    assert "notion.so/profile/integrations" in html
    assert not sandbox.notion.calls  # nothing to call Notion with


# -- run detail ------------------------------------------------------------------------------------
@pytest.fixture
def detailed_run():
    run = finished_run(status=RunStatus.PARTIAL)
    parent = EntityMapping.objects.create(kind="project", notion_page_id="p" * 32,
                                          clockify_id="proj123", name="Website")
    task = EntityMapping.objects.create(kind="task", notion_page_id="t" * 32,
                                        clockify_id="task123", name="Design", parent=parent)
    page_id = "1234abcd-0000-4000-8000-00000000abcd"
    ChangeRecord.objects.create(
        run=run, kind="client", name="Acme", action="create", outcome=Outcome.APPLIED,
        notion_page_id=page_id, clockify_id="cl1",
        fields={"name": {"before": None, "after": "Acme", "side": "clockify"}})
    ChangeRecord.objects.create(
        run=run, kind="task", name="Design", action="update", outcome=Outcome.FLAGGED,
        mapping=task, notion_page_id="t" * 32, clockify_id="task123",
        fields={"conflicts": {"name": {"baseline": "Dsgn", "notion": "Design",
                                       "clockify": "Draft"}}})
    ChangeRecord.objects.create(
        run=run, kind="project", name="X", action="create", outcome=Outcome.FAILED,
        notion_page_id="f" * 32,
        error="clockify 400 [501]: Project name must be between 2 and 250 characters\n"
              "(POST /v1/workspaces/{workspace}/projects)")
    ChangeRecord.objects.bulk_create([
        ChangeRecord(run=run, kind="project", name=f"Bulk {i:03d}", action="update",
                     outcome=Outcome.APPLIED, notion_page_id=f"{i:032d}",
                     fields={"billable": {"before": False, "after": True, "side": "clockify"}})
        for i in range(60)])
    return run


def test_run_detail_shows_before_after_errors_and_links(staff_client, detailed_run, settings):
    settings.SANDBOX = False  # the real apps' links (the sandbox's: tests/test_sandbox_records.py)
    html = page(staff_client, "run-detail", detailed_run.pk, kind="client")
    assert "Acme" in html and "Bulk 000" not in html
    assert "<code>—</code> → <code>Acme</code>" in html and "in Clockify" in html
    assert 'href="https://www.notion.so/1234abcd00004000800000000000abcd"' in html
    assert 'href="https://app.clockify.me/clients?search=cl1"' in html
    html = page(staff_client, "run-detail", detailed_run.pk, outcome="failed")
    assert "Project name must be between 2 and 250 characters\n(POST" in html
    html = page(staff_client, "run-detail", detailed_run.pk, outcome="flagged")
    assert "conflict: was <code>Dsgn</code>, Notion <code>Design</code>, Clockify " \
           "<code>Draft</code>" in html
    assert 'href="https://app.clockify.me/projects/proj123/edit#tasks"' in html


def test_run_detail_filters_search_and_pages(staff_client, detailed_run):
    html = page(staff_client, "run-detail", detailed_run.pk)
    assert "63 in all" in html and 'rel="next"' in html and 'rel="prev"' not in html
    assert "Bulk 046" in html and "Bulk 047" not in html
    after = html.split('" rel="next"')[0].rsplit("after=", 1)[1]  # the keyset cursor
    html = page(staff_client, "run-detail", detailed_run.pk, after=after)
    assert "Bulk 047" in html and "Acme" not in html and 'rel="next"' not in html
    assert "Bulk 012" in page(staff_client, "run-detail", detailed_run.pk, q="bulk 012")
    by_id = page(staff_client, "run-detail", detailed_run.pk, q="1234abcd00004000800000000000abcd")
    assert "Acme" in by_id and "Bulk" not in by_id  # dashes optional
    assert "Acme" in page(staff_client, "run-detail", detailed_run.pk, q="cl1")
    html = page(staff_client, "run-detail", detailed_run.pk, action="create", kind="project")
    assert "X</strong>" in html and "Acme" not in html and "Bulk" not in html
    assert "No change matches these filters" in page(
        staff_client, "run-detail", detailed_run.pk, q="nothing like this")
    # an unknown filter value is ignored, never an error
    assert "63 in all" in page(staff_client, "run-detail", detailed_run.pk, kind="bogus")
    assert f'href="/runs/{detailed_run.pk}/export.csv"' in html


def test_run_detail_of_an_active_run_polls_and_reloads(staff_client):
    run = SyncRun.objects.create(trigger="manual", status=RunStatus.RUNNING, dry_run=True)
    html = page(staff_client, "run-detail", run.pk)
    assert f'data-progress-url="{reverse("run-progress", args=[run.pk])}"' in html
    assert 'data-reload="1"' in html and "Dry run" in html


def test_progress_json_has_phase_and_counts_per_kind(staff_client):
    run = SyncRun.objects.create(trigger="manual", status=RunStatus.RUNNING,
                                 phase="Syncing tasks",
                                 counts={"task": {"created": 4, "failed": 1}})
    data = staff_client.get(reverse("run-progress", args=[run.pk])).json()
    assert data["status"] == "running" and not data["finished"]
    assert data["phase"] == "Syncing tasks"
    assert data["kinds"]["task"]["processed"] == 5
    assert data["kinds"]["task"]["details"] == "4 created, 1 failed"
    assert data["kinds"]["client"]["processed"] == 0
    assert data["detail_url"] == reverse("run-detail", args=[run.pk])


# -- mapping browser --------------------------------------------------------------------------
def test_mapping_browser_lists_parent_state_and_searches(staff_client, settings):
    settings.SANDBOX = False  # the real apps' links
    client = EntityMapping.objects.create(kind="client", notion_page_id="c" * 32,
                                          clockify_id="cl-9", name="Acme",
                                          state=MappingState.LINKED,
                                          last_synced_at=timezone.now())
    EntityMapping.objects.create(kind="project", notion_page_id="p" * 32, clockify_id="pr-9",
                                 name="Website", parent=client, state=MappingState.ARCHIVED)
    EntityMapping.objects.bulk_create([
        EntityMapping(kind="task", notion_page_id=f"{i:032d}", name=f"Task {i:03d}")
        for i in range(55)])
    html = page(staff_client, "mapping-list", kind="project")
    assert "Website" in html and "<td>Acme</td>" in html and "Archived" in html
    assert 'href="https://app.clockify.me/projects/pr-9/edit"' in html
    assert 'href="https://www.notion.so/' + "p" * 32 + '"' in html
    assert "Acme" in page(staff_client, "mapping-list", q="cl-9")
    assert "Task 007" in page(staff_client, "mapping-list", q="task 007")
    html = page(staff_client, "mapping-list")
    assert "Page 1 of 2" in html and "57 in all" in html and "never" in html
    assert "Nothing matches" in page(staff_client, "mapping-list", q="zzz")


def test_mapping_browser_empty_state(staff_client):
    assert "Nothing is mapped yet" in page(staff_client, "mapping-list")


# -- settings ---------------------------------------------------------------------------------
def test_settings_page_masks_secrets(staff_client, settings):
    settings.NOTION_TOKEN = "ntn_" + "s3cr3t" * 6 + "WXYZ"
    settings.CLOCKIFY_API_KEY = "short-key"
    settings.NOTIFY_WEBHOOK_URL = "https://hooks.example.com/services/T000/B000/tokenpart"
    settings.EMAIL_HOST_PASSWORD = "smtp-password-value"
    settings.NOTIFY_EMAILS = ["ops@example.com"]
    DatabaseMapping.for_kind("project")
    html = page(staff_client, "settings-page")
    for secret in ("s3cr3t", "short-key", "tokenpart", "/services/", "smtp-password-value"):
        assert secret not in html
    assert "set (ends in …WXYZ)" in html
    assert "set (https://hooks.example.com)" in html
    assert "ops@example.com" in html
    assert "<code>parent</code> → “Client”" in html  # the field mapping
    assert "Done, Obsolete, Archived" in html
    assert "Daily full sync" in html and "syncapp.tasks.poll" in html


def test_check_configuration_is_clean_on_the_sandbox(staff_client, sandbox):
    response = staff_client.post(reverse("settings-check"))
    html = response.content.decode()
    assert "Everything the sync needs is in place" in html, html
    assert "The Tasks database has every mapped property" in html
    assert config_check.cached().full  # the overview reuses it
    assert "Field mapping: not checked" not in page(staff_client, "overview")


def test_check_configuration_names_each_problem_in_plain_words(staff_client, sandbox):
    clients = DatabaseMapping.for_kind("client")
    clients.properties = {**clients.properties, "email": "E-mail address"}  # missing
    clients.closed_values = "Yes"  # ignored: Archived is a checkbox
    clients.save()
    projects = DatabaseMapping.for_kind("project")
    projects.properties = {**projects.properties, "billable": "Note", "closed": "Color"}
    projects.closed_values = "Done"
    projects.save()
    tasks = DatabaseMapping.for_kind("task")
    tasks.closed_values = "Done, Finished"
    tasks.save()
    # the tasks database's Project relation points at the Clients database
    database, _ = sandbox.notion.add_database("Tasks (copy)", {
        "Name": "title", "Project": ("relation", C), "Status": ("status", ["Open", "Done"]),
        "Clockify ID": "rich_text", "Estimate (h)": "number"})
    from django.conf import settings

    settings.NOTION_TASKS_DATABASE_ID = database
    html = staff_client.post(reverse("settings-check")).content.decode()
    assert "The Clients database has no property “E-mail address” (it is the client&#x27;s " \
           "e-mail)." in html
    assert "“Archived” is a checkbox, so the closed values (Yes) are ignored" in html
    assert "“Note” is a Text property; it must be Checkbox" in html
    assert "“Done” is not an option of “Color”" in html  # Color is a select: allowed type
    assert "“Finished” is not an option of “Status”" in html
    assert "“Project” links to another database, not the Projects database." in html
    assert "Everything the sync needs is in place" not in html


def test_check_configuration_reports_refused_credentials(staff_client, sandbox, settings):
    settings.CLOCKIFY_API_KEY = "wrong-key"
    settings.NOTION_TOKEN = "ntn_wrong"
    html = staff_client.post(reverse("settings-check")).content.decode()
    assert "Notion refused the credentials (NOTION_TOKEN)." in html
    assert "Clockify refused the credentials (CLOCKIFY_API_KEY)." in html
    assert "wrong-key" not in html and "ntn_wrong" not in html


def test_check_configuration_reports_a_wrong_workspace(staff_client, sandbox, settings):
    settings.CLOCKIFY_WORKSPACE_ID = "0" * 24
    html = staff_client.post(reverse("settings-check")).content.decode()
    assert "the workspace CLOCKIFY_WORKSPACE_ID" in html
    assert "workspace settings URL" in html


def test_check_configuration_reports_an_unshared_database(staff_client, sandbox):
    sandbox.notion.revoke_access(ids.PROJECTS_DATABASE_ID)
    html = staff_client.post(reverse("settings-check")).content.decode()
    assert "Notion cannot find the Projects database (NOTION_PROJECTS_DATABASE_ID)." in html
    assert "Share the database with the integration" in html


# -- query counts stay constant as data grows -------------------------------------------------
def count_queries(client, url) -> int:
    client.get(url)  # warm: the configuration check result is cached after the first view
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_page_query_counts_do_not_grow_with_data(staff_client, sandbox,
                                                 django_assert_num_queries):
    small = populate(10)
    urls = {
        "overview": reverse("overview"),
        "run detail": reverse("run-detail", args=[small.pk]),
        "mappings": reverse("mapping-list"),
        "runs": reverse("run-list"),
    }
    counts = {name: count_queries(staff_client, url) for name, url in urls.items()}
    SyncRun.objects.all().delete()
    EntityMapping.objects.all().delete()
    large = populate(1000)
    urls["run detail"] = reverse("run-detail", args=[large.pk])
    for name, url in urls.items():
        with django_assert_num_queries(counts[name]):
            assert staff_client.get(url).status_code == 200, name
    assert counts["overview"] <= 14, counts


def test_health_of_a_fresh_install_is_200(client):
    assert client.get(reverse("health")).json()["status"] == "no_runs_yet"


def test_runs_page_offers_a_date_range_export(staff_client):
    html = page(staff_client, "run-list")
    assert 'action="/export/changes.csv"' in html and 'formaction="/export/changes.json"' in html
    assert f'value="{(timezone.localdate() - timedelta(days=30)).isoformat()}"' in html
