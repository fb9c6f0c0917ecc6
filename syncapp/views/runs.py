"""Run history and run detail: every change record, filterable, searchable, paginated."""

from __future__ import annotations

import re
from datetime import timedelta

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from syncapp.models import Action, ChangeRecord, Kind, Outcome, RunStatus, SyncRun, Trigger
from syncapp.services import overview, undo
from syncapp.views import keyset
from syncapp.views.access import staff_required
from syncapp.views.links import clockify_url, notion_url
from syncapp.views.overview import run_row

PAGE_SIZE = 50
RUN_ORDER = ("-started_at", "-id")  # served by the index syncrun_newest_first
RECORD_ORDER = ("id",)  # within a run: the index changerecord_run_pages (run, id)
HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
SIDE = {"clockify": "Clockify", "notion": "Notion"}


def choice(request: HttpRequest, name: str, choices) -> str:
    """A GET filter, kept only when it is one of the model's choices."""
    value = request.GET.get(name, "")
    return value if value in {c for c, _ in choices} else ""


def id_variants(text: str) -> set[str]:
    """A Notion ID as typed, and with or without its dashes."""
    compact = text.replace("-", "")
    variants = {text, compact}
    if HEX32.match(compact):
        variants.add(f"{compact[:8]}-{compact[8:12]}-{compact[12:16]}-{compact[16:20]}-"
                     f"{compact[20:]}")
    return variants


def search(queryset: QuerySet, text: str, *fields: str) -> QuerySet:
    text = text.strip()
    if not text:
        return queryset
    condition = Q(name__icontains=text)
    for variant in id_variants(text):
        for field in fields:
            condition |= Q(**{field: variant})
    return queryset.filter(condition)


def page_of(request: HttpRequest, queryset: QuerySet):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    for name in ("page", "after", "before"):
        params.pop(name, None)
    return params.urlencode()


@require_GET
@staff_required
def run_list(request: HttpRequest) -> HttpResponse:
    status = choice(request, "status", RunStatus.choices)
    trigger = choice(request, "trigger", Trigger.choices)
    show_idle = request.GET.get("idle") == "1"
    runs = SyncRun.objects.all()
    if status:
        runs = runs.filter(status=status)
    if trigger:
        runs = runs.filter(trigger=trigger)
    if not show_idle:
        runs = overview.meaningful_runs(runs)
    page = keyset.page(request, runs, RUN_ORDER, PAGE_SIZE)
    today = timezone.localdate()
    return render(request, "syncapp/run_list.html", {
        "page": page, "rows": [run_row(run) for run in page.object_list],
        "status": status, "trigger": trigger, "show_idle": show_idle,
        "statuses": RunStatus.choices, "triggers": Trigger.choices,
        "query": query_without_page(request),
        "export_start": (today - timedelta(days=30)).isoformat(),
        "export_end": today.isoformat(),
    })


def field_rows(record: ChangeRecord) -> list[dict]:
    """Before/after per field (and both sides of a conflict) for the template."""
    rows = []
    for name, entry in (record.fields or {}).items():
        if name == "conflicts" and isinstance(entry, dict):
            for field, sides in entry.items():
                sides = sides if isinstance(sides, dict) else {}
                rows.append({"field": field, "conflict": True,
                             "baseline": sides.get("baseline"), "notion": sides.get("notion"),
                             "clockify": sides.get("clockify")})
            continue
        if isinstance(entry, dict) and ("before" in entry or "after" in entry):
            rows.append({"field": name, "before": entry.get("before"),
                         "after": entry.get("after"),
                         "side": SIDE.get(entry.get("side", ""), entry.get("side", "")),
                         "note": entry.get("note", "")})
        else:
            rows.append({"field": name, "after": entry})
    return rows


def undo_context(run: SyncRun) -> dict:
    """The undo links of a run page: its undos, and why it cannot be undone ("" if it can)."""
    return {"undos": list(run.undos.order_by("id")), "refused": undo.why_not(run)}


@require_GET
@staff_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(SyncRun, pk=run_id)
    kind = choice(request, "kind", Kind.choices)
    action = choice(request, "action", Action.choices)
    outcome = choice(request, "outcome", Outcome.choices)
    text = request.GET.get("q", "")
    records = ChangeRecord.objects.filter(run=run).select_related("mapping__parent")
    if kind:
        records = records.filter(kind=kind)
    if action:
        records = records.filter(action=action)
    if outcome:
        records = records.filter(outcome=outcome)
    records = search(records, text, "notion_page_id", "clockify_id")
    page = keyset.page(request, records, RECORD_ORDER, PAGE_SIZE)
    items = []
    for record in page.object_list:
        parent = record.mapping.parent if record.mapping else None
        items.append({
            "record": record, "fields": field_rows(record),
            "notion_url": notion_url(record.notion_page_id),
            "clockify_url": clockify_url(record.kind, record.clockify_id,
                                         parent.clockify_id if parent else None),
        })
    return render(request, "syncapp/run_detail.html", {
        "run": run, "undo": undo_context(run), "progress_rows": overview.kind_progress(run),
        "totals": overview.totals(run), "api_calls": overview.api_call_totals(run),
        "active": run.status in overview.ACTIVE,
        "page": page, "items": items, "kind": kind, "action": action, "outcome": outcome,
        "q": text, "kinds": Kind.choices, "actions": Action.choices,
        "outcomes": Outcome.choices, "query": query_without_page(request),
    })
