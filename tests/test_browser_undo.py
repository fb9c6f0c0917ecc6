"""In a real browser: open a run, press "Undo this run", read the plan, confirm, and watch the
new linked run finish (the django-q2 worker runs it under the sync lock).

Uses the Chromium harness of tests/test_browser.py (skipped without Chromium unless
REQUIRE_BROWSER=1 makes that a failure).
"""

from __future__ import annotations

# ruff: noqa: F811 - pytest fixtures imported by name
import pytest

from syncapp.models import RunStatus, SyncRun
from tests.dashboard import fresh_cache  # noqa: F401
from tests.syncing import SOURCES, cid, sync
from tests.test_browser import FINISHED, browser, page_wait, readers_never_lock  # noqa: F401
from tests.test_browser_runs import log_in, manager, worker  # noqa: F401


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_undo_a_run_in_a_real_browser(browser, live_server, sandbox, manager, worker,
                                      readers_never_lock):
    from selenium.webdriver.common.by import By

    client = sandbox.notion.create_page(SOURCES["client"], {"Name": "Acme"})
    old = sandbox.notion.create_page(SOURCES["project"], {
        "Name": "Old site", "Client": [client], "Status": "In progress"})
    assert sync().status == RunStatus.SUCCEEDED
    sandbox.notion.update_page(client, {"Name": "Acme Corp"})
    sandbox.notion.update_page(old, {"Status": "Done"})
    new = sandbox.notion.create_page(SOURCES["project"], {
        "Name": "Launch", "Client": [client], "Status": "In progress"})
    run = sync()
    assert run.status == RunStatus.SUCCEEDED

    wait = page_wait(browser)
    log_in(browser, live_server, wait)
    browser.get(f"{live_server.url}/runs/{run.pk}/")
    browser.find_element(By.ID, "undo-run").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == f"Undo run #{run.pk}")
    plan = browser.find_element(By.ID, "undo-plan").text
    assert "rename back" in plan and "Acme Corp → Acme" in plan
    assert "unarchive" in plan and "closed → open" in plan
    assert "archive what the run created" in plan and "Launch" in plan
    assert "in Clockify and in Notion" in browser.find_element(By.ID, "undo-rule").text
    assert not SyncRun.objects.filter(undo_of=run).exists()  # the plan writes nothing

    browser.find_element(By.ID, "undo-confirm").click()
    wait.until(lambda d: d.find_elements(By.ID, "undo-of"))
    undo_run = SyncRun.objects.get(undo_of=run)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"Run #{undo_run.pk}")
    assert f"run #{run.pk}" in browser.find_element(By.ID, "undo-of").text
    worker.go.set()  # the worker picks the undo up now; the page follows it live

    page_wait(browser, 60).until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".run-progress [data-field=status]")
        .get_attribute("data-status") in FINISHED
        and d.find_elements(By.CSS_SELECTOR, "table.changes tr.change"))
    status = browser.find_element(By.CSS_SELECTOR, ".run-progress [data-field=status]")
    assert status.get_attribute("data-status") == "succeeded", worker.error
    actions = {row.get_attribute("data-action") for row in
               browser.find_elements(By.CSS_SELECTOR, "table.changes tr.change")}
    assert {"update", "unarchive", "archive"} <= actions
    browser.find_element(By.CSS_SELECTOR, "#undo-of a").click()
    wait.until(lambda d: d.find_elements(By.ID, f"undone-by-{undo_run.pk}"))
    assert not browser.find_elements(By.ID, "undo-run")  # a run is undone once

    assert worker.error is None
    assert sandbox.clockify.client(cid(client))["name"] == "Acme"
    assert sandbox.notion.values(client)["Name"] == "Acme"
    assert sandbox.clockify.project(cid(old))["archived"] is False
    assert sandbox.clockify.project(cid(new))["archived"] is True  # archived, not deleted
