"""Undo a run: the plan to confirm (like a dry run), then the undo as a new linked run."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from syncapp.engine import kinds
from syncapp.models import EntityMapping, SyncRun
from syncapp.services import undo
from syncapp.views.access import staff_required
from syncapp.views.links import clockify_url, notion_url


def _parent_names(inverses: list[undo.Inverse]) -> dict[str, str]:
    """Notion page id → name, for parents shown in the plan (values are page ids)."""
    pages = {u.after for i in inverses for n, u in i.fields.items() if n == "parent"} | \
        {u.target for i in inverses for n, u in i.fields.items() if n == "parent"}
    pages.discard(None)
    return dict(EntityMapping.objects.filter(notion_page_id__in=pages)
                .values_list("notion_page_id", "name"))


def _shown(name: str, value, parents: dict[str, str]):
    if name == "parent" and value:
        return parents.get(value, value)
    if name == "closed":
        return "closed" if value else "open"
    return value


def _rows(inverse: undo.Inverse, parents: dict[str, str]) -> list[dict]:
    return [{"field": name, "after": _shown(name, u.after, parents),
             "target": _shown(name, u.target, parents) if u.write else None,
             "write": u.write}
            for name, u in inverse.fields.items()]


def plan_items(run: SyncRun) -> list[dict]:
    inverses = undo.plan(run)
    parents = _parent_names(inverses)
    return [{"inverse": i, "kind_label": kinds.get(i.kind).label, "what": i.what,
             "rows": _rows(i, parents), "notion_url": notion_url(i.page_id),
             "clockify_url": clockify_url(i.kind, i.clockify_id)}
            for i in inverses]


@require_http_methods(["GET", "POST"])
@staff_required
def undo_plan(request: HttpRequest, run_id: int) -> HttpResponse:
    """"Undo this run": what the undo would write, to confirm. Writes nothing."""
    run = get_object_or_404(SyncRun, pk=run_id)
    refused = undo.why_not(run)
    items = [] if refused else plan_items(run)
    refused = refused or ("" if items else undo.NOTHING_TO_UNDO)
    return render(request, "syncapp/undo_plan.html", {
        "run": run, "refused": refused, "items": items,
        "by_hand": sum(1 for i in items if i["inverse"].by_hand),
    }, status=409 if refused else 200)


@require_POST
@staff_required
def undo_confirm(request: HttpRequest, run_id: int) -> HttpResponse:
    """Queue the undo as a new run linked to this one, and follow it on its page."""
    run = get_object_or_404(SyncRun, pk=run_id)
    try:
        new = undo.request_undo(run, f"{request.user.get_username()} (dashboard)")
    except undo.NotUndoable as exc:
        messages.warning(request, str(exc))
        return redirect("run-detail", run.pk)
    messages.success(request, f"Undo of run #{run.pk} queued as run #{new.pk}.")
    return redirect("run-detail", new.pk)
