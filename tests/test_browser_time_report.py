"""In a real browser: open the time report from the main nav, choose a period, read the chart
and the hours per client, project and task, and follow a row to its Notion page.

Same harness as tests/test_browser.py (headless Chromium; skipped without it unless
REQUIRE_BROWSER is set).
"""

# ruff: noqa: F811 - pytest fixtures imported by name
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncapp.models import EntityMapping
from syncapp.services import connections, time_report
from tests.dashboard import fresh_cache  # noqa: F401
from tests.test_browser import browser, page_wait, readers_never_lock  # noqa: F401
from tests.test_browser_sandbox_records import log_in, world  # noqa: F401
from tests.webhooking import CLOCKIFY_TOKEN, post_clockify

DAY = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def track(box, client, *, start: datetime, minutes: int, billable: bool, deleted=False,
          **fields) -> None:
    """Track an entry in the emulator and deliver its NEW_TIME_ENTRY webhook."""
    entry = box.clockify.add_time_entry(start=start, end=start + timedelta(minutes=minutes),
                                        billable=billable, **fields)
    body = connections.clockify_client().get_time_entry(entry["id"])
    assert post_clockify(client, "NEW_TIME_ENTRY", body).status_code == 200
    if deleted:
        box.clockify.delete_time_entry(entry["id"])
        assert post_clockify(client, "TIME_ENTRY_DELETED", body).status_code == 200


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_time_report_in_a_real_browser(browser, live_server, sandbox, world, client, settings,
                                       django_user_model, readers_never_lock):
    from selenium.webdriver.common.by import By

    settings.CLOCKIFY_WEBHOOK_TOKENS = [CLOCKIFY_TOKEN]
    project, task = world["project_id"], world["task_id"]
    track(sandbox, client, start=DAY, minutes=90, billable=True, projectId=project,
          taskId=task)
    track(sandbox, client, start=DAY + timedelta(days=1), minutes=45, billable=False,
          projectId=project, taskId=task)
    track(sandbox, client, start=DAY + timedelta(days=2), minutes=120, billable=True,
          projectId=project)
    track(sandbox, client, start=DAY - timedelta(days=30), minutes=600, billable=True,
          projectId=project, taskId=task)  # October: outside the period
    track(sandbox, client, start=DAY, minutes=300, billable=True, projectId=project,
          taskId=task, deleted=True)

    wait = page_wait(browser)
    log_in(browser, live_server, wait)
    browser.find_element(By.ID, "nav-time").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Time report")
    for field, value in (("period-start", "2026-11-01"), ("period-end", "2026-11-30")):
        browser.execute_script("arguments[0].value = arguments[1];",
                               browser.find_element(By.ID, field), value)
    browser.find_element(By.ID, "period-show").click()
    wait.until(lambda d: "start=2026-11-01" in d.current_url)

    def row(level: str, key: str) -> dict:
        element = browser.find_element(
            By.CSS_SELECTOR, f'tr.time-row[data-level="{level}"][data-key="{key}"]')
        cells = {field: element.find_element(By.CSS_SELECTOR, f"[data-field={field}]").text
                 for field in ("name", "billable", "non-billable", "total")}
        return cells

    client_id = EntityMapping.objects.get(kind="client").clockify_id
    assert row("client", client_id) == {"name": "Acme Browser Co", "billable": "3.50",
                                        "non-billable": "0.75", "total": "4.25"}
    assert row("project", project) == {"name": "Website", "billable": "3.50",
                                       "non-billable": "0.75", "total": "4.25"}
    assert row("task", f"{project}:{task}") == {"name": "Design review", "billable": "1.50",
                                                "non-billable": "0.75", "total": "2.25"}
    assert row("task", f"{project}:") == {"name": "(no task)", "billable": "2.00",
                                          "non-billable": "0.00", "total": "2.00"}
    # The chart: one bar per project, its axes labelled, billable and non-billable apart.
    chart = browser.find_element(By.ID, "time-chart")
    assert chart.find_element(By.CSS_SELECTOR, ".axis-title").text == "project"
    assert chart.find_element(By.CSS_SELECTOR, ".axis-x").text == "hours"
    assert chart.find_element(By.CSS_SELECTOR, "[data-field=peak]").text == "4.25"
    bar = chart.find_element(By.CSS_SELECTOR, f'.track[data-project="{project}"]')
    widths = [float(b.get_attribute("style").split(":")[1].strip(" %;"))
              for b in bar.find_elements(By.CSS_SELECTOR, "div")]
    assert widths == [round(100 * 210 / 255, 2), round(100 * 45 / 255, 2)]

    # CSV: the same numbers as the table.
    csv_href = browser.find_element(By.ID, "csv-link").get_attribute("href")
    client.force_login(django_user_model.objects.get(username="manager"))
    lines = time_report.read_csv(client.get(csv_href.replace(live_server.url, "")).content
                                 .decode())
    assert [(line["level"], line["total_hours"]) for line in lines] == [
        ("client", "4.25"), ("project", "4.25"), ("task", "2.25"), ("task", "2.00"),
        ("person", "4.25"), ("total", "4.25")]

    # A row leads to its Notion page (the sandbox's record page).
    link = browser.find_element(
        By.CSS_SELECTOR, f'tr.time-row[data-key="{project}:{task}"] [data-field=name] a')
    link.click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.record-properties"))
    assert "Design review" in browser.page_source


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_failed_history_read_shows_and_reading_it_again_in_the_browser_completes_it(
        browser, live_server, sandbox, world, readers_never_lock):
    """The first read of the whole history failed (Clockify answered 503 after the retries):
    the Time page says so; Read the whole history queues it again, the worker runs it, and
    the older entries appear in the chart and the tables."""
    from django_q.brokers import get_broker
    from selenium.webdriver.common.by import By

    from syncapp.models import BackfillStatus, TimeBackfill
    from syncapp.services import time_backfill
    from tests.test_browser import Worker

    project = world["project_id"]
    for day in (3, 4):  # tracked before webhooks were set up: never delivered
        start = DAY.replace(day=day)
        sandbox.clockify.add_time_entry(start=start, end=start + timedelta(hours=2),
                                        billable=True, projectId=project)
    sandbox.clockify.faults.schedule("503", method="GET", path_contains="/time-entries",
                                     times=20)
    failed = time_backfill.request(None, automatic=True, queue=False)
    assert "failed" in time_backfill.run_task(failed.pk)
    sandbox.clockify.faults.clear()
    queue = get_broker()
    queue.purge_queue()
    worker = Worker()
    worker.start()

    wait = page_wait(browser)
    log_in(browser, live_server, wait)
    browser.get(live_server.url + "/time/?start=2026-11-01&end=2026-11-30")  # no wall clock
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Time report")
    problem = browser.find_element(By.ID, "backfill-problem").text
    assert problem.startswith(f"Reading Clockify's time history failed (backfill #{failed.pk})")
    assert "No completed time in this period." in browser.page_source

    browser.find_element(By.ID, "backfill-whole").click()
    wait.until(lambda d: "whole history is queued" in d.page_source)
    queued = browser.find_element(By.CSS_SELECTOR, "#backfills tr.backfill")
    assert queued.get_attribute("data-status") == "queued"
    worker.go.set()
    worker.join(timeout=60)
    assert worker.error is None and worker.results == [{"added": 2}]
    assert TimeBackfill.objects.latest("id").status == BackfillStatus.SUCCEEDED

    assert "start=2026-11-01" in browser.current_url  # the period is kept
    browser.refresh()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Time report")
    assert not browser.find_elements(By.ID, "backfill-problem")
    bar = browser.find_element(By.CSS_SELECTOR, f'#time-chart .track[data-project="{project}"]')
    assert "4.00 h billable" in bar.get_attribute("title")
    row = browser.find_element(By.CSS_SELECTOR,
                               f'tr.time-row[data-level="project"][data-key="{project}"]')
    assert row.find_element(By.CSS_SELECTOR, "[data-field=total]").text == "4.00"
