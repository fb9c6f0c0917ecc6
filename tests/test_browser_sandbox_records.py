"""In a real browser, in the sandbox: open a record from the dashboard "in Notion" or "in
Clockify", edit it there as a person would, and watch a sync carry the edit to the other side.

Same harness as tests/test_browser.py (headless Chromium; skipped without it unless
REQUIRE_BROWSER is set).
"""

# ruff: noqa: F811 - pytest fixtures imported by name
from __future__ import annotations

import re

import pytest

from syncapp.models import EntityMapping
from syncapp.sandbox import ids
from tests.dashboard import STAFF_PASSWORD, fresh_cache  # noqa: F401
from tests.syncing import sync
from tests.test_browser import FINISHED, Worker, browser, page_wait, readers_never_lock  # noqa: F401

C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID


@pytest.fixture
def world(sandbox, django_user_model, settings):
    """A staff login, and a client, a project and a task synced once to Clockify."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_user("manager", password=STAFF_PASSWORD, is_staff=True)
    client = sandbox.notion.create_page(C, {"Name": "Acme Browser Co"})
    project = sandbox.notion.create_page(P, {"Name": "Website", "Client": [client],
                                             "Status": "In progress"})
    task = sandbox.notion.create_page(T, {"Name": "Design review", "Project": [project],
                                          "Status": "Not started"})
    assert sync().status == "succeeded"
    return {"project": project, "task": task,
            "project_id": EntityMapping.objects.get(notion_page_id=project).clockify_id,
            "task_id": EntityMapping.objects.get(notion_page_id=task).clockify_id}


def log_in(browser, live_server, wait):
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + "/")
    browser.find_element(By.NAME, "username").send_keys("manager")
    browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Overview")


def open_link_in_row(browser, wait, rows_selector: str, row_text: str, link_text: str):
    """Click the row's link (it opens a new tab, as in the dashboard) and switch to that tab."""
    from selenium.webdriver.common.by import By

    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, rows_selector)
               if row_text in r.text)
    before = set(browser.window_handles)
    row.find_element(By.LINK_TEXT, link_text).click()
    wait.until(lambda d: set(d.window_handles) - before)
    browser.switch_to.window((set(browser.window_handles) - before).pop())
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.record-properties"))


def shown_values(browser) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    return {row.get_attribute("data-property"):
            row.find_element(By.CSS_SELECTOR, "[data-field=value]").text
            for row in browser.find_elements(By.CSS_SELECTOR, "table.record-properties tbody tr")}


def said(browser) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(m.text for m in browser.find_elements(By.CSS_SELECTOR, ".messages li"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_rename_a_page_in_the_sandbox_notion_and_sync_now_carries_it_to_clockify(
        browser, live_server, sandbox, world, readers_never_lock):
    from django_q.brokers import get_broker
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = page_wait(browser)
    queue = get_broker()
    queue.purge_queue()
    worker = Worker()
    worker.start()
    try:
        log_in(browser, live_server, wait)
        browser.find_element(By.LINK_TEXT, "Mappings").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Mappings")
        open_link_in_row(browser, wait, "table.mappings tbody tr", "Website", "Notion")
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Notion page: Website")
        record_page = browser.current_url
        values = shown_values(browser)
        assert values["Name"] == "Website" and values["Status"] == "In progress"
        assert values["Clockify ID"] == world["project_id"]

        name = browser.find_element(By.CSS_SELECTOR, "#rename-form input[name=value]")
        name.clear()
        name.send_keys("Website relaunch")
        browser.find_element(By.CSS_SELECTOR, "#rename-form button").click()
        wait.until(lambda d: "Name is now “Website relaunch”" in said(d))
        assert shown_values(browser)["Name"] == "Website relaunch"
        assert sandbox.clockify.project(world["project_id"])["name"] == "Website"  # not yet

        browser.find_element(By.LINK_TEXT, "Overview").click()
        browser.find_element(By.ID, "sync-now").click()
        # The old overview shows the last run's card too: wait for the page after the POST.
        wait.until(lambda d: "Sync queued as run" in d.page_source)
        status = wait.until(lambda d: d.find_element(
            By.CSS_SELECTOR, ".run-progress [data-field=status]"))
        worker.go.set()
        WebDriverWait(browser, 60).until(
            lambda d: status.get_attribute("data-status") in FINISHED)
        assert status.get_attribute("data-status") == "succeeded", worker.error
        # the Recent runs row of the same run followed the live card, without a reload
        card = browser.find_element(By.CSS_SELECTOR, ".run-progress").get_attribute("id")
        run_id = re.fullmatch(r"run-(\d+)-progress", card).group(1)
        row = browser.find_element(By.CSS_SELECTOR, f"#recent-runs tr[data-run='{run_id}']")
        assert row.find_element(By.CSS_SELECTOR, "[data-field=status]").text == "Succeeded"
        assert not row.find_element(By.CSS_SELECTOR, "[data-field=phase]").is_displayed()

        # the other side, as the Clockify emulator now has it
        browser.get(record_page)
        browser.find_element(By.ID, "other-side").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith(
            "Clockify project"))
        assert shown_values(browser)["name"] == "Website relaunch"
    finally:
        worker.stop.set()
        worker.go.set()
        worker.join(timeout=30)
        queue.purge_queue()
    assert worker.error is None
    assert sandbox.clockify.project(world["project_id"])["name"] == "Website relaunch"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_close_a_task_and_archive_a_project_in_the_sandbox_clockify_and_sync_brings_it_back(
        browser, live_server, sandbox, world, readers_never_lock):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    wait = page_wait(browser)
    log_in(browser, live_server, wait)
    browser.find_element(By.LINK_TEXT, "Runs").click()
    browser.find_element(By.CSS_SELECTOR, "a[href*='/runs/']:not([href$='/runs/'])").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("Run #"))
    run_detail = browser.current_window_handle

    open_link_in_row(browser, wait, "table.changes tr.change", "Design review", "Clockify")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Clockify task: Design review")
    assert shown_values(browser)["status"] == "ACTIVE"
    Select(browser.find_element(By.CSS_SELECTOR, "#status-form select")).select_by_value("DONE")
    browser.find_element(By.ID, "set-status").click()
    wait.until(lambda d: "Status is now DONE" in said(d))
    assert shown_values(browser)["status"] == "DONE"

    browser.switch_to.window(run_detail)
    open_link_in_row(browser, wait, "table.changes tr.change", "Website", "Clockify")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Clockify project: Website")
    browser.find_element(By.ID, "archive").click()
    wait.until(lambda d: "Archived." in said(d))
    assert browser.find_elements(By.ID, "record-archived")
    assert sandbox.notion.values(world["task"])["Status"] == "Not started"  # not yet

    assert sync().status == "succeeded"  # the sync service, as the schedule runs it

    browser.find_element(By.ID, "other-side").click()  # the project's Notion page
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("Notion page"))
    assert shown_values(browser)["Status"] == sandbox.notion.values(world["project"])["Status"]
    assert shown_values(browser)["Status"] == "Archived"  # the preferred closed option
    browser.get(live_server.url + f"/sandbox/notion/{world['task']}/")
    assert shown_values(browser)["Status"] == "Done"
    assert sandbox.notion.values(world["task"])["Status"] == "Done"

