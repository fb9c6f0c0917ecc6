"""Sandbox record pages: "open in Notion / Clockify" lead to the record in the emulator, read
and edited through the product's API clients; outside the sandbox they do not exist."""

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name
from __future__ import annotations

import importlib
import re

import pytest
from django.test import Client
from django.urls import NoReverseMatch, clear_url_caches, reverse

from syncapp.models import EntityMapping
from syncapp.sandbox import ids
from syncapp.views.links import clockify_url, notion_url
from tests.dashboard import fresh_cache, staff, staff_client  # noqa: F401
from tests.syncing import sync

C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID
pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(sandbox):
    """A client, a project and a task in Notion, synced once to Clockify."""
    client = sandbox.notion.create_page(C, {"Name": "Acme"})
    project = sandbox.notion.create_page(P, {"Name": "Website", "Client": [client],
                                             "Status": "In progress"})
    task = sandbox.notion.create_page(T, {"Name": "Design", "Project": [project],
                                          "Status": "Not started"})
    assert sync().status == "succeeded"
    ids_of = {kind: EntityMapping.objects.get(notion_page_id=page).clockify_id
              for kind, page in (("client", client), ("project", project), ("task", task))}
    return {"client": client, "project": project, "task": task, "clockify": ids_of}


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def follow_post(client, url: str, data: dict):
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    return response, " ".join(flash(response))


# -- links ------------------------------------------------------------------------------------
def test_in_the_sandbox_the_links_lead_to_the_record_pages(staff_client, synced):
    project_id = synced["clockify"]["project"]
    assert notion_url(synced["task"]) == f"/sandbox/notion/{synced['task']}/"
    assert clockify_url("task", synced["clockify"]["task"], project_id) == \
        f"/sandbox/clockify/task/{synced['clockify']['task']}/?project={project_id}"
    assert clockify_url("client", "c1") == "/sandbox/clockify/client/c1/"
    html = staff_client.get(reverse("mapping-list")).content.decode()
    assert f'href="/sandbox/notion/{synced["project"]}/"' in html
    assert f'href="/sandbox/clockify/project/{project_id}/"' in html
    assert "notion.so" not in html and "app.clockify.me" not in html
    run = staff_client.get(reverse("run-list")).context["page"].object_list[0]
    html = staff_client.get(reverse("run-detail", args=[run.pk])).content.decode()
    assert f'href="/sandbox/notion/{synced["task"]}/"' in html
    assert f'href="/sandbox/clockify/task/{synced["clockify"]["task"]}/?project={project_id}"' \
        in html


def test_outside_the_sandbox_the_links_point_to_notion_and_clockify(settings):
    settings.SANDBOX = False
    assert notion_url("1234abcd-0000-4000-8000-00000000abcd") == \
        "https://www.notion.so/1234abcd00004000800000000000abcd"
    assert clockify_url("project", "p1") == "https://app.clockify.me/projects/p1/edit"
    assert clockify_url("task", "t1", "p1") == "https://app.clockify.me/projects/p1/edit#tasks"
    assert clockify_url("client", "c1") == "https://app.clockify.me/clients?search=c1"
    assert notion_url(None) == clockify_url("task", None) == ""


# -- Notion pages -----------------------------------------------------------------------------
def test_a_notion_record_page_shows_the_properties_as_the_api_returns_them(staff_client,
                                                                           synced):
    response = staff_client.get(notion_url(synced["project"]))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<span id="record-name">Website</span>' in html
    values = dict(re.findall(r'<tr data-property="([^"]+)">.*?<td data-field="value">(.*?)</td>',
                             html, re.S))
    assert values["Status"] == "In progress" and values["Name"] == "Website"
    assert values["Clockify ID"] == synced["clockify"]["project"]
    assert "&quot;type&quot;: &quot;status&quot;" in html  # the API's own JSON
    # the status options come from the data source, as in Notion's menu
    assert all(f'<option value="{o}"' in html for o in ("Done", "Obsolete", "Archived"))
    assert f'href="/sandbox/clockify/project/{synced["clockify"]["project"]}/"' in html


def test_renaming_a_notion_page_there_is_carried_to_clockify_by_the_next_sync(
        staff_client, synced, sandbox):
    url = notion_url(synced["project"])
    _, said = follow_post(staff_client, url, {"action": "set", "property": "Name",
                                              "value": "  Website relaunch "})
    assert "Name is now “Website relaunch”" in said
    assert sandbox.notion.values(synced["project"])["Name"] == "Website relaunch"
    assert sync().status == "succeeded"
    assert sandbox.clockify.project(synced["clockify"]["project"])["name"] == "Website relaunch"


