"""The time report: hours per client, project, task and person for a period, and its CSV."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from syncapp.models import TimeBackfill
from syncapp.services import time_backfill, time_report
from syncapp.views.access import staff_required
from syncapp.views.links import notion_url

# Rows per section (and project bars) the page shows, the most hours first: a month of an
# agency's 10,000 tasks is for the CSV, not for one page that must render fast.
SHOWN_ROWS = 50


def _period(request: HttpRequest):
    return time_report.parse_period(request.GET.get("start"), request.GET.get("end"))


@require_GET
@staff_required
def time_report_page(request: HttpRequest) -> HttpResponse:
    try:
        start, end = _period(request)
    except ValueError as exc:
        return render(request, "syncapp/time_report.html",
                      {"error": str(exc), "start": request.GET.get("start", ""),
                       "end": request.GET.get("end", "")}, status=400)
    report = time_report.build(start, end, top=SHOWN_ROWS)
    sections = []
    for key, title, rows in (("clients", "Client", report.clients),
                             ("projects", "Project", report.projects),
                             ("tasks", "Task", report.tasks),
                             ("people", "Person", report.people)):
        more = len(rows) - SHOWN_ROWS + (report.more_tasks if key == "tasks" else 0)
        sections.append({"key": key, "title": title, "more": max(0, more),
                         "rows": [{"row": row, "notion_url": notion_url(row.notion_page_id)}
                                  for row in rows[:SHOWN_ROWS]]})
    bars, peak = time_report.chart(report.projects[:SHOWN_ROWS])
    return render(request, "syncapp/time_report.html", {
        "report": report, "sections": sections, "bars": bars, "peak": peak,
        "backfills": TimeBackfill.objects.all()[:5],
        "backfill_problem": time_backfill.problem(),
        "start": start.isoformat(), "end": end.isoformat(),
        "time_zone": timezone.get_current_timezone_name(),
    })


@require_GET
@staff_required
def time_report_csv(request: HttpRequest) -> HttpResponse:
    try:
        start, end = _period(request)
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    report = time_report.build(start, end)
    response = HttpResponse(time_report.csv_text(report, notion_url),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="time-report-{start}-to-{end}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@staff_required
def time_backfill_start(request: HttpRequest) -> HttpResponse:
    """Queue a read of Clockify's history (the whole of it, or from a chosen day)."""
    since = None
    if request.POST.get("scope") != "whole":
        try:
            since = date.fromisoformat(request.POST.get("since", ""))
        except ValueError:
            messages.error(request, "Give the first day of the history to read as a date.")
            return redirect("time-report")
        if since > timezone.localdate():
            messages.error(request, "The first day to read is in the future.")
            return redirect("time-report")
    what = f"Clockify's time entries since {since}" if since else "Clockify's whole history"
    if time_backfill.request(since) is None:
        messages.info(request, f"Reading {what} is already queued or running.")
    else:
        messages.success(request, f"Reading {what} is queued; the report includes it once "
                                  "the worker has run it.")
    back = {key: request.POST[key] for key in ("start", "end") if request.POST.get(key)}
    return redirect(reverse("time-report") + ("?" + urlencode(back) if back else ""))
