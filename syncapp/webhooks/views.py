"""The three webhook endpoints: machine-to-machine, so CSRF-exempt and POST only.

Thin on purpose: storing, verifying and processing live in store.py; what
each sender means lives in clockify.py and notion.py, found by name in sources.py.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from syncapp.webhooks import sources
from syncapp.webhooks.store import receive


@csrf_exempt
@require_POST
def clockify(request: HttpRequest) -> JsonResponse:
    return receive(request, sources.get("clockify"))


@csrf_exempt
@require_POST
def notion_trigger(request: HttpRequest) -> JsonResponse:
    return receive(request, sources.get("notion_trigger"))


@csrf_exempt
@require_POST
def notion_events(request: HttpRequest) -> JsonResponse:
    return receive(request, sources.get("notion_events"))
