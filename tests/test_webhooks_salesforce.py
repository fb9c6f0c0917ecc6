"""Time entries forwarded to Salesforce as Events; the client and the emulator
(issue: inbound webhooks)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from syncapp.clients.errors import AuthError, NotFound, RateLimited, ValidationFailed
from syncapp.clients.http import new_session
from syncapp.clients.salesforce import SalesforceClient
from syncapp.models import EntityMapping, SalesforceStatus, TimeEntry, WebhookDelivery
from syncapp.sandbox import salesforce as sf_sandbox
from syncapp.sandbox.salesforce import SalesforceEmulator
from syncapp.sandbox.transport import mount
from syncapp.services import salesforce_events
from tests.conftest import SANDBOX_ROOT
from tests.test_settings_and_checks import start_django
from tests.webhooking import CLOCKIFY_TOKEN, START, entry_body, post_clockify

pytestmark = pytest.mark.django_db
BASE = "http://salesforce.test"
EVENT = {"Subject": "Acme / Website: design", "StartDateTime": "2026-11-20T09:00:00Z",
         "EndDateTime": "2026-11-20T10:30:00Z", "Description": "x"}


# -- the client against the emulator -----------------------------------------------------------
@pytest.fixture
def emu():
    return SalesforceEmulator()


def make_client(emu, **options) -> SalesforceClient:
    session = requests.Session()
    mount(session, BASE, emu)
    defaults = {"access_token": sf_sandbox.ACCESS_TOKEN, "client_id": sf_sandbox.CLIENT_ID,
                "client_secret": sf_sandbox.CLIENT_SECRET, "session": session,
                "sleep": lambda s: None, "rate": 1e6, "burst": 100}
    return SalesforceClient(BASE, **{**defaults, **options})


def test_event_create_get_patch_delete(emu):
    api = make_client(emu)
    event_id = api.create_event(EVENT)
    assert len(event_id) == 18 and event_id.startswith("00U")
    got = api.get_event(event_id)
    assert got["attributes"]["type"] == "Event" and got["DurationInMinutes"] == 90
    assert got["StartDateTime"] == "2026-11-20T09:00:00.000+0000"
    api.update_event(event_id, {"Subject": "renamed"})
    assert emu.event(event_id)["Subject"] == "renamed"
    api.delete_event(event_id)
    assert emu.events() == []
    with pytest.raises(NotFound) as missing:
        api.get_event(event_id)
    assert missing.value.code == "NOT_FOUND" and missing.value.status == 404
    with pytest.raises(NotFound):
        api.delete_event(event_id)
    assert api.calls["POST /services/data/{version}/sobjects/Event"] == 1


def test_error_bodies_are_arrays_and_are_classified(emu):
    api = make_client(emu)
    with pytest.raises(ValidationFailed) as refused:
        api.create_event({**EVENT, "EndDateTime": "2026-11-19T09:00:00Z"})
    assert refused.value.code == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(ValidationFailed, match="No such column 'Colour'"):
        api.create_event({**EVENT, "Colour": "red"})
    with pytest.raises(ValidationFailed) as missing:
        api.create_event({"Subject": "x"})
    assert missing.value.code == "REQUIRED_FIELD_MISSING"
    with pytest.raises(ValidationFailed, match="14 days"):
        api.create_event({**EVENT, "EndDateTime": "2026-12-20T09:00:00Z"})
    emu.faults.schedule("429")
    with pytest.raises(RateLimited):
        make_client(emu, max_retries=0).get_event("00USbx000000000001")
    raw = requests.Session()
    mount(raw, BASE, emu)
    answer = raw.get(f"{BASE}/services/data/v60.0/sobjects/Event/nope",
                     headers={"Authorization": f"Bearer {sf_sandbox.ACCESS_TOKEN}"})
    assert answer.status_code == 404
    assert answer.json() == [{"message": "The requested resource does not exist",
                              "errorCode": "NOT_FOUND"}]


def test_expired_session_is_refreshed_once_with_client_credentials(emu):
    api = make_client(emu)
    api.create_event(EVENT)
    emu.expire_sessions()
    api.create_event(EVENT)  # 401 INVALID_SESSION_ID → token → retried
    assert api.calls["POST /services/oauth2/token"] == 1
    assert len(emu.events()) == 2
    static_only = make_client(emu, client_id="", client_secret="")
    emu.expire_sessions()
    with pytest.raises(AuthError) as refused:
        static_only.create_event(EVENT)
    assert refused.value.code == "INVALID_SESSION_ID"


def test_token_from_client_credentials_and_bad_credentials(emu):
    api = make_client(emu, access_token="")
    api.create_event(EVENT)
    assert api.calls["POST /services/oauth2/token"] == 1
    wrong = make_client(emu, access_token="", client_secret="wrong-secret-value")
    with pytest.raises(AuthError) as refused:
        wrong.create_event(EVENT)
    assert refused.value.code == "invalid_client"
    text = repr(wrong) + str(refused.value)
    assert "wrong-secret-value" not in text and sf_sandbox.ACCESS_TOKEN not in repr(api)


def test_query_reads_events_back(emu):
    api = make_client(emu)
    event_id = api.create_event(EVENT)
    api.create_event({**EVENT, "StartDateTime": "2026-11-20T09:30:00Z"})
    records = api.query("SELECT Id, Description FROM Event WHERE StartDateTime = "
                        "2026-11-20T09:00:00Z AND EndDateTime = 2026-11-20T10:30:00Z")
    assert [r["Id"] for r in records] == [event_id]
    with pytest.raises(ValidationFailed):
        api.query("SELECT Id FROM Account")


def test_sandbox_mode_points_salesforce_at_the_emulator_and_bad_version_stops_start_up():
    from django.conf import settings

    assert settings.SALESFORCE_INSTANCE_URL.endswith("/salesforce")
    assert settings.SALESFORCE_API_VERSION == "v60.0"
    result = start_django(SANDBOX="true", SALESFORCE_API_VERSION="latest")
    assert result.returncode != 0 and "SALESFORCE_API_VERSION" in result.stderr


# -- time entries → Events -----------------------------------------------------------------------
@pytest.fixture
def hooks(sandbox, settings):
    settings.CLOCKIFY_WEBHOOK_TOKENS = [CLOCKIFY_TOKEN]
    settings.HTTP_MAX_RETRIES = 0
    return sandbox


def send(client, event, body):
    assert post_clockify(client, event, body).status_code == 200


def entry(clockify_id="e1") -> TimeEntry:
    return TimeEntry.objects.get(clockify_id=clockify_id)


def later(minutes: float):
    return timezone.now() + timedelta(minutes=minutes)


def test_entry_becomes_an_event_is_updated_and_deleted_with_it(client, hooks):
    mapping = EntityMapping.objects.create(kind="task", notion_page_id="task-page",
                                           clockify_id="ct", state="linked", name="Design")
    send(client, "NEW_TIMER_STARTED", entry_body("e1", seconds=None, task_id="ct"))
    assert entry().sf_status == SalesforceStatus.NONE  # a running timer is not an Event yet
    send(client, "TIMER_STOPPED", entry_body("e1", seconds=5400, task_id="ct",
                                             description="design review"))
    assert entry().sf_status == SalesforceStatus.PENDING
    assert salesforce_events.push_due() == {"created": 1}
    stored = entry()
    assert stored.sf_status == SalesforceStatus.SENT and stored.sf_attempts == 1
    event = hooks.salesforce.event(stored.sf_event_id)
    assert event["Subject"] == "Design: design review"
    assert event["StartDateTime"] == "2026-11-20T09:00:00.000+0000"
    assert event["DurationInMinutes"] == 90
    assert "Clockify time entry: e1" in event["Description"]
    assert f"Notion task page: {mapping.notion_page_id}" in event["Description"]
    send(client, "TIME_ENTRY_UPDATED", entry_body("e1", seconds=3600, task_id="ct",
                                                  description="shorter"))
    assert salesforce_events.push_due() == {"updated": 1}
    assert hooks.salesforce.event(stored.sf_event_id)["DurationInMinutes"] == 60
    assert salesforce_events.push_due() == {}  # nothing due
    send(client, "TIME_ENTRY_DELETED", entry_body("e1", seconds=3600, task_id="ct"))
    assert salesforce_events.push_due() == {"deleted": 1}
    assert hooks.salesforce.events() == []
    assert entry().sf_event_id == "" and entry().sf_status == SalesforceStatus.SENT


def test_a_5xx_is_retried_with_backoff_and_the_status_is_visible(client, hooks, admin_client):
    send(client, "NEW_TIME_ENTRY", entry_body("e1"))
    due = entry().sf_next_attempt_at  # the clock of this test: the entry is due from here
    hooks.salesforce.faults.schedule("503", method="POST")
    assert salesforce_events.push_due(now=due) == {"retrying": 1}
    stored = entry()
    assert stored.sf_status == SalesforceStatus.PENDING and stored.sf_attempts == 1
    assert "503" in stored.sf_error and stored.sf_outcome_unknown  # a POST's 5xx: unknown
    assert stored.sf_next_attempt_at == due + timedelta(minutes=1)
    page = admin_client.get("/admin/syncapp/timeentry/").content.decode()
    assert "Pending" in page
    assert salesforce_events.push_due(now=due + timedelta(seconds=59)) == {}  # not due yet
    hooks.salesforce.faults.schedule("500", method="POST")
    second = due + timedelta(minutes=1.1)
    assert salesforce_events.push_due(now=second) == {"retrying": 1}
    assert entry().sf_attempts == 2
    assert entry().sf_next_attempt_at == second + timedelta(minutes=2)  # doubled
    assert salesforce_events.push_due(now=second + timedelta(minutes=1, seconds=59)) == {}
    assert salesforce_events.push_due(now=second + timedelta(minutes=2)) == {"created": 1}
    assert len(hooks.salesforce.events()) == 1
    assert entry().sf_status == SalesforceStatus.SENT and entry().sf_error == ""


def test_a_lost_create_response_is_read_back_not_posted_twice(client, hooks):
    send(client, "NEW_TIME_ENTRY", entry_body("e1"))
    hooks.salesforce.faults.schedule("commit_then_drop", method="POST")
    assert salesforce_events.push_due() == {"retrying": 1}
    assert len(hooks.salesforce.events()) == 1 and entry().sf_outcome_unknown
    assert salesforce_events.push_due(now=later(2)) == {"updated": 1}  # found, not re-POSTed
    assert len(hooks.salesforce.events()) == 1
    assert entry().sf_event_id == hooks.salesforce.events()[0]["Id"]


def test_an_event_deleted_in_salesforce_is_created_again(client, hooks):
    send(client, "NEW_TIME_ENTRY", entry_body("e1"))
    salesforce_events.push_due()
    hooks.salesforce.load_state({})  # someone deleted it there
    send(client, "TIME_ENTRY_UPDATED", entry_body("e1", description="changed"))
    assert salesforce_events.push_due() == {"created": 1}


def test_refused_values_fail_permanently_until_retried_from_the_admin(client, hooks,
                                                                     admin_client):
    send(client, "NEW_TIME_ENTRY", entry_body("e1", seconds=15 * 24 * 3600))  # > 14 days
    assert salesforce_events.push_due() == {"failed": 1}
    stored = entry()
    assert stored.sf_status == SalesforceStatus.FAILED and stored.sf_next_attempt_at is None
    assert "14 days" in stored.sf_error
    assert salesforce_events.push_due(now=later(600)) == {}
    admin_client.post("/admin/syncapp/timeentry/",
                      {"action": "retry_salesforce", "_selected_action": [stored.pk]})
    assert entry().sf_status == SalesforceStatus.PENDING and entry().sf_attempts == 0


def test_gives_up_after_the_last_attempt(client, hooks):
    send(client, "NEW_TIME_ENTRY", entry_body("e1"))
    hooks.salesforce.faults.configure(1.0, ("503",))
    when = timezone.now()
    for _ in range(salesforce_events.MAX_ATTEMPTS):
        salesforce_events.push_due(now=when)
        when += timedelta(hours=7)
    assert entry().sf_status == SalesforceStatus.FAILED
    assert entry().sf_attempts == salesforce_events.MAX_ATTEMPTS


def test_deleted_before_it_was_sent_needs_no_event(client, hooks):
    send(client, "NEW_TIME_ENTRY", entry_body("e1"))
    send(client, "TIME_ENTRY_DELETED", entry_body("e1"))
    assert entry().sf_status == SalesforceStatus.NONE
    assert salesforce_events.push_due() == {}
    assert hooks.salesforce.call_count() == 0


def test_disabled_without_instance_or_credentials(client, hooks, settings):
    settings.SALESFORCE_INSTANCE_URL = ""
    send(client, "NEW_TIME_ENTRY", entry_body("e1"))
    assert entry().sf_status == SalesforceStatus.NONE
    settings.SALESFORCE_INSTANCE_URL = f"{SANDBOX_ROOT}/salesforce"
    settings.SALESFORCE_ACCESS_TOKEN = ""
    settings.SALESFORCE_CLIENT_SECRET = ""
    assert not salesforce_events.enabled()
    assert salesforce_events.push_due() == {}


def test_client_credentials_only_configuration_works(client, hooks, settings):
    settings.SALESFORCE_ACCESS_TOKEN = ""
    send(client, "NEW_TIME_ENTRY", entry_body("e1", start=START))
    assert salesforce_events.push_due() == {"created": 1}
    assert hooks.salesforce.call_count("POST", "/services/oauth2/token") == 1


def test_secrets_stay_out_of_logs_and_admin_pages(client, hooks, admin_client, caplog):
    caplog.set_level("DEBUG")
    send(client, "NEW_TIME_ENTRY", entry_body("e1"))
    hooks.salesforce.expire_sessions()
    hooks.salesforce.faults.schedule("503", method="POST")
    salesforce_events.push_due()
    salesforce_events.push_due(now=later(2))
    pages = "".join(admin_client.get(url).content.decode() for url in (
        "/admin/syncapp/timeentry/", f"/admin/syncapp/timeentry/{entry().pk}/change/",
        "/admin/syncapp/webhookdelivery/",
        f"/admin/syncapp/webhookdelivery/{WebhookDelivery.objects.get().pk}/change/",
        "/admin/syncapp/rollupstate/"))
    for secret in (sf_sandbox.ACCESS_TOKEN, sf_sandbox.CLIENT_SECRET, CLOCKIFY_TOKEN):
        assert secret not in caplog.text and secret not in pages
    assert "[redacted]" in pages


def test_session_hooks_reach_the_salesforce_client(hooks):
    session = new_session()  # the sandbox fixture mounts every emulator on every session
    assert session.get_adapter(f"{SANDBOX_ROOT}/salesforce/x").emulator is hooks.salesforce
