"""In a real browser: a run that spends the Clockify budget shows as waiting, not failed.

Uses the Chromium harness of tests/test_browser.py (skipped without Chromium unless
REQUIRE_BROWSER=1 makes that a failure).
"""

from __future__ import annotations

# ruff: noqa: F811 - pytest fixtures imported by name
import json

import pytest
import requests

from syncapp.models import SyncRun
from syncapp.services import budget
from tests.dashboard import fresh_cache, work_off  # noqa: F401
from tests.test_browser import browser, page_wait, readers_never_lock  # noqa: F401
from tests.test_browser_runs import log_in, manager, worker  # noqa: F401
from tests.test_budget import FakeClock, seed


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sync_now_on_a_free_workspace_waits_for_the_budget_and_says_until_when(
        browser, live_server, sandbox, settings, monkeypatch, manager, worker,
        readers_never_lock):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    clock = FakeClock()
    monkeypatch.setattr(budget, "clock", clock)
    settings.CLOCKIFY_REQUESTS_PER_HOUR = 30
    sandbox.clockify.clock = clock.timestamp
    sandbox.clockify.limit_per_hour(30)
    seed(sandbox)
    wait = page_wait(browser)
    log_in(browser, live_server, wait)

    browser.find_element(By.ID, "sync-now").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".run-progress"))
    status = browser.find_element(By.CSS_SELECTOR, ".run-progress [data-field=status]")
    worker.go.set()
    WebDriverWait(browser, 60).until(
        lambda d: status.get_attribute("data-status") not in ("queued", "running"))
    assert status.get_attribute("data-status") == "waiting", worker.error
    assert status.text == "Waiting for the Clockify budget"
    run = SyncRun.objects.get()
    resumes = f"resumes at {budget.hhmm(run.resumes_at)}"
    errors = browser.find_element(By.CSS_SELECTOR, ".run-progress [data-field=errors]")
    assert resumes in errors.text

    browser.get(live_server.url + "/")
    assert "30 of 30" in browser.find_element(By.ID, "clockify-budget").text
    assert resumes in browser.find_element(By.ID, "last-waiting").text
    assert not browser.find_elements(By.ID, "last-failure")

    browser.get(f"{live_server.url}/runs/{run.pk}/")
    assert "Waiting for the Clockify budget" in browser.find_element(By.TAG_NAME, "h1").text

    health = requests.get(live_server.url + "/health/", timeout=10)
    assert health.status_code == 200
    assert json.loads(health.text)["status"] == "waiting"
    assert sandbox.clockify.refused_over_budget == 0
    assert worker.error is None
