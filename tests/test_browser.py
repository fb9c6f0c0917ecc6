"""A real browser (headless Chromium): log in, press Sync now against the sandbox, watch the
live progress finish without reloading, open the run and see what it created.

Needs Chromium and its driver (Debian: apt-get install chromium chromium-driver; .ci/run
installs them). Without them the test is skipped with that message.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time

import pytest
from django.db import connections

from syncapp.models import RunStatus, SyncRun
from syncapp.sandbox import ids
from tests.dashboard import STAFF_PASSWORD, fresh_cache, work_off  # noqa: F401

C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900")
FINISHED = {"succeeded", "partial", "failed", "held"}


def page_wait(browser, seconds: float = 30):
    """A WebDriverWait that survives the page changing under it: right after a click, an
    element of the page being left is stale, or Chromium says its node "does not belong to
    the document" (a plain WebDriverException). Anything else still ends in a timeout."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, seconds, ignored_exceptions=(WebDriverException,))


def executable(*candidates: str | None) -> str | None:
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]'): "
                    "the browser test is skipped")
    chromium = executable("/usr/bin/chromium", "/usr/bin/chromium-browser",
                          shutil.which("chromium"), shutil.which("chromium-browser"))
    driver_path = executable("/usr/bin/chromedriver", shutil.which("chromedriver"))
    if not chromium or not driver_path:
        reason = ("Chromium or chromedriver is not installed (Debian: apt-get install "
                  "chromium chromium-driver)")
        if os.environ.get("REQUIRE_BROWSER"):  # CI must run it, not skip it
            pytest.fail(reason)
        pytest.skip(reason + ": the browser test is skipped")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="syncapp-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Worker(threading.Thread):
    """Pulls tasks from the django-q2 broker and runs them, like a qcluster worker.

    It starts when told (`go`), after the page has sent the request, and ends once the
    queue is drained and no run is waiting or running. It has its own connection, as the
    live server's threads do.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.go, self.stop = threading.Event(), threading.Event()
        self.results: list = []
        self.error: BaseException | None = None

    def run(self) -> None:
        from django_q.brokers import get_broker

        try:
            self.go.wait(timeout=60)
            queue = get_broker()
            while not self.stop.is_set():
                self.results += work_off(queue)
                if self.results and not SyncRun.objects.filter(
                        status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).exists():
                    return
                time.sleep(0.1)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connections.close_all()


@pytest.fixture
def readers_never_lock():
    """First leg: the test database is SQLite in memory, shared by every thread's connection
    through SQLite's shared cache, where a reader's table lock would make the worker's write
    fail at once (no busy timeout there). Read-uncommitted readers take no such lock, like
    readers of the file database in WAL mode the product uses. PostgreSQL needs nothing."""
    from django.db.backends.signals import connection_created

    def unlocked(sender, connection, **kwargs):
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA read_uncommitted = 1")

    connection_created.connect(unlocked)
    if connections["default"].vendor == "sqlite" and connections["default"].connection:
        unlocked(None, connections["default"])
    yield
    connection_created.disconnect(unlocked)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_sync_now_in_a_real_browser(browser, live_server, sandbox, django_user_model, settings,
                                    readers_never_lock):
    from django_q.brokers import get_broker
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_user("manager", password=STAFF_PASSWORD, is_staff=True)
    client = sandbox.notion.create_page(C, {"Name": "Acme Browser Co"})
    project = sandbox.notion.create_page(P, {"Name": "Website relaunch", "Client": [client],
                                             "Status": "In progress"})
    sandbox.notion.create_page(T, {"Name": "Design review", "Project": [project],
                                   "Status": "Not started"})
    queue = get_broker()
    queue.purge_queue()
    worker = Worker()
    worker.start()
    wait = page_wait(browser)
    try:
        browser.get(live_server.url + "/")
        assert "/admin/login/" in browser.current_url  # staff only
        browser.find_element(By.NAME, "username").send_keys("manager")
        browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Overview")
        assert "No sync has run yet" in browser.page_source

        browser.find_element(By.ID, "sync-now").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".run-progress"))
        status = browser.find_element(By.CSS_SELECTOR, ".run-progress [data-field=status]")
        assert status.get_attribute("data-status") == "queued"
        assert "Sync queued as run" in browser.page_source
        worker.go.set()  # the worker picks the task up now; the page is not reloaded

        WebDriverWait(browser, 60).until(
            lambda d: status.get_attribute("data-status") in FINISHED)
        assert status.get_attribute("data-status") == "succeeded", worker.error
        assert status.text == "Succeeded"
        processed = [cell.text for cell in browser.find_elements(
            By.CSS_SELECTOR, ".run-progress [data-field=processed]")]
        assert processed == ["1", "1", "1"]
        details = browser.find_element(By.CSS_SELECTOR, "[data-kind=client] [data-field=details]")
        assert details.text == "1 created"

        browser.find_element(By.CSS_SELECTOR, ".run-progress .done-link").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("Run #"))
        rows = browser.find_elements(By.CSS_SELECTOR, "table.changes tr.change")
        assert [row.get_attribute("data-action") for row in rows] == ["create"] * 3
        text = " ".join(row.text for row in rows)
        for name in ("Acme Browser Co", "Website relaunch", "Design review"):
            assert name in text
        assert "Applied" in text
    finally:
        worker.stop.set()
        worker.go.set()
        worker.join(timeout=30)
        queue.purge_queue()
    assert worker.error is None
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme Browser Co"]
