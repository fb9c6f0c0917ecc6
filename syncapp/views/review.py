"""The review console: what waits for a decision, in plain words, and the buttons to decide.

Every decision is a POST with CSRF. With JavaScript the page sends it in the background and
polls the item's status until it settles; without, the POST redirects to the item's page.
Approvals are applied by the django-q2 task `apply_pending` (services/review_apply.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from syncapp.models import Decision, Kind, PendingChange, Reason, ReviewStatus, RunStatus, SyncRun
from syncapp.services import review, review_display
from syncapp.views.access import staff_required
from syncapp.views.links import clockify_url, notion_url

PER_PAGE = 25
DECIDE = "syncapp.change_pendingchange"  # the admin asks the same permission to decide


def _filters(request: HttpRequest) -> dict[str, str]:
    """Only known values: anything else is ignored, not an error page."""
    wanted = {"kind": Kind.values, "reason": Reason.values}
    chosen = {k: request.GET.get(k, "") for k in wanted if request.GET.get(k) in wanted[k]}
    run = request.GET.get("run", "")
    if run.isdigit():
        chosen["run"] = run
    return chosen


@require_GET
@staff_required
def review_list(request: HttpRequest) -> HttpResponse:
    chosen = _filters(request)
    pending = PendingChange.objects.filter(status=ReviewStatus.PENDING)
    if "kind" in chosen:
        pending = pending.filter(kind=chosen["kind"])
    if "reason" in chosen:
        pending = pending.filter(reason=chosen["reason"])
    if "run" in chosen:
        pending = pending.filter(run_id=chosen["run"])
    # One row per (run, reason): the group headers and the held runs' bulk buttons.
    groups = list(pending.order_by().values("run_id", "run__status", "run__started_at", "reason")
                  .annotate(n=Count("id"), first=Min("id"))
                  .order_by("-run__started_at", "-run_id", "reason"))
    for group in groups:
        group["reason_label"] = Reason(group["reason"]).label
        group["held"] = group["run__status"] == RunStatus.HELD
    page = Paginator(pending.select_related("run", "mapping")
                     .order_by("-run__started_at", "-run_id", "reason", "id"), PER_PAGE) \
        .get_page(request.GET.get("page"))
    items = review_display.describe_all(list(page.object_list))
    for item in items:
        item.group = f"{item.pending.run_id}-{item.pending.reason}"
    return render(request, "syncapp/review_list.html", {
        "groups": groups, "page": page, "items": items, "chosen": chosen,
        "total": page.paginator.count, "kinds": Kind.choices, "reasons": Reason.choices,
        "query": "&".join(f"{k}={v}" for k, v in chosen.items()),
        "can_decide": request.user.has_perm(DECIDE),
    })


@require_GET
@staff_required
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pending = get_object_or_404(PendingChange.objects.select_related("run", "mapping",
                                                                     "decided_by"), pk=pk)
    item = review_display.describe(pending)
    return render(request, "syncapp/review_detail.html", {
        "item": item, "can_decide": request.user.has_perm(DECIDE),
        "notion_link": notion_url(pending.notion_page_id),
        "clockify_link": clockify_url(pending.kind, pending.clockify_id)})


@never_cache
@require_GET
@staff_required
def review_status(request: HttpRequest, pk: int) -> JsonResponse:
    pending = get_object_or_404(PendingChange, pk=pk)
    return JsonResponse({**review_display.status_of(pending),
                         "pending_count": review.pending_count()})


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request: HttpRequest, fallback: str, *args) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback, *args)


@require_POST
@staff_required
def review_decide(request: HttpRequest, pk: int) -> HttpResponse:
    pending = get_object_or_404(PendingChange, pk=pk)
    decision = request.POST.get("decision", "")
    allowed = {c.decision for c in review_display.choices(pending)}
    code = 200
    if not request.user.has_perm(DECIDE):
        message, code = ("You may see the review queue but not decide (ask for the “Can "
                         "change review item” permission)."), 403
    elif decision not in allowed:
        message, code = "This decision does not apply to this item.", 409
    elif review.decide(pending.pk, request.user, decision):
        message = f"Decision recorded: {Decision(decision).label}."
        if decision != Decision.REJECT:
            message += " It is applied in the background; the item shows the result."
    else:
        message, code = "This item was already decided.", 409
    ok = code == 200
    if _wants_json(request):
        pending.refresh_from_db()
        return JsonResponse({**review_display.status_of(pending), "message": message,
                             "ok": ok, "pending_count": review.pending_count()},
                            status=code)
    (messages.success if ok else messages.warning)(request, message)
    return redirect("review-detail", pk)


@require_POST
@staff_required
def review_decide_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """A held run: approve all or reject all of its pending items; the hold is released."""
    run = get_object_or_404(SyncRun, pk=run_id)
    decision = request.POST.get("decision", "")
    problem = ""
    if not request.user.has_perm(DECIDE):
        problem = "You may see the review queue but not decide."
    elif decision not in (Decision.APPROVE, Decision.REJECT):
        problem = "Choose approve all or reject all."
    elif run.status != RunStatus.HELD:
        problem = f"Run #{run.pk} is not held: decide its items one by one."
    if problem:
        messages.error(request, problem)
        return _back(request, "review-list")
    decided = review.decide_run(run.pk, request.user, decision)
    run.refresh_from_db(fields=["status"])
    released = " The hold is released." if run.status != RunStatus.HELD else ""
    verb = "approved (applied in the background)" if decision == Decision.APPROVE \
        else "rejected"
    messages.success(request, f"Run #{run.pk}: {decided} item{'s' if decided != 1 else ''} "
                              f"{verb}.{released}")
    return _back(request, "review-list")
