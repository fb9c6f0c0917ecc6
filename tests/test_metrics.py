"""/metrics: refused without a token or staff login; the series say what happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from prometheus_client.parser import text_string_to_metric_families

from syncapp.models import EntityMapping, RunStatus, SyncRun
from syncapp.sandbox import ids
from syncapp.services.metrics import SyncCollector
from tests.syncing import sync
from tests.webhooking import CLOCKIFY_TOKEN, entry_body, post_clockify

pytestmark = pytest.mark.django_db
C, P = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID
METRICS_TOKEN = "metrics-scrape-token-0001"


@pytest.fixture(autouse=True)
def tokens(settings):
    settings.METRICS_TOKENS = [METRICS_TOKEN]
    settings.CLOCKIFY_WEBHOOK_TOKENS = [CLOCKIFY_TOKEN]


def scrape(client, token: str | None = METRICS_TOKEN) -> dict[tuple, float]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    answer = client.get("/metrics", **headers)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/plain; version=")
    series = {}
    for family in text_string_to_metric_families(answer.content.decode()):
        for sample in family.samples:
            series[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return series


def value(series: dict, name: str, **labels) -> float:
    key = (f"notion_clockify_sync_{name}", tuple(sorted(labels.items())))
    return series.get(key, 0.0)


def test_metrics_refuse_anonymous_and_wrong_tokens_and_non_staff(client):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"},
                    {"HTTP_AUTHORIZATION": f"Basic {METRICS_TOKEN}"},
                    {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN} "}):
        answer = client.get("/metrics", **headers)
        assert answer.status_code == 401 and answer["WWW-Authenticate"].startswith("Bearer")
        assert b"notion_clockify_sync" not in answer.content
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=False)
    client.force_login(user)
    assert client.get("/metrics").status_code == 401


def test_a_staff_session_may_read_the_metrics(client):
    staff = get_user_model().objects.create_user("ops", password="pw", is_staff=True)
    client.force_login(staff)
    assert value(scrape(client, token=None), "run_active") == 0


def test_the_series_follow_a_sync_a_failed_run_a_review_and_a_webhook(sandbox, client):
    acme = sandbox.notion.create_page(C, {"Name": "Acme"})
    project = sandbox.notion.create_page(P, {"Name": "Website", "Client": [acme],
                                             "Status": "In progress"})
    first = sync()
    assert first.status == RunStatus.SUCCEEDED
    # a conflict: the same field edited on both sides
    sandbox.notion.update_page(project, {"Name": "Site (Notion)"})
    clockify_id = EntityMapping.objects.get(notion_page_id=project).clockify_id
    sandbox.clockify.update_project(clockify_id, name="Site (Clockify)")
    flagged = sync()
    assert flagged.status == RunStatus.PARTIAL
    # an outage: Clockify answers 503 to everything, retries included
    sandbox.clockify.faults.configure(rate=1.0, kinds=("503",))
    failed = sync()
    sandbox.clockify.faults.clear()
    assert failed.status == RunStatus.FAILED
    assert post_clockify(client, "NEW_TIME_ENTRY", entry_body()).status_code == 200

    series = scrape(client)
    full = {"trigger": "command", "dry_run": "false"}
    assert value(series, "runs", status="succeeded", **full) == 1
    assert value(series, "runs", status="partial", **full) == 1
    assert value(series, "runs", status="failed", **full) == 1
    assert value(series, "last_run_failed") == 1
    assert value(series, "records", kind="client", action="create", outcome="applied") == 1
    assert value(series, "records", kind="project", action="create", outcome="applied") == 1
    assert value(series, "records", kind="project", action="update", outcome="flagged") == 1
    assert value(series, "pending_reviews", reason="conflict") == 1
    assert value(series, "webhook_deliveries", source="clockify", status="processed") == 1
    runs = SyncRun.objects.all()
    assert value(series, "api_calls", service="clockify") == sum(
        r.api_calls["clockify"]["total"] for r in runs)
    assert value(series, "api_retries", service="clockify") == failed.api_calls["clockify"][
        "retries"] > 0
    assert value(series, "api_rate_limited", service="notion") == 0
    assert value(series, "api_calls_last_hour", service="clockify") == value(
        series, "api_calls", service="clockify")


def test_rate_limits_and_waits_are_counted_per_service(sandbox, client):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    sandbox.notion.faults.schedule("429", method="POST", path_contains="/query", times=2)
    run = sync()
    assert run.status == RunStatus.SUCCEEDED
    assert run.api_calls["notion"]["rate_limited"] == 2
    series = scrape(client)
    assert value(series, "api_rate_limited", service="notion") == 2
    waited = value(series, "api_wait_seconds", service="notion")
    assert waited == pytest.approx(sum(sandbox.sleeps), abs=0.01) and waited > 0


def test_the_age_of_the_last_success_is_measured_from_an_injected_clock(sandbox):
    sandbox.notion.create_page(C, {"Name": "Acme"})
    run = sync()
    later = run.finished_at + timedelta(hours=3)
    families = {f.name: f for f in SyncCollector(now=later).collect()}
    age = families["notion_clockify_sync_last_success_age_seconds"].samples[0].value
    assert age == pytest.approx(3 * 3600)
    hour = {s.labels["service"]: s.value
            for s in families["notion_clockify_sync_api_calls_last_hour"].samples}
    assert hour == {"notion": 0, "clockify": 0}  # that run is three hours old by then
    now = {s.labels["service"]: s.value for s in {f.name: f for f in SyncCollector(
        now=run.finished_at).collect()}["notion_clockify_sync_api_calls_last_hour"].samples}
    assert now["notion"] == run.api_calls["notion"]["total"] > 0
