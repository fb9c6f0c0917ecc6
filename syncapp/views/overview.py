"""The overview, the Sync now and dry-run buttons, and the live progress they poll."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from syncapp.models import Mode, RunStatus, SyncRun, Trigger
from syncapp.services import budget, config_check, overview, runs, syncing
from syncapp.views.access import staff_required


def run_row(run: SyncRun) -> dict:
    """A run as the tables show it: totals and API calls summed, duration ready."""
    return {"run": run, "totals": overview.totals(run),
            "api_calls": overview.api_call_totals(run)}


@require_GET
@staff_required
def overview_page(request: HttpRequest) -> HttpResponse:
    active, last = overview.active_and_last()
    holder, dead_reason = runs.lock_state()
    context = {
        "stuck_lock": (holder, dead_reason) if dead_reason else None,
        "check": config_check.cached_or_quick(),
        "active": [(run, overview.kind_progress(run)) for run in active],
        "last": last,
        "last_progress": overview.kind_progress(last) if last else [],
        "last_totals": overview.totals(last) if last else {},
        "last_failure": last if last and last.status == RunStatus.FAILED else None,
        "last_waiting": last if last and last.status == RunStatus.WAITING else None,
        "budget": budget.state(),
        "schedules": overview.next_schedules(limit=8),
        "mapped": overview.mapped_counts(),
        "reviews": overview.pending_reviews(),
        "recent": [run_row(run) for run in overview.recent_runs()],
        "chart": overview.activity(),
    }
    request.pending_review_count = context["reviews"].count  # the nav badge asks no more
    context["mapped_total"] = sum(row["total"] for row in context["mapped"])
    context["chart_peak"] = max([b.changes + b.problems for b in context["chart"]] + [0])
    context["syncing"] = syncing.state()
    if not context["syncing"].started:
        context["journey"] = overview.first_run_journey()
    return render(request, "syncapp/overview.html", context)


def _user_label(request: HttpRequest) -> str:
    return f"{request.user.get_username()} (dashboard)"


def _start(request: HttpRequest) -> None:
    """A person's Sync now or Start syncing turns the schedules and webhooks on."""
    if syncing.start_syncing(_user_label(request)):
        messages.success(request, "Syncing started: the poll, the daily sync and webhooks now "
                                  "keep Notion and Clockify in step (Pause syncing on the "
                                  "settings page stops them).")


@require_POST
@staff_required
def sync_now(request: HttpRequest) -> HttpResponse:
    _start(request)
    run = runs.request_sync(trigger=Trigger.MANUAL, triggered_by=_user_label(request))
    holder = runs.current_holder()
    if run.coalesced:
        merged = f"{run.coalesced} request{'s' if run.coalesced > 1 else ''}"
        messages.info(request, f"A sync was already waiting, so your request joined run "
                               f"#{run.pk} ({merged} merged into it). Nothing runs twice.")
    elif holder is not None and holder.run_id and holder.run_id != run.pk:
        messages.info(request, f"Run #{holder.run_id} is running; run #{run.pk} starts as "
                               "soon as it ends.")
    else:
        messages.success(request, f"Sync queued as run #{run.pk}.")
    return redirect("overview")


@require_POST
@staff_required
def full_audit(request: HttpRequest) -> HttpResponse:
    """A full sync that reads Clockify completely and reports drift the change feed missed;
    queued like Sync now (one run at a time, merged into a waiting one)."""
    _start(request)
    run = runs.request_sync(trigger=Trigger.MANUAL, mode=Mode.AUDIT,
                            triggered_by=_user_label(request))
    messages.success(request, f"Full audit queued as run #{run.pk}: its page lists any drift "
                              "the change feed missed.")
    return redirect("overview")


@require_POST
@staff_required
def start_syncing(request: HttpRequest) -> HttpResponse:
    """The last step of the first-run journey: run the first sync and turn the schedules on."""
    _start(request)
    run = runs.request_sync(trigger=Trigger.MANUAL, triggered_by=_user_label(request))
    messages.info(request, f"First sync queued as run #{run.pk}.")
    return redirect("overview")


@require_POST
@staff_required
def pause_syncing(request: HttpRequest) -> HttpResponse:
    if syncing.pause_syncing(_user_label(request)):
        messages.success(request, "Syncing paused: the schedules and webhooks write nothing "
                                  "until someone presses Start syncing or Sync now.")
    else:
        messages.info(request, "Syncing was already paused.")
    return redirect("settings-page")


@require_POST
@staff_required
def dry_run(request: HttpRequest) -> HttpResponse:
    run = runs.request_sync(trigger=Trigger.MANUAL, dry_run=True,
                            triggered_by=_user_label(request))
    messages.success(request, f"Dry run #{run.pk} queued: it plans the sync and writes "
                              "nothing. The plan appears below when it finishes.")
    return redirect("run-detail", run.pk)


@require_POST
@staff_required
def release_lock(request: HttpRequest) -> HttpResponse:
    """Take the lock back from a provably dead holder (the dashboard's `sync --force`)."""
    holder, _ = runs.lock_state()
    reason = runs.reap_dead(check_process=True)
    if reason and holder is not None:
        messages.success(request, f"Released the sync lock of {holder.describe()}: {reason}. "
                                  "Its run is marked failed; the next sync can start.")
    elif holder is not None:
        messages.error(request, f"The sync lock is held by a live run, {holder.describe()}; "
                                "a live run's lock is never taken.")
    else:
        messages.info(request, "The sync lock is free.")
    return redirect("overview")


@never_cache
@require_GET
@staff_required
def run_progress(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(SyncRun.objects.defer("page_ids"), pk=run_id)
    return JsonResponse(overview.progress(run))

