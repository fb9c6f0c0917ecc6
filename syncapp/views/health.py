"""/health/ for uptime monitors: the last completed run's status and age. No names, no secrets."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from syncapp.models import RunStatus, SyncRun
from syncapp.services.overview import ACTIVE, FINISHED

HEALTHY = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when the last completed real run succeeded (or partly) and is recent, else 503.

    A fresh install with no run yet answers 200 "no_runs_yet".
    """
    max_age = settings.HEALTH_MAX_AGE_HOURS * 3600
    running = SyncRun.objects.filter(status__in=ACTIVE, dry_run=False).exists()
    run = (SyncRun.objects.filter(status__in=FINISHED, dry_run=False,
                                  finished_at__isnull=False)
           .order_by("-finished_at", "-id").only("status", "finished_at").first())
    body = {"status": "no_runs_yet", "last_run": None, "sync_active": running,
            "max_age_seconds": int(max_age)}
    if run is None:
        return JsonResponse(body, status=200)
    age = (timezone.now() - run.finished_at).total_seconds()
    body["last_run"] = {"status": run.status, "age_seconds": int(age),
                        "finished_at": run.finished_at.isoformat()}
    if run.status not in HEALTHY:
        body["status"] = "failing"
    elif age > max_age:
        body["status"] = "stale"
    else:
        body["status"] = "ok"
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
