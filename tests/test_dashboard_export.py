"""Exports: streamed in bounded memory, round-trip as CSV and JSON, no secrets."""

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name

from __future__ import annotations

import json
import tracemalloc
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from syncapp.models import ChangeRecord, Outcome, SyncRun
from syncapp.services import export
from tests.dashboard import finished_run, fresh_cache, staff, staff_client  # noqa: F401

pytestmark = pytest.mark.django_db
COUNT = 10_000


def make_records(run: SyncRun, count: int, created_at=None) -> None:
    when = created_at or timezone.now()
    ChangeRecord.objects.bulk_create([
        ChangeRecord(run=run, kind=("client", "project", "task")[i % 3], name=f"Record № {i}",
                     action="update", outcome=Outcome.FAILED if i % 50 == 0 else Outcome.APPLIED,
                     notion_page_id=f"{i:08d}-0000-4000-8000-000000000000",
                     clockify_id=f"64a0c0ffee{i:014d}", reason="validation" if i % 50 == 0 else "",
                     error="clockify 400: Project name must be between 2 and 250 characters"
                     if i % 50 == 0 else "", created_at=when,
                     fields={"name": {"before": f"Old name {i}", "after": f"Record № {i}",
                                      "side": "clockify"},
                             "estimate": {"before": None, "after": 1.5, "side": "clockify"}})
        for i in range(count)], batch_size=2000)


def consume(response) -> tuple[int, int, int]:
    """Read the stream as a WSGI server does (send each chunk, forget it).

    Returns the output's size, the number of chunks and the peak of traced memory.
    """
    assert response.streaming
    tracemalloc.start()
    size = chunks = 0
    try:
        for chunk in response.streaming_content:
            size += len(chunk)
            chunks += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, chunks, peak


def test_export_of_10000_records_streams_in_bounded_memory(staff_client):
    run = finished_run()
    make_records(run, COUNT)
    for fmt in ("csv", "json"):
        url = reverse("run-export", kwargs={"run_id": run.pk, "fmt": fmt})
        response = staff_client.get(url)
        assert response["Content-Disposition"] == \
            f'attachment; filename="sync-run-{run.pk}-changes.{fmt}"'
        size, chunks, peak = consume(response)
        assert size > 3_000_000 and chunks > 50, (size, chunks)
        assert peak < size / 5, (fmt, size, peak)  # never the whole export in memory


def test_export_round_trips_as_csv_and_json(staff_client):
    run = finished_run()
    make_records(run, COUNT)
    ChangeRecord.objects.create(run=run, kind="client", name="=HYPERLINK(\"x\")",
                                action="create", outcome=Outcome.APPLIED, notion_page_id="p1",
                                error="'quoted\nsecond line, with comma")
    expected = list(ChangeRecord.objects.filter(run=run).order_by("id").values(*export.COLUMNS))
    for row in expected:
        row["created_at"] = row["created_at"].isoformat()

    csv_response = staff_client.get(reverse("run-export", kwargs={"run_id": run.pk,
                                                                  "fmt": "csv"}))
    text = b"".join(csv_response.streaming_content).decode()
    assert "'=HYPERLINK" in text  # a spreadsheet shows it, never runs it
    assert export.read_csv(text) == expected

    json_response = staff_client.get(reverse("run-export", kwargs={"run_id": run.pk,
                                                                   "fmt": "json"}))
    document = json.loads(b"".join(json_response.streaming_content))
    assert document["meta"]["run"] == run.pk and document["meta"]["status"] == "succeeded"
    assert document["changes"] == expected


def test_date_range_export_covers_the_days_and_leaves_out_dry_runs(staff_client):
    today = timezone.localdate()
    old_run, new_run = finished_run(), finished_run()
    dry = finished_run(dry_run=True)
    make_records(old_run, 3, created_at=timezone.now() - timedelta(days=10))
    make_records(new_run, 4)
    make_records(dry, 5)
    url = reverse("range-export", kwargs={"fmt": "json"})
    start = (today - timedelta(days=1)).isoformat()
    document = json.loads(b"".join(staff_client.get(
        url, {"start": start, "end": today.isoformat()}).streaming_content))
    assert {c["run_id"] for c in document["changes"]} == {new_run.pk}
    assert len(document["changes"]) == 4
    with_dry = json.loads(b"".join(staff_client.get(
        url, {"start": start, "end": today.isoformat(), "dry_runs": "1"}).streaming_content))
    assert len(with_dry["changes"]) == 9
    everything = staff_client.get(reverse("range-export", kwargs={"fmt": "csv"}), {
        "start": (today - timedelta(days=30)).isoformat(), "end": today.isoformat()})
    assert len(export.read_csv(b"".join(everything.streaming_content).decode())) == 7


def test_date_range_export_rejects_bad_dates(staff_client):
    url = reverse("range-export", kwargs={"fmt": "csv"})
    assert staff_client.get(url, {"start": "soon", "end": "later"}).status_code == 400
    assert staff_client.get(url, {"start": "2026-02-01", "end": "2026-01-01"}).status_code == 400


def test_exports_hold_no_secrets(staff_client, settings):
    settings.NOTION_TOKEN = "ntn_secret_token_value_1234"
    settings.CLOCKIFY_API_KEY = "clockify-secret-key-5678"
    run = finished_run()
    make_records(run, 20)
    for fmt in ("csv", "json"):
        body = b"".join(staff_client.get(reverse(
            "run-export", kwargs={"run_id": run.pk, "fmt": fmt})).streaming_content).decode()
        assert "secret" not in body
