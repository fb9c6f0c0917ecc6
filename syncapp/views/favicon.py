"""The dashboard's icon, at /favicon.ico where browsers look for it even on pages that do not
link one (the admin, JSON): no 404 in the logs, and no static file server needed."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

ICON = Path(__file__).resolve().parent.parent / "static" / "syncapp" / "favicon.svg"


@cache
def _icon() -> bytes:
    return ICON.read_bytes()


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_icon(), content_type="image/svg+xml")