def test_closing_trashing_and_restoring_a_notion_page(staff_client, synced, sandbox):
    url = notion_url(synced["task"])
    _, said = follow_post(staff_client, url, {"action": "set", "property": "Status",
                                              "value": "Done"})
    assert "Status is now “Done”" in said
    assert sandbox.notion.values(synced["task"])["Status"] == "Done"
    client_url = notion_url(synced["client"])
    follow_post(staff_client, client_url, {"action": "set", "property": "Archived",
                                           "value": "true"})
    assert sandbox.notion.values(synced["client"])["Archived"] is True

    response, said = follow_post(staff_client, url, {"action": "trash"})
    assert "Moved to the trash" in said and sandbox.notion.page(synced["task"])["in_trash"]
    assert 'id="record-trashed"' in response.content.decode()
    _, said = follow_post(staff_client, url, {"action": "restore"})
    assert "Restored" in said and not sandbox.notion.page(synced["task"])["in_trash"]


@pytest.mark.parametrize("data, message", [
    ({"action": "set", "property": "Name", "value": "   "}, "A name cannot be empty"),
    ({"action": "set", "property": "Status", "value": "Bogus"}, "“Bogus” is not an option"),
    ({"action": "set", "property": "Nope", "value": "x"}, "no editable property “Nope”"),
    ({"action": "set", "property": "Clockify ID", "value": "x"}, "no editable property"),
    ({"action": "explode"}, "Unknown action"),
])
def test_bad_notion_edits_are_refused_with_a_message_and_change_nothing(
        staff_client, synced, sandbox, data, message):
    before = sandbox.notion.values(synced["project"])
    _, said = follow_post(staff_client, notion_url(synced["project"]), data)
    assert message in said
    assert sandbox.notion.values(synced["project"]) == before


def test_an_edit_notion_refuses_is_reported_not_a_crash(staff_client, synced, sandbox):
    sandbox.notion.trash_page(synced["project"])  # Notion refuses edits to a trashed page
    _, said = follow_post(staff_client, notion_url(synced["project"]),
                          {"action": "set", "property": "Name", "value": "New"})
    assert "Notion refused the change: notion 400" in said
    assert sandbox.notion.values(synced["project"])["Name"] == "Website"


# -- Clockify entities ------------------------------------------------------------------------
def test_a_clockify_record_page_renames_and_archives_a_project(staff_client, synced, sandbox):
    project_id = synced["clockify"]["project"]
    url = clockify_url("project", project_id)
    html = staff_client.get(url).content.decode()
    assert '<span id="record-name">Website</span>' in html and 'id="archive"' in html
    assert f'href="/sandbox/notion/{synced["project"]}/"' in html
    _, said = follow_post(staff_client, url, {"action": "rename", "name": "Web site"})
    assert "Renamed to “Web site”" in said
    _, said = follow_post(staff_client, url, {"action": "archive"})
    project = sandbox.clockify.project(project_id)
    assert "Archived." in said and project["archived"] and project["name"] == "Web site"
    assert project["clientId"] == synced["clockify"]["client"]  # the PUT kept the rest
    assert sync().status == "succeeded"
    # the archive is carried back as the closed option "Archived" (preferred when it exists)
    assert sandbox.notion.values(synced["project"])["Status"] == "Archived"


def test_setting_a_clockify_task_done_is_carried_back_to_notion(staff_client, synced, sandbox):
    task_id = synced["clockify"]["task"]
    url = clockify_url("task", task_id, synced["clockify"]["project"])
    _, said = follow_post(staff_client, url, {"action": "status", "status": "DONE"})
    assert "Status is now DONE" in said and sandbox.clockify.task(task_id)["status"] == "DONE"
    assert sync().status == "succeeded"
    assert sandbox.notion.values(synced["task"])["Status"] == "Done"


def test_a_task_link_without_its_project_finds_it_through_the_mapping(staff_client, synced):
    task_id = synced["clockify"]["task"]
    html = staff_client.get(clockify_url("task", task_id)).content.decode()
    assert '<span id="record-name">Design</span>' in html
    response = staff_client.get(reverse("sandbox-clockify-record", args=["task", "unmapped"]))
    assert response.status_code == 404
    assert "Which project is task unmapped in?" in response.content.decode()


@pytest.mark.parametrize("data, message", [
    ({"action": "rename", "name": " "}, "A name cannot be empty"),
    ({"action": "status", "status": "DONE"}, "Unknown action for this record"),
    ({"action": "archive"}, None),
])
def test_bad_clockify_edits_are_refused_with_a_message(staff_client, synced, sandbox, data,
                                                       message):
    client_id = synced["clockify"]["client"]
    before = sandbox.clockify.client(client_id)
    _, said = follow_post(staff_client, clockify_url("client", client_id), data)
    if message:
        assert message in said and sandbox.clockify.client(client_id) == before
    else:  # the good edit next to them: a client is archived like a project
        assert "Archived." in said and sandbox.clockify.client(client_id)["archived"] is True


