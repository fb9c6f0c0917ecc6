"""The mapping editor page: pick, per Clockify field, a Notion property of a fitting type.

GET shows the saved mapping against the live schema and a preview of real pages. POST
(staff, CSRF) either previews the choices or saves them; a proposal with problems is refused
whole, each problem with its fix, and nothing is saved.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from syncapp.clients.errors import ApiError
from syncapp.engine import kinds
from syncapp.services import connections, mapping_editor
from syncapp.views.access import staff_required


@require_http_methods(["GET", "POST"])
@staff_required
def edit_mapping(request: HttpRequest, kind: str) -> HttpResponse:
    spec = kinds.find(kind)
    if spec is None:
        raise Http404("No such kind.")
    notion = connections.notion_client()
    try:
        schema = mapping_editor.read_schema(notion, kind)
    except ApiError as exc:
        return _page(request, kind, error=f"Could not read the {spec.database_label} database "
                                          f"from Notion: {exc}. Nothing can be chosen until it "
                                          "answers; Check configuration says why.", status=502)
    action = request.POST.get("action") if request.method == "POST" else None
    if action in {"preview", "save"}:
        proposal = mapping_editor.from_form(kind, request.POST, schema)
    else:
        proposal = mapping_editor.current(kind)
    problems = mapping_editor.check(notion, kind, schema, proposal)
    if action == "save" and not problems:
        problems = mapping_editor.save(kind, proposal, who=request.user.get_username())
        if not problems:
            messages.success(request, f"The {spec.database_label} mapping is saved; the next "
                                      "sync uses it.")
            return redirect("mapping-edit", kind=kind)
    status = 400 if action == "save" and problems else 200
    try:
        preview = mapping_editor.preview(notion, kind, proposal)
    except ApiError as exc:
        preview, preview_error = None, f"The preview could not read pages: {exc}"
    else:
        preview_error = ""
    return _page(request, kind, form=mapping_editor.editor(kind, schema, proposal, problems),
                 preview=preview, preview_error=preview_error, refused=action == "save"
                 and bool(problems), status=status)


def _page(request: HttpRequest, kind: str, *, status: int = 200, **context) -> HttpResponse:
    spec = kinds.get(kind)
    return render(request, "syncapp/mapping_editor.html", {
        "kind": kind, "spec": spec, "kinds": kinds.KINDS,
        "saved": mapping_editor.saved(kind), **context}, status=status)
