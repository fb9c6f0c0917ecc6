"""A real browser (headless Chromium) activates a Notion verification token on Settings,
after the handshake arrived over HTTP; events signed with it are accepted only then."""

from __future__ import annotations

import json

import pytest
import requests

from syncapp.models import NotionWebhookSubscription, SyncRun
from syncapp.webhooks.verify import notion_signature
from tests.dashboard import STAFF_PASSWORD
from tests.test_browser import browser, page_wait, readers_never_lock  # noqa: F401 (fixtures)
from tests.webhooking import EVENTS_URL, page_event

TOKEN = "secret_browser-handshake-token-000000000001"


def post_signed_event(base_url: str, key: str) -> int:
    body = json.dumps(page_event("1f0c0000-0000-4000-8000-00000000bb01")).encode()
    return requests.post(base_url + EVENTS_URL, data=body, timeout=10, headers={
        "Content-Type": "application/json",
        "X-Notion-Signature": notion_signature(body, key)}).status_code


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_activate_a_notion_token_by_clicking_activate_on_settings(
        browser, live_server, sandbox, django_user_model, settings,  # noqa: F811
        readers_never_lock):  # noqa: F811
    from selenium.webdriver.common.by import By

    settings.NOTION_WEBHOOK_SECRET = []
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_user("manager", password=STAFF_PASSWORD, is_staff=True)
    handshake = requests.post(live_server.url + EVENTS_URL, json={"verification_token": TOKEN},
                              timeout=10)
    assert handshake.status_code == 200
    assert post_signed_event(live_server.url, TOKEN) == 401  # pending: signs nothing

    wait = page_wait(browser)
    browser.get(live_server.url + "/settings/")
    browser.find_element(By.NAME, "username").send_keys("manager")
    browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Settings")
    row = browser.find_element(By.CSS_SELECTOR, "#notion-webhook-tokens tr.notion-token")
    assert TOKEN in row.text and "pending" in row.text and "127.0.0.1" in row.text

    row.find_element(By.CSS_SELECTOR, "button.activate-token").click()
    wait.until(lambda d: "is active" in d.find_element(By.CSS_SELECTOR, ".messages").text)
    row = browser.find_element(By.CSS_SELECTOR, "#notion-webhook-tokens tr.notion-token")
    assert "active (by manager" in row.text and TOKEN not in row.text  # masked once active
    assert not row.find_elements(By.CSS_SELECTOR, "button.activate-token")
    assert NotionWebhookSubscription.objects.get().active

    assert post_signed_event(live_server.url, TOKEN) == 202
    assert SyncRun.objects.count() == 1
