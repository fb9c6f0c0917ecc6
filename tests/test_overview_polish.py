"""What a person notices on the overview: an icon, a chart with labelled axes, and the
Recent runs table saying what the live card says."""

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name
from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from syncapp.models import ChangeRecord, Outcome, RunStatus, SyncRun
from tests.dashboard import finished_run, fresh_cache, staff, staff_client  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_icon_is_served_where_browsers_look_and_linked_from_the_pages(client,
                                                                          staff_client):
    icon = client.get("/favicon.ico")  # anonymous: the login page asks for it too
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg") and "max-age=86400" in icon["Cache-Control"]
    html = staff_client.get(reverse("overview")).content.decode()
    assert '<link rel="icon" href="/favicon.ico" type="image/svg+xml">' in html
    assert client.post("/favicon.ico").status_code == 405


def test_the_activity_chart_labels_its_axes_and_its_scale(staff_client, sandbox):
    run = finished_run(status=RunStatus.PARTIAL)
    ChangeRecord.objects.bulk_create(
        [ChangeRecord(run=run, kind="task", name=f"t{i}", action="create",
                      outcome=Outcome.APPLIED) for i in range(3)]
        + [ChangeRecord(run=run, kind="task", name="bad", action="create",
                        outcome=Outcome.FAILED)])
    html = staff_client.get(reverse("overview")).content.decode()
    chart = html[html.index('id="activity"'):html.index('id="recent-runs"')]
    assert '<span class="axis-title">changes / failures (count)</span>' in chart
    assert '<span data-field="peak">4</span><span>0</span>' in chart  # the tallest day: 3 + 1
    assert re.search(r'<p class="axis-x">day \(\d+ \w+ – \d+ \w+\)</p>', chart)


def cells(html: str, run: SyncRun) -> tuple[str, str]:
    """The status and phase the Recent runs row of `run` shows."""
    row = re.search(rf'<tr data-run="{run.pk}">(.*?)</tr>', html, re.S).group(1)
    status = re.search(r'data-field="status"[^>]*>([^<]*)<', row).group(1)
    phase = re.search(r'data-field="phase">([^<]*)<', row)
    return status, phase.group(1) if phase else ""


def card(html: str, run: SyncRun) -> tuple[str, str]:
    panel = html[html.index(f'id="run-{run.pk}-progress"'):]
    panel = panel[:panel.index("</section>")]
    status = re.search(r'data-field="status"[^>]*>([^<]*)<', panel).group(1)
    phase = re.search(r'data-field="phase">([^<]*)<', panel).group(1)
    return status, phase


def test_recent_runs_say_what_the_live_card_says_while_runs_are_in_progress(staff_client,
                                                                           sandbox):
    now = timezone.now()
    running = SyncRun.objects.create(trigger="manual", status=RunStatus.RUNNING, started_at=now,
                                     phase="Reading Notion: projects")
    queued = SyncRun.objects.create(trigger="webhook", status=RunStatus.QUEUED, started_at=now)
    html = staff_client.get(reverse("overview")).content.decode()
    assert card(html, running) == cells(html, running) == ("Running", "Reading Notion: projects")
    assert card(html, queued) == cells(html, queued) == ("Queued", "Waiting for a worker")


def test_a_finished_run_has_the_same_status_words_in_the_card_and_the_table(staff_client,
                                                                          sandbox):
    held = finished_run(status=RunStatus.HELD)
    html = staff_client.get(reverse("overview")).content.decode()
    assert card(html, held)[0] == cells(html, held)[0] == "Held for review"
    assert cells(html, held)[1] == ""  # no phase once it is over
