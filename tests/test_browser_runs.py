"""In a real browser: a run that cannot read Notion shows as failed, and the first-run journey.

Uses the Chromium harness of tests/test_browser.py (skipped without Chromium unless
REQUIRE_BROWSER=1 makes that a failure).
"""

from __future__ import annotations

# ruff: noqa: F811 - pytest fixtures imported by name
import importlib
import json
import threading
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
from django.db import connections

from syncapp.models import SyncRun
from syncapp.sandbox import ids
from tests.dashboard import STAFF_PASSWORD, fresh_cache, work_off  # noqa: F401
from tests.syncing import reset_calls, writes
from tests.test_browser import FINISHED, Worker, browser, page_wait, readers_never_lock  # noqa: F401

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
    wait = page_wait(browser)
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


class LoopWorker(threading.Thread):
    """Runs queued tasks while active, like a qcluster worker, until stopped.

    The test pauses it while it drives the scheduler itself, so only one thread writes to
    the shared in-memory SQLite database at a time (no busy timeout there).
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop, self.active, self.idle = threading.Event(), threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from django_q.brokers import get_broker

        try:
            queue = get_broker()
            while not self.stop.is_set():
                if self.active.is_set():
                    self.idle.clear()
                    work_off(queue)
                self.idle.set()
                time.sleep(0.1)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            self.idle.set()
            connections.close_all()

    def pause(self) -> None:
        self.active.clear()
        time.sleep(0.15)
        assert self.idle.wait(timeout=30), "the worker did not finish its task"
        assert self.error is None, self.error


def schedule_period(queue, monkeypatch) -> None:
    """One period of the django-q2 scheduler, clock injected from the schedules' own data:
    every schedule fires once. The background worker runs what it queues."""
    from django_q import scheduler as q_scheduler
    from django_q.models import Schedule

    clock = max(Schedule.objects.values_list("next_run", flat=True)) + timedelta(seconds=1)
    monkeypatch.setattr(q_scheduler, "timezone", SimpleNamespace(now=lambda: clock))
    monkeypatch.setattr(q_scheduler, "localtime", lambda value=None: clock)
    # it closes "old" connections first: here that would be the test's own transaction
    monkeypatch.setattr(q_scheduler, "close_old_django_connections", lambda: None)
    q_scheduler.scheduler(broker=queue)


def install_schedules() -> None:
    """What `migrate` creates on a fresh install (a transactional test flushed them)."""
    from django.apps import apps

    for name in ("0005_schedules", "0007_webhook_schedules"):
        importlib.import_module(f"syncapp.migrations.{name}").create_schedules(apps)
    importlib.import_module("syncapp.migrations.0008_retention_schedule").create(apps)


def run_queued(queue) -> None:
    """Run what the scheduler queued here (the worker is paused meanwhile)."""
    while queue.queue_size():
        work_off(queue)


@pytest.mark.browser
@pytest.mark.fresh_install
@pytest.mark.django_db(transaction=True)
def test_first_run_journey_check_dry_run_start_then_pause(
        browser, live_server, sandbox, manager, readers_never_lock, monkeypatch):
    from django_q.brokers import get_broker
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def patient(seconds: float) -> WebDriverWait:
        # Pages change under the waits: an element of the page being left is stale, or
        # Chromium says its node "does not belong to the document" (a WebDriverException).
        return WebDriverWait(browser, seconds, ignored_exceptions=(
            StaleElementReferenceException, WebDriverException))

    client = sandbox.notion.create_page(C, {"Name": "Acme Journey Co"})
    sandbox.notion.create_page(C, {"Name": "Globex"})
    sandbox.clockify.create_client("Globex")  # already in Clockify: the plan links it
    project = sandbox.notion.create_page(P, {"Name": "Website relaunch", "Client": [client],
                                             "Status": "In progress"})
    sandbox.notion.create_page(T, {"Name": "Design review", "Project": [project],
                                   "Status": "Not started"})
    reset_calls(sandbox)
    install_schedules()
    queue = get_broker()
    queue.purge_queue()
    worker = LoopWorker()
    worker.start()
    wait = patient(30)
    try:
        # a fresh install, the worker running through two schedule periods: nothing written
        for _ in range(2):
            schedule_period(queue, monkeypatch)
            run_queued(queue)
        assert writes(sandbox) == {"notion": 0, "clockify": 0}
        assert not SyncRun.objects.exists()

        log_in(browser, live_server, wait)
        journey = browser.find_element(By.ID, "first-run")
        assert "Start syncing in three steps" in journey.text

        browser.find_element(By.ID, "journey-check").click()  # 1. check configuration
        wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Settings")
        assert "not started yet" in browser.find_element(By.ID, "syncing-status").text
        browser.get(live_server.url + "/")
        assert "✓ checked" in browser.find_element(By.ID, "step-check").text

        worker.active.set()
        browser.find_element(By.ID, "journey-dry-run").click()  # 2. the plan
        wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("Dry run #"))
        patient(60).until(lambda d: "Succeeded" in d.find_element(By.TAG_NAME, "h1").text)
        assert "Dry run by manager (dashboard)" in browser.page_source
        assert writes(sandbox) == {"notion": 0, "clockify": 0}
        browser.get(live_server.url + "/")
        plan = browser.find_element(By.ID, "journey-plan").text
        assert "3 to create, 1 to link to existing Clockify records, 0 ambiguous matches" \
            in plan, plan

        browser.find_element(By.ID, "start-syncing").click()  # 3. start syncing
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".run-progress"))
        assert "Syncing started" in browser.page_source
        assert not browser.find_elements(By.ID, "first-run")
        status = browser.find_element(By.CSS_SELECTOR, ".run-progress [data-field=status]")
        patient(60).until(lambda d: status.get_attribute("data-status") in FINISHED)
        assert status.get_attribute("data-status") == "succeeded", worker.error
        assert sorted(c["name"] for c in sandbox.clockify.clients()) == \
            ["Acme Journey Co", "Globex"]
        assert [p["name"] for p in sandbox.clockify.projects()] == ["Website relaunch"]
        assert writes(sandbox)["clockify"] > 0 and writes(sandbox)["notion"] > 0

        worker.pause()
        browser.get(live_server.url + "/settings/")  # pause again
        assert browser.find_element(By.ID, "syncing-status").text == "on"
        browser.find_element(By.ID, "pause-syncing").click()
        wait.until(lambda d: d.find_element(By.ID, "syncing-status").text == "paused")
        sandbox.notion.create_page(C, {"Name": "Initech"})
        reset_calls(sandbox)
        runs_before = SyncRun.objects.count()
        schedule_period(queue, monkeypatch)
        run_queued(queue)
        assert writes(sandbox) == {"notion": 0, "clockify": 0}
        assert SyncRun.objects.count() == runs_before
        assert "Initech" not in [c["name"] for c in sandbox.clockify.clients()]
    finally:
        worker.stop.set()
        worker.join(timeout=30)
        queue.purge_queue()
    assert worker.error is None
