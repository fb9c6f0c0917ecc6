"""In a real browser: open the mapping editor from the Mappings page, pick properties and
values from the live schema, see a wrong choice refused with its fix, save, and watch the
next sync use the new mapping in the emulators.

Same harness as tests/test_browser.py (headless Chromium; skipped without it unless
REQUIRE_BROWSER is set).
"""

# ruff: noqa: F811 - pytest fixtures imported by name
from __future__ import annotations

import pytest

from syncapp.models import DatabaseMapping, EntityMapping
from syncapp.sandbox import ids
from tests.dashboard import fresh_cache  # noqa: F401
from tests.syncing import cid, clockify_entity, sync
from tests.test_browser import browser, page_wait, readers_never_lock  # noqa: F401
from tests.test_browser_sandbox_records import log_in, world  # noqa: F401

T = ids.TASKS_DATA_SOURCE_ID
TICK = "Sync to Clockify"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_mapping_editor_in_a_real_browser(browser, live_server, sandbox, world,
                                          readers_never_lock):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # A person adds a "Stage" select and a "Sync to Clockify" checkbox to the Tasks database.
    sandbox.notion.add_property(T, "Stage", ("select", ["Backlog", "Doing", "Finished"]))
    sandbox.notion.add_property(T, TICK, "checkbox")
    doing = sandbox.notion.create_page(T, {"Name": "Write copy", "Project": [world["project"]],
                                           "Stage": "Doing", TICK: True})
    someday = sandbox.notion.create_page(T, {"Name": "Someday", "Project": [world["project"]],
                                             "Stage": "Backlog"})
    before = DatabaseMapping.objects.values().get(kind="task")

    wait = page_wait(browser)
    log_in(browser, live_server, wait)
    browser.find_element(By.LINK_TEXT, "Mappings").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Mappings")
    browser.find_element(By.LINK_TEXT, "edit the tasks mapping").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Mapping editor: Tasks")

    closed = Select(browser.find_element(By.ID, "prop-closed"))
    assert [o.text for o in closed.options] == [
        "— choose —", "Stage (Select)", "Status (Status)", "Sync to Clockify (Checkbox)"]
    assert closed.first_selected_option.text == "Status (Status)"

    # A wrong choice: Stage as the closed property, but no value meaning closed.
    closed.select_by_visible_text("Stage (Select)")
    stage_values = browser.find_element(By.CSS_SELECTOR, 'select.closed-values[data-for="Stage"]')
    status_values = browser.find_element(By.CSS_SELECTOR,
                                         'select.closed-values[data-for="Status"]')
    assert stage_values.is_displayed() and not status_values.is_displayed()
    browser.find_element(By.ID, "mapping-save").click()
    wait.until(lambda d: d.find_elements(By.ID, "mapping-refused"))
    problems = browser.find_element(By.ID, "mapping-problems").text
    assert "No value of “Stage” is chosen as Done (task status)" in problems
    assert "Fix: Pick the values of “Stage” that mean closed" in problems
    assert DatabaseMapping.objects.values().get(kind="task") == before  # nothing saved

    # The page kept the choice: now pick the value, and the filter.
    closed = Select(browser.find_element(By.ID, "prop-closed"))
    assert closed.first_selected_option.text == "Stage (Select)"
    Select(browser.find_element(By.CSS_SELECTOR, 'select.closed-values[data-for="Stage"]')) \
        .select_by_visible_text("Finished")
    Select(browser.find_element(By.ID, "filter-property")) \
        .select_by_visible_text(f"{TICK} (Checkbox) is ticked")
    browser.find_element(By.ID, "mapping-preview").click()
    wait.until(lambda d: d.find_elements(By.ID, "mapping-preview-table")
               and "outside the filter" in d.find_element(By.ID, "preview").text)
    assert not browser.find_elements(By.ID, "mapping-refused")
    browser.find_element(By.ID, "mapping-save").click()
    wait.until(lambda d: "The Tasks mapping is saved" in d.page_source)

    mapping = DatabaseMapping.objects.get(kind="task")
    assert mapping.properties["closed"] == "Stage"
    assert mapping.closed_values == "Finished"
    assert mapping.sync_filter == {"property": TICK}

    # The next sync uses it: only ticked tasks sync; the synced task outside it is closed.
    sync()
    assert clockify_entity(sandbox, "task", cid(doing))["status"] == "ACTIVE"
    assert not EntityMapping.objects.filter(notion_page_id=someday).exists()
    assert "Someday" not in [t["name"] for t in sandbox.clockify.tasks()]
    assert clockify_entity(sandbox, "task", world["task_id"])["status"] == "DONE"
    sandbox.notion.update_page(doing, {"Stage": "Finished"})
    sync()
    assert clockify_entity(sandbox, "task", cid(doing))["status"] == "DONE"
