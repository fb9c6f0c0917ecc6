"""/health/ for uptime monitors: the last completed run's status and age, and why it is not ok.

No record names, no secrets: the reason is the run's first error line (the product's own
words plus the API's status and code).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from syncapp.models import RunStatus, SyncRun
from syncapp.services import budget, runs, syncing, time_backfill
from syncapp.services.overview import ACTIVE, FINISHED

HEALTHY = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
REASON_LENGTH = 300


def failure_reason(run: SyncRun) -> str:
    first = (run.error_summary or "").strip().splitlines()[:1]
    detail = first[0][:REASON_LENGTH] if first else "no reason recorded"
    what = "is held for review" if run.status == RunStatus.HELD else "failed"
    return f"The last run (#{run.pk}) {what}: {detail}"


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when the last completed real run succeeded (or partly) and is recent, else 503
    with a `reason`: the last run failed (e.g. Notion or Clockify could not be read), no run
    finished within HEALTH_MAX_AGE_HOURS, or the running sync stopped responding.

    A run waiting for the Clockify request budget is not a failure: 200 "waiting", with
    when it resumes as the `reason`.

    A fresh install with no run yet answers 200 "no_runs_yet".
    """
    max_age = settings.HEALTH_MAX_AGE_HOURS * 3600
    running = SyncRun.objects.filter(status__in=ACTIVE, dry_run=False).exists()
    run = (SyncRun.objects.filter(status__in=FINISHED, dry_run=False,
                                  finished_at__isnull=False)
           .order_by("-finished_at", "-id")
           .only("status", "finished_at", "error_summary", "resumes_at")
           .first())
    body = {"status": "no_runs_yet", "last_run": None, "sync_active": running,
            "max_age_seconds": int(max_age), "reason": ""}
    holder, dead = runs.lock_state()
    if dead:
        body["status"] = "stalled"
        body["reason"] = (f"The running sync (run #{holder.run_id}) stopped responding: "
                          f"{dead}. The next trigger takes over.")
    if run is None:
        body = _with_backfill(body)
        return JsonResponse(body, status=503 if dead or body["status"] == "failing" else 200)
    age = (timezone.now() - run.finished_at).total_seconds()
    body["last_run"] = {"status": run.status, "age_seconds": int(age),
                        "finished_at": run.finished_at.isoformat()}
    if dead:
        pass
    elif run.status == RunStatus.WAITING and run.resumes_at:
        body["status"] = "waiting"
        body["reason"] = (f"{budget.waiting_message(run.resumes_at)} (run #{run.pk}): the "
                          "hourly budget (CLOCKIFY_REQUESTS_PER_HOUR) is spent.")
    elif run.status not in HEALTHY:
        body["status"] = "failing"
        body["reason"] = failure_reason(run)
    elif age > max_age:
        body["status"] = "stale"
        body["reason"] = (f"No run finished in the last {settings.HEALTH_MAX_AGE_HOURS:g} h "
                          "(HEALTH_MAX_AGE_HOURS): " + (
                              "is the task worker running?" if syncing.syncing_started()
                              else "syncing is paused."))
    else:
        body["status"] = "ok"
    body = _with_backfill(body)
    return JsonResponse(body, status=200 if body["status"] in ("ok", "waiting") else 503)


def _with_backfill(body: dict) -> dict:
    """A failed read of the time history makes the reports incomplete: failing, with why,
    until a later backfill succeeds (the sync's own problems are reported first)."""
    problem = time_backfill.problem()
    body["time_backfill"] = "failed" if problem else "ok"
    if problem and body["status"] in ("ok", "no_runs_yet"):
        body["status"] = "failing"
        body["reason"] = problem
    return body
