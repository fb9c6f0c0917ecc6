# ruff: noqa: F811 - pytest fixtures imported by name
"""The review queue in a real browser (headless Chromium) against the in-process sandbox.

A person logs in, opens the review console from the navigation, clicks the decision
buttons (and the admin's), and the emulators show the result. Approvals are applied by the
django-q2 task the click enqueues: the test pulls it from the broker and runs it, like a
worker (`work_off`), while the page polls the item's status and shows the outcome without a
reload.

SCREENSHOTS_DIR=docs also saves the console's screenshots for the README.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncapp.models import EntityMapping, PendingChange, ReviewStatus, RunStatus, SyncRun
from syncapp.sandbox import ids
from tests.dashboard import STAFF_PASSWORD, fresh_cache, work_off  # noqa: F401
from tests.syncing import cid, clockify_entity, conflict_on_name, held_mass_trash, sync
from tests.test_browser import browser, page_wait, readers_never_lock  # noqa: F401

C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Console:
    """What a reviewer does in the browser, in their words."""

    def __init__(self, browser, live_server) -> None:
        from django_q.brokers import get_broker

        self.browser, self.url = browser, live_server.url
        self.wait = page_wait(browser)
        self.queue = get_broker()
        self.queue.purge_queue()

    def by(self, css: str):
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list:
        from selenium.webdriver.common.by import By

        return self.browser.find_elements(By.CSS_SELECTOR, css)

    def log_in(self) -> None:
        from selenium.webdriver.common.by import By

        self.browser.get(self.url + "/")
        self.browser.find_element(By.NAME, "username").send_keys("manager")
        self.browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
        self.by("input[type=submit], button[type=submit]").click()
        self.wait.until(lambda d: self.by("h1").text == "Overview")

    def open_console(self, expected: int) -> None:
        """Through the main navigation, whose badge shows the pending count."""
        self.browser.get(self.url + "/")
        assert self.by("#review-count").text == str(expected)
        self.by("#nav-review").click()
        self.wait.until(lambda d: self.by("h1").text == "Review queue")

    def item(self, pending: PendingChange):
        return self.by(f"#item-{pending.pk}")

    def click(self, pending: PendingChange, decision: str) -> None:
        self.item(pending).find_element(
            "css selector", f"button[data-decision='{decision}']").click()

    def status(self, pending: PendingChange):
        return self.item(pending).find_element("css selector", "[data-field=status]")

    def wait_for_status(self, pending: PendingChange, status: str) -> None:
        self.wait.until(lambda d: self.item(pending).get_attribute("data-status") == status)

    def run_tasks(self) -> list:
        """Be the django-q2 worker: run what the clicks enqueued."""
        return work_off(self.queue)

    def screenshot(self, name: str, css: str | None = None) -> None:
        folder = os.environ.get("SCREENSHOTS_DIR")
        if not folder:
            return
        path = Path(folder) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if css:
            self.by(css).screenshot(str(path))
        else:
            self.browser.save_screenshot(str(path))


@pytest.fixture
def console(browser, live_server, sandbox, django_user_model, settings, readers_never_lock):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_user("manager", password=STAFF_PASSWORD, is_staff=True,
                                          is_superuser=True)
    person = Console(browser, live_server)
    yield person
    person.queue.purge_queue()


@pytest.fixture
def synced(sandbox):
    acme = sandbox.notion.create_page(C, {"Name": "Acme"})
    project = sandbox.notion.create_page(P, {"Name": "Website", "Client": [acme],
                                             "Status": "In progress"})
    assert sync().status == RunStatus.SUCCEEDED
    return {"acme": acme, "project": project}



def project_name(sandbox, synced) -> str:
    return clockify_entity(sandbox, "project", cid(synced["project"]))["name"]


# -- one item at a time ----------
def test_approve_in_the_console_links_and_keep_clockify_writes_back(console, sandbox, synced):
    existing = sandbox.clockify.create_client("ACME Corp")
    page = sandbox.notion.create_page(C, {"Name": "Acme Corp"})
    conflict = conflict_on_name(sandbox, synced)
    match = PendingChange.objects.get(status=ReviewStatus.PENDING, reason="ambiguous_match")

    console.log_in()
    console.open_console(expected=2)
    assert "differs only in upper/lower case" in console.item(match).text
    assert "Notion now says “Site (Notion)”, Clockify says “Site (Clockify)”" \
        in console.item(conflict).text
    console.browser.set_window_size(960, 700)
    console.screenshot("review-console.png")
    console.screenshot("review-item-conflict.png", f"#item-{conflict.pk}")

    console.click(match, "approve")
    console.wait_for_status(match, "approved")  # recorded; the page was not reloaded
    assert not console.item(match).find_elements("css selector", "form.decide")
    assert console.run_tasks() == [f"review {match.pk}: applied"]
    console.wait_for_status(match, "applied")
    assert console.status(match).text == "Applied"
    assert EntityMapping.objects.get(notion_page_id=page).clockify_id == existing["id"]
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme", "Acme Corp"]

    console.click(conflict, "keep_clockify")
    console.wait_for_status(conflict, "approved")
    console.run_tasks()
    console.wait_for_status(conflict, "applied")
    console.screenshot("review-item-applied.png", f"#item-{conflict.pk}")
    assert sandbox.notion.values(synced["project"])["Name"] == "Site (Clockify)"
    assert project_name(sandbox, synced) == "Site (Clockify)"
    assert console.by("#review-count").text == "0"


def test_reject_in_the_console_applies_nothing_and_is_not_asked_again(console, sandbox, synced):
    conflict = conflict_on_name(sandbox, synced)
    console.log_in()
    console.open_console(expected=1)
    console.click(conflict, "reject")
    console.wait_for_status(conflict, "rejected")
    assert console.run_tasks() == []  # nothing to apply
    assert project_name(sandbox, synced) == "Site (Clockify)"
    assert sandbox.notion.values(synced["project"])["Name"] == "Site (Notion)"

    again = sync()
    assert again.status == RunStatus.SUCCEEDED
    assert PendingChange.objects.count() == 1
    console.open_console(expected=0)
    assert "Nothing waits for a decision" in console.by("#review-empty").text


def test_the_admin_approve_button_applies_the_change(console, live_server, sandbox, synced):
    conflict = conflict_on_name(sandbox, synced)
    console.log_in()
    console.browser.get(f"{live_server.url}/admin/syncapp/pendingchange/{conflict.pk}/change/")
    assert "Changed on both sides" in console.by("#content").text
    assert conflict.fingerprint not in console.browser.page_source
    console.by("#decide button[value=take_notion]").click()
    console.wait.until(lambda d: "Decision recorded" in console.by(".messagelist").text)
    assert PendingChange.objects.get(pk=conflict.pk).status == ReviewStatus.APPROVED
    assert console.run_tasks() == [f"review {conflict.pk}: applied"]
    assert project_name(sandbox, synced) == "Site (Notion)"
    console.browser.refresh()
    assert "Applied" in console.by(".field-status").text


def test_retry_a_validation_item_after_fixing_the_name_in_notion(console, sandbox):
    page = sandbox.notion.create_page(P, {"Name": "X"})
    sync()
    item = PendingChange.objects.get(status=ReviewStatus.PENDING, reason="validation")
    console.log_in()
    console.open_console(expected=1)
    assert "Change the title in Notion" in console.item(item).text
    sandbox.notion.update_page(page, {"Name": "X-ray imaging"})  # the fix, made in Notion
    console.click(item, "approve")
    console.wait_for_status(item, "approved")
    console.run_tasks()
    console.wait_for_status(item, "applied")
    assert [p["name"] for p in sandbox.clockify.projects()] == ["X-ray imaging"]


# -- a held run ----------


def test_approve_all_of_a_held_run_archives_and_releases_the_hold(console, sandbox):
    tasks, run = held_mass_trash(sandbox)
    console.log_in()
    console.open_console(expected=6)
    group = console.by(f"tr.group[data-run='{run.pk}']")
    assert "held" in group.text
    console.screenshot("review-held-run.png", "#review-groups")
    group.find_element("css selector", "button.approve-all").click()
    console.wait.until(lambda d: "The hold is released" in console.by(".messages").text)
    assert SyncRun.objects.get(pk=run.pk).status == RunStatus.PARTIAL
    assert len(console.run_tasks()) == 6
    assert [t["status"] for t in sandbox.clockify.tasks()] == ["DONE"] * 6
    assert set(PendingChange.objects.values_list("status", flat=True)) == {"applied"}
    assert sync().status == RunStatus.SUCCEEDED


def test_reject_all_of_a_held_run_archives_nothing_and_releases_the_hold(console, sandbox):
    tasks, run = held_mass_trash(sandbox)
    console.log_in()
    console.open_console(expected=6)
    console.by(f"tr.group[data-run='{run.pk}'] button.reject-all").click()
    console.wait.until(lambda d: "The hold is released" in console.by(".messages").text)
    assert "Nothing waits for a decision" in console.by("#review-empty").text
    assert console.run_tasks() == []
    assert SyncRun.objects.get(pk=run.pk).status == RunStatus.PARTIAL
    later = sync()
    assert later.status == RunStatus.SUCCEEDED  # the rejected mass change holds nothing
    assert [t["status"] for t in sandbox.clockify.tasks()] == ["ACTIVE"] * 6


def test_item_by_item_the_last_decision_releases_the_hold(console, sandbox):
    tasks, run = held_mass_trash(sandbox, n=5)
    console.log_in()
    console.open_console(expected=5)
    console.by(f"tr.group[data-run='{run.pk}'] a[href$='?run={run.pk}']").click()
    items = list(PendingChange.objects.filter(run=run).order_by("id"))
    for pending in items[:-1]:
        console.click(pending, "reject")
        console.wait_for_status(pending, "rejected")
    assert SyncRun.objects.get(pk=run.pk).status == RunStatus.HELD
    console.click(items[-1], "approve")
    console.wait_for_status(items[-1], "approved")
    assert SyncRun.objects.get(pk=run.pk).status == RunStatus.PARTIAL
    console.run_tasks()
    console.wait_for_status(items[-1], "applied")
    assert sorted(t["status"] for t in sandbox.clockify.tasks()) == ["ACTIVE"] * 4 + ["DONE"]


def test_a_stale_item_is_resolved_by_a_later_run(console, live_server, sandbox):
    tasks, run = held_mass_trash(sandbox)
    for task in tasks:
        sandbox.notion.restore_page(task)  # restored by hand in Notion
    later = sync()
    console.log_in()
    console.open_console(expected=0)
    first = PendingChange.objects.filter(run=run).order_by("id").first()
    console.browser.get(f"{live_server.url}/review/{first.pk}/")
    assert console.status(first).text == "Resolved by a later run"
    assert f"Resolved by run #{later.pk}" in console.by("main").text
    console.screenshot("review-item-resolved.png", f"#item-{first.pk}")
    assert [t["status"] for t in sandbox.clockify.tasks()] == ["ACTIVE"] * 6
