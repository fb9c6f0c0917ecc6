"""Sandbox record pages: a Notion page or a Clockify entity as the emulator's API returns it,
editable the way a person edits it in Notion or Clockify.

In the sandbox the "open in Notion / Clockify" links (views/links.py) lead here, so a demo can
rename a record, close it, trash it and watch the next sync carry that over. The pages read
and write through the product's own API clients, so they work against the demo's served
emulators and against the tests' in-process ones alike. They exist only when SANDBOX is on:
urls.py wires them only then, and each view checks again.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from syncapp.clients.errors import ApiError, NotFound, ValidationFailed
from syncapp.clients.notion import NotionClient
from syncapp.clients.notion_values import is_trashed, read_property, title_property, write_value
from syncapp.engine import kinds
from syncapp.models import EntityMapping
from syncapp.services import connections
from syncapp.views.access import staff_required
from syncapp.views.links import clockify_url, notion_url

# A person is waiting: one quick retry, then say what went wrong.
CLIENT_OPTIONS = {"max_retries": 1, "timeout": 10}
EDITABLE_TYPES = ("title", "status", "select", "checkbox")
TASK_STATUSES = ("ACTIVE", "DONE")


def _sandbox_only(view):
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not settings.SANDBOX:
            raise Http404("Record pages exist only in the sandbox.")
        return view(request, *args, **kwargs)

    return wrapped


def _unavailable(request: HttpRequest, service: str, what: str, error: ApiError) -> HttpResponse:
    """The page when the record cannot be read: unknown id, or the emulator does not answer."""
    if isinstance(error, NotFound | ValidationFailed):
        status, text = 404, f"{service} has no {what}: {error.message}"
    else:
        status = 502
        text = (f"{service} did not answer ({error}). Is the sandbox running? "
                f"`make demo` serves it at {settings.SANDBOX_URL}.")
    return render(request, "syncapp/sandbox_record.html",
                  {"service": service, "what": what, "problem": text}, status=status)


def _edited(request: HttpRequest, service: str, done: str, edit) -> HttpResponseRedirect:
    """Run one edit; say what happened either way, and come back to the record."""
    try:
        edit()
    except ApiError as error:
        messages.error(request, f"{service} refused the change: {error}")
    else:
        messages.success(request, done)
    return HttpResponseRedirect(request.get_full_path())


# -- Notion ----------------------------------------------------------------------------------

@staff_required
@_sandbox_only
@require_http_methods(["GET", "POST"])
def notion_record(request: HttpRequest, page_id: str) -> HttpResponse:
    client = connections.notion_client(**CLIENT_OPTIONS)
    try:
        page = client.retrieve_page(page_id)
        schema = _notion_schema(client, page)
    except ApiError as error:
        return _unavailable(request, "Notion", f"page {page_id}", error)
    if request.method == "POST":
        return _notion_edit(request, client, page, schema)
    properties = page.get("properties", {})
    title = title_property(properties)
    rows = [{"name": name, "type": prop.get("type"), "value": _shown(read_property(prop)),
             "raw": json.dumps(prop, indent=2, ensure_ascii=False),
             "editable": prop.get("type") in EDITABLE_TYPES,
             "options": schema.get(name, {}).get("options", [])}
            for name, prop in properties.items()]
    mapping = EntityMapping.objects.filter(notion_page_id=page["id"]).first()
    return render(request, "syncapp/sandbox_record.html", {
        "service": "Notion", "what": "page", "record_id": page["id"],
        "name": read_property(properties[title]) if title else "",
        "title_property": title, "rows": rows, "trashed": is_trashed(page),
        "meta": {key: page.get(key) for key in ("created_time", "last_edited_time", "parent")},
        "mapping": mapping,
        "other_url": clockify_url(mapping.kind, mapping.clockify_id, _parent_id(mapping))
        if mapping else "",
    })


def _notion_schema(client: NotionClient, page: dict) -> dict[str, dict]:
    """Property name → {"type", "options"} of the page's data source (or legacy database)."""
    parent = page.get("parent") or {}
    if parent.get("data_source_id"):
        properties = client.retrieve_data_source(parent["data_source_id"]).get("properties", {})
    elif parent.get("database_id"):
        properties = client.retrieve_database(parent["database_id"]).get("properties", {})
    else:
        properties = {}
    schema = {}
    for name, prop in properties.items():
        kind = prop.get("type")
        options = (prop.get(kind) or {}).get("options", []) if kind in ("status", "select") else []
        schema[name] = {"type": kind, "options": [option["name"] for option in options]}
    return schema


