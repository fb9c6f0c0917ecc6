"""In a real browser: a run that cannot read Notion shows as failed, and the first-run journey.

Uses the Chromium harness of tests/test_browser.py (skipped without Chromium unless
REQUIRE_BROWSER=1 makes that a failure).
"""

from __future__ import annotations

# ruff: noqa: F811 - pytest fixtures imported by name
import json

import pytest
import requests

from syncapp.sandbox import ids
from tests.dashboard import STAFF_PASSWORD, fresh_cache  # noqa: F401
from tests.test_browser import FINISHED, Worker, browser, readers_never_lock  # noqa: F401

C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID


def log_in(browser, live_server, wait) -> None:
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + "/")
    browser.find_element(By.NAME, "username").send_keys("manager")
    browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Overview")


@pytest.fixture
def manager(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return django_user_model.objects.create_user("manager", password=STAFF_PASSWORD,
                                                 is_staff=True)


@pytest.fixture
def worker():
    from django_q.brokers import get_broker

    queue = get_broker()
    queue.purge_queue()
    thread = Worker()
    thread.start()
    yield thread
    thread.stop.set()
    thread.go.set()
    thread.join(timeout=30)
    queue.purge_queue()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_run_that_cannot_read_notion_shows_failed_on_the_overview_and_health_is_503(
        browser, live_server, sandbox, manager, worker, readers_never_lock):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sandbox.notion.create_page(C, {"Name": "Acme Browser Co"})
    sandbox.notion.faults.configure(1.0, ("503",))
    wait = WebDriverWait(browser, 30)
    log_in(browser, live_server, wait)

    browser.find_element(By.ID, "sync-now").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".run-progress"))
    status = browser.find_element(By.CSS_SELECTOR, ".run-progress [data-field=status]")
    worker.go.set()
    WebDriverWait(browser, 60).until(lambda d: status.get_attribute("data-status") in FINISHED)
    assert status.get_attribute("data-status") == "failed", worker.error
    errors = browser.find_element(By.CSS_SELECTOR, ".run-progress [data-field=errors]")
    assert "Reading the Notion clients database failed" in errors.text

    browser.get(live_server.url + "/")
    level = browser.find_element(By.ID, "health-level")
    assert level.text == "✗ the last run failed"
    failure = browser.find_element(By.ID, "last-failure")
    assert "failed" in failure.text and "503" in failure.text

    browser.get(live_server.url + "/health/")
    body = json.loads(browser.find_element(By.TAG_NAME, "body").text)
    assert body["status"] == "failing"
    assert "Reading the Notion clients database failed" in body["reason"]
    assert requests.get(live_server.url + "/health/", timeout=10).status_code == 503
    assert worker.error is None
    assert sandbox.clockify.clients() == []
