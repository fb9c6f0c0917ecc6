"""In a real browser: the long lists page by keyset (Next, Previous, First), with a filter
kept across pages. Uses the Chromium harness of tests/test_browser.py."""

from __future__ import annotations

# ruff: noqa: F811 - pytest fixtures imported by name
import pytest

from syncapp.models import ChangeRecord, Outcome, RunStatus, SyncRun
from tests.dashboard import fresh_cache  # noqa: F401
from tests.test_browser import browser, page_wait  # noqa: F401
from tests.test_browser_runs import log_in, manager  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shown(browser) -> list[str]:
    from selenium.webdriver.common.by import By

    return [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "tr.change strong")]


def test_run_detail_pages_forward_and_back_keeping_the_filter(browser, live_server, manager):
    from selenium.webdriver.common.by import By

    run = SyncRun.objects.create(trigger="manual", status=RunStatus.PARTIAL)
    ChangeRecord.objects.bulk_create([
        ChangeRecord(run=run, kind="task", name=f"Rec {i:03d}", action="update",
                     outcome=Outcome.FAILED if i % 2 else Outcome.APPLIED)
        for i in range(130)])
    wait = page_wait(browser)
    log_in(browser, live_server, wait)
    browser.get(f"{live_server.url}/runs/{run.pk}/")
    browser.find_element(By.CSS_SELECTOR, "select[name=outcome] option[value=failed]").click()
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait.until(lambda d: "outcome=failed" in d.current_url)
    failed = [f"Rec {i:03d}" for i in range(1, 130, 2)]
    assert shown(browser) == failed[:50]
    assert "65 in all" in browser.find_element(By.CSS_SELECTOR, "nav.pagination").text
    browser.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
    wait.until(lambda d: "after=" in d.current_url)
    assert shown(browser) == failed[50:]
    assert "outcome=failed" in browser.current_url
    assert not browser.find_elements(By.CSS_SELECTOR, "a[rel=next]")
    browser.find_element(By.CSS_SELECTOR, "a[rel=prev]").click()
    wait.until(lambda d: "before=" in d.current_url)
    assert shown(browser) == failed[:50]
    assert not browser.find_elements(By.CSS_SELECTOR, "a[rel=prev]")
