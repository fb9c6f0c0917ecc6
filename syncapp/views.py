"""Dashboard views: staff only."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from syncapp.models import KIND_ORDER, EntityMapping, RunStatus, SyncRun


@staff_member_required
def overview(request: HttpRequest) -> HttpResponse:
    runs = list(SyncRun.objects.all()[:10])
    mapped = {kind: EntityMapping.objects.filter(kind=kind).count() for kind in KIND_ORDER}
    return render(request, "syncapp/overview.html", {"runs": runs, "mapped": mapped})


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For uptime monitors: the last run's status and age. No names, no secrets."""
    run = SyncRun.objects.exclude(status=RunStatus.RUNNING).filter(dry_run=False).first()
    if run is None:
        return JsonResponse({"status": "no_runs_yet", "last_run": None}, status=200)
    age = (timezone.now() - (run.finished_at or run.started_at)).total_seconds()
    healthy = run.status in {RunStatus.SUCCEEDED, RunStatus.PARTIAL}
    return JsonResponse(
        {"status": "ok" if healthy else "failing",
         "last_run": {"status": run.status, "age_seconds": int(age)}},
        status=200 if healthy else 503,
    )
