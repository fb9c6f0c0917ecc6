"""A real browser: a person presses Full audit on the overview, and the run's page lists the
drift planted in Clockify behind the change feed's back."""

from __future__ import annotations

import pytest

from syncapp.models import EntityMapping, Mode, SyncRun
from syncapp.sandbox.demo import seed_scale
from tests.dashboard import STAFF_PASSWORD, fresh_cache  # noqa: F401
from tests.syncing import sync
from tests.test_browser import FINISHED, Worker, browser, page_wait, readers_never_lock  # noqa: F401
from tests.test_change_feed import as_if_an_hour_ago


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_full_audit_button_reports_drift_the_feed_missed(browser, live_server, sandbox,  # noqa: F811
                                                         django_user_model, settings,
                                                         readers_never_lock):  # noqa: F811
    from django_q.brokers import get_broker
    from selenium.webdriver.common.by import By

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_user("manager", password=STAFF_PASSWORD, is_staff=True)
    seed_scale(sandbox, clients=2, projects=3, tasks=4)
    sync()
    project = EntityMapping.objects.filter(kind="project").order_by("name").first()
    as_if_an_hour_ago(sandbox)
    with sandbox.clockify.unrecorded():
        sandbox.clockify.update_project(project.clockify_id, name="Drifted quietly")
    queue = get_broker()
    queue.purge_queue()
    worker = Worker()
    worker.start()
    wait = page_wait(browser)
    try:
        browser.get(live_server.url + "/admin/login/?next=/")
        browser.find_element(By.NAME, "username").send_keys("manager")
        browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
        wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Overview")

        browser.find_element(By.ID, "full-audit").click()
        wait.until(lambda d: "Full audit queued as run" in d.page_source)
        audit = SyncRun.objects.latest("pk")
        assert audit.mode == Mode.AUDIT and audit.trigger == "manual"
        worker.go.set()
        page_wait(browser, 60).until(lambda d: d.find_element(
            By.CSS_SELECTOR, ".run-progress [data-field=status]").get_attribute("data-status")
            in FINISHED)
        browser.get(f"{live_server.url}/runs/{audit.pk}/")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith("Run #"))
        section = browser.find_element(By.ID, "clockify-read").text
        assert "Drift the change feed missed (1)" in section
        assert "Drifted quietly" in section and project.name in section
    finally:
        worker.stop.set()
        worker.go.set()
        worker.join(timeout=30)
        queue.purge_queue()
    assert worker.error is None
    assert sandbox.clockify.project(project.clockify_id)["name"] == project.name