def _notion_edit(request: HttpRequest, client: NotionClient, page: dict,
                 schema: dict[str, dict]) -> HttpResponse:
    page_id, action = page["id"], request.POST.get("action", "")
    if action in ("trash", "restore"):
        trash = action == "trash"
        return _edited(request, "Notion", "Moved to the trash." if trash else "Restored.",
                       lambda: client.set_in_trash(page_id, trash))
    if action != "set":
        messages.error(request, "Unknown action.")
        return HttpResponseRedirect(request.get_full_path())
    name = request.POST.get("property", "")
    prop = page.get("properties", {}).get(name)
    kind = prop.get("type") if prop else None
    if kind not in EDITABLE_TYPES:
        messages.error(request, f"The page has no editable property “{name}”.")
        return HttpResponseRedirect(request.get_full_path())
    value: Any = request.POST.get("value", "")
    if kind == "title":
        value = value.strip()
        if not value:
            messages.error(request, "A name cannot be empty; nothing was changed.")
            return HttpResponseRedirect(request.get_full_path())
    elif kind == "checkbox":
        value = value == "true"
    elif value and value not in schema.get(name, {}).get("options", [value]):
        messages.error(request, f"“{value}” is not an option of {name}; nothing was changed.")
        return HttpResponseRedirect(request.get_full_path())
    properties = {name: write_value(kind, value or None)}
    return _edited(request, "Notion", f"{name} is now “{_shown(value)}”.",
                   lambda: client.update_page(page_id, properties))


# -- Clockify --------------------------------------------------------------------------------

@staff_required
@_sandbox_only
@require_http_methods(["GET", "POST"])
def clockify_record(request: HttpRequest, kind: str, clockify_id: str) -> HttpResponse:
    client = connections.clockify_client(**CLIENT_OPTIONS)
    mapping = EntityMapping.objects.filter(kind=kind, clockify_id=clockify_id) \
        .select_related("parent").first()
    spec = kinds.find(kind)
    if spec is None:
        raise Http404("No such kind of Clockify record.")
    project_id = request.GET.get("project") or _parent_id(mapping)
    if spec.under_parent and not project_id:
        return render(request, "syncapp/sandbox_record.html", {
            "service": "Clockify", "what": kind,
            "problem": f"Which {spec.parent} is {kind} {clockify_id} in? Clockify finds a "
                       f"{kind} only through its {spec.parent}: open it from a run or the "
                       "mappings page."},
            status=404)
    try:
        entity = spec.get(client, clockify_id, project_id)
    except ApiError as error:
        return _unavailable(request, "Clockify", f"{kind} {clockify_id}", error)
    if request.method == "POST":
        return _clockify_edit(request, client, kind, entity)
    rows = [{"name": key, "value": _shown(value),
             "raw": json.dumps(value, indent=2, ensure_ascii=False)}
            for key, value in entity.items()]
    return render(request, "syncapp/sandbox_record.html", {
        "service": "Clockify", "what": kind, "record_id": entity["id"], "kind": kind,
        "name": entity.get("name", ""), "rows": rows, "entity": entity,
        "archived": bool(entity.get("archived")), "task_status": entity.get("status"),
        "task_statuses": TASK_STATUSES, "mapping": mapping,
        "has_estimate": spec.field("estimate") is not None,
        "estimate": spec.from_clockify(entity)[0].get("estimate"),
        "other_url": notion_url(mapping.notion_page_id) if mapping else "",
    })


def _clockify_edit(request: HttpRequest, client, kind: str, entity: dict) -> HttpResponse:
    spec = kinds.get(kind)
    action = request.POST.get("action", "")
    if action == "rename":
        name = request.POST.get("name", "").strip()
        if not name:
            messages.error(request, "A name cannot be empty; nothing was changed.")
            return HttpResponseRedirect(request.get_full_path())
        changes, done = {"name": name}, f"Renamed to “{name}”."
    elif action in ("archive", "unarchive") and "archived" in spec.closed_body(True):
        archived = action == "archive"
        changes, done = {"archived": archived}, "Archived." if archived else "Unarchived."
    elif action == "status" and "status" in spec.closed_body(True) \
            and request.POST.get("status") in TASK_STATUSES:
        status = request.POST["status"]
        changes, done = {"status": status}, f"Status is now {status}."
    elif action == "estimate" and spec.field("estimate") is not None:
        try:  # empty: no estimate (a project's is turned off, a task's is PT0S)
            hours = float(request.POST.get("hours") or 0)
        except ValueError:
            hours = -1.0
        if not 0 <= hours < 1_000_000:
            messages.error(request, "Give the estimate as a number of hours; nothing was "
                                    "changed.")
            return HttpResponseRedirect(request.get_full_path())
        changes = spec.to_clockify({"estimate": hours or None}, None)
        done = f"Estimate set to {hours:g} h." if hours else "Estimate removed."
    else:
        messages.error(request, "Unknown action for this record; nothing was changed.")
        return HttpResponseRedirect(request.get_full_path())
    _, parent_id = spec.from_clockify(entity)
    return _edited(request, "Clockify", done, lambda: spec.update(
        client, entity["id"], changes, parent_id, current=entity))


# -- helpers ---------------------------------------------------------------------------------

def _parent_id(mapping: EntityMapping | None) -> str | None:
    """A task's project in Clockify, from its mapping (tasks are found through projects)."""
    if mapping and kinds.get(mapping.kind).under_parent and mapping.parent:
        return mapping.parent.clockify_id
    return None


def _shown(value: Any) -> str:
    """A property's value in plain words."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