def test_editing_both_sides_on_the_record_pages_makes_a_conflict_for_review(
        staff_client, synced, sandbox):
    from syncapp.models import PendingChange, ReviewStatus

    follow_post(staff_client, notion_url(synced["project"]),
                {"action": "set", "property": "Name", "value": "Site (Notion)"})
    follow_post(staff_client, clockify_url("project", synced["clockify"]["project"]),
                {"action": "rename", "name": "Site (Clockify)"})
    sync()
    pending = PendingChange.objects.get(status=ReviewStatus.PENDING, reason="conflict")
    assert pending.diff["name"]["notion"] == "Site (Notion)"
    assert pending.diff["name"]["clockify"] == "Site (Clockify)"
    # the review's links can lead to the same record pages
    assert notion_url(pending.notion_page_id) == f"/sandbox/notion/{synced['project']}/"


# -- bad ids, a stopped emulator, who may come ------------------------------------------------
def test_unknown_ids_show_a_clear_message_with_404(staff_client, sandbox):
    missing = "0badc0de-0000-4000-8000-000000000000"
    response = staff_client.get(notion_url(missing))
    assert response.status_code == 404
    assert "Notion has no page " + missing in response.content.decode()
    response = staff_client.get(notion_url("not-a-page-id"))
    assert response.status_code == 404 and "should be a valid uuid" in response.content.decode()
    response = staff_client.get(clockify_url("project", "5f0000000000000000000000"))
    assert response.status_code == 404
    assert "Clockify has no project 5f0000000000000000000000" in response.content.decode()
    response = staff_client.post(clockify_url("client", "nope"), {"action": "archive"})
    assert response.status_code == 404
    assert staff_client.get("/sandbox/clockify/workspace/x/").status_code == 404


def test_a_stopped_emulator_shows_a_clear_message_not_a_500(staff_client, sandbox, settings):
    settings.NOTION_API_URL = "http://127.0.0.1:9/notion"  # nothing listens there
    settings.CLOCKIFY_API_URL = "http://127.0.0.1:9/clockify/api/v1"
    page_id = sandbox.notion.create_page(C, {"Name": "Acme"})
    for url in (notion_url(page_id), clockify_url("client", "c1")):
        response = staff_client.get(url)
        assert response.status_code == 502
        assert "did not answer" in response.content.decode()
        assert "Is the sandbox running?" in response.content.decode()
        assert staff_client.post(url, {"action": "trash"}).status_code == 502
    assert not sandbox.notion.page(page_id)["in_trash"]


def test_record_pages_are_for_staff_only_and_edits_need_csrf(client, django_user_model, synced,
                                                             sandbox):
    url = notion_url(synced["project"])
    assert "/admin/login/" in client.get(url)["Location"]
    assert "/admin/login/" in client.post(url, {"action": "trash"})["Location"]
    django_user_model.objects.create_user("visitor", password="pw-visitor-1234")
    client.login(username="visitor", password="pw-visitor-1234")
    assert client.get(url).status_code == 403
    assert client.get(clockify_url("project", synced["clockify"]["project"])).status_code == 403
    staff_user = django_user_model.objects.create_user("boss", password="x", is_staff=True)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(staff_user)
    assert strict.post(url, {"action": "trash"}).status_code == 403
    assert strict.put(url).status_code in (403, 405)
    assert not sandbox.notion.page(synced["project"])["in_trash"]


def test_record_pages_are_404_when_the_sandbox_is_off(staff_client, synced, settings):
    urls = [notion_url(synced["project"]), clockify_url("project", synced["clockify"]["project"])]
    settings.SANDBOX = False
    for url in urls:
        assert staff_client.get(url).status_code == 404
        assert staff_client.post(url, {"action": "trash"}).status_code == 404


@pytest.fixture
def urls_without_sandbox(settings):
    """syncapp/urls.py as it loads when SANDBOX is off at start."""
    import syncapp.urls
    import syncsite.urls

    def reload() -> None:  # the root's include() holds a resolver built at import: reload both
        importlib.reload(syncapp.urls)
        importlib.reload(syncsite.urls)
        clear_url_caches()

    settings.SANDBOX = False
    reload()
    yield
    settings.SANDBOX = True
    reload()


def test_record_pages_are_not_even_routed_when_the_sandbox_is_off(staff_client,
                                                                   urls_without_sandbox):
    with pytest.raises(NoReverseMatch):
        reverse("sandbox-notion-record", args=["x"])
    page = "1234abcd-0000-4000-8000-00000000abcd"
    assert staff_client.get(f"/sandbox/notion/{page}/").status_code == 404
    assert staff_client.get("/sandbox/clockify/project/p1/").status_code == 404
    assert notion_url(page) == "https://www.notion.so/1234abcd00004000800000000000abcd"
