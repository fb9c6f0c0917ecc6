"""The mapping browser: every mapped entity with its parent, state and last sync."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from syncapp.models import EntityMapping, Kind, MappingState
from syncapp.services import overview
from syncapp.views.access import staff_required
from syncapp.views.links import clockify_url, notion_url
from syncapp.views.runs import choice, page_of, query_without_page, search


@require_GET
@staff_required
def mapping_list(request: HttpRequest) -> HttpResponse:
    kind = choice(request, "kind", Kind.choices)
    state = choice(request, "state", MappingState.choices)
    text = request.GET.get("q", "")
    mappings = EntityMapping.objects.select_related("parent").defer(
        "baseline", "parent__baseline")
    if kind:
        mappings = mappings.filter(kind=kind)
    if state:
        mappings = mappings.filter(state=state)
    mappings = search(mappings, text, "notion_page_id", "clockify_id")
    page = page_of(request, mappings.order_by("kind", "name", "id"))
    items = []
    for mapping in page.object_list:
        parent = mapping.parent
        items.append({
            "mapping": mapping,
            "notion_url": notion_url(mapping.notion_page_id),
            "clockify_url": clockify_url(mapping.kind, mapping.clockify_id,
                                         parent.clockify_id if parent else None),
        })
    return render(request, "syncapp/mapping_list.html", {
        "page": page, "items": items, "kind": kind, "state": state, "q": text,
        "kinds": Kind.choices, "states": MappingState.choices,
        "mapped": overview.mapped_counts(), "query": query_without_page(request),
    })
