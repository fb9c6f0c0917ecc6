"""Change records as CSV or JSON, per run or for a date range, streamed."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from syncapp.models import SyncRun
from syncapp.services import export
from syncapp.views.access import staff_required

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _response(queryset, fmt: str, filename: str, meta: dict) -> StreamingHttpResponse:
    stream = export.csv_stream(queryset) if fmt == "csv" else export.json_stream(queryset, meta)
    response = StreamingHttpResponse(stream, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@staff_required
def run_export(request: HttpRequest, run_id: int, fmt: str):
    run = get_object_or_404(SyncRun, pk=run_id)
    meta = {"run": run.pk, "status": run.status, "trigger": run.trigger, "mode": run.mode,
            "dry_run": run.dry_run, "started_at": run.started_at,
            "finished_at": run.finished_at, "exported_at": timezone.now()}
    return _response(export.for_run(run.pk), fmt, f"sync-run-{run.pk}-changes", meta)


@require_GET
@staff_required
def range_export(request: HttpRequest, fmt: str):
    try:
        start = date.fromisoformat(request.GET.get("start", ""))
        end = date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        return HttpResponseBadRequest("Give start and end as dates, e.g. "
                                      "?start=2026-01-01&end=2026-01-31.")
    if end < start:
        return HttpResponseBadRequest("The end date is before the start date.")
    include_dry = request.GET.get("dry_runs") == "1"
    meta = {"start": start, "end": end, "time_zone": timezone.get_current_timezone_name(),
            "dry_runs_included": include_dry, "exported_at": timezone.now()}
    return _response(export.between(start, end, include_dry_runs=include_dry), fmt,
                     f"sync-changes-{start}-to-{end}", meta)
