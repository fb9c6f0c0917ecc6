"""Links to the records in Notion and Clockify: the one place that builds them.

Outside the sandbox they point to the real apps (Clockify's app URLs are approximate).
In the sandbox they point to the dashboard's own record pages (views/sandbox_records.py),
which show the record as the emulator's API returns it and let a person edit it there.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from syncapp.engine import kinds

NOTION_APP = "https://www.notion.so"
CLOCKIFY_APP = "https://app.clockify.me"


def notion_url(page_id: str | None) -> str:
    """Where a person opens a Notion page ("" when there is none)."""
    if not page_id:
        return ""
    if settings.SANDBOX:
        return _sandbox_page("sandbox-notion-record", page_id) or _notion_app(page_id)
    return _notion_app(page_id)


def _notion_app(page_id: str) -> str:
    return f"{NOTION_APP}/{page_id.replace('-', '')}"


def clockify_url(kind: str, clockify_id: str | None, project_id: str | None = None) -> str:
    """Where a person opens a Clockify client, project or task ("" when there is none).

    A task lives under its project; `project_id` says which (the sandbox page can also
    find it from the task's mapping when it is not given).
    """
    spec = kinds.find(kind)
    if not clockify_id or spec is None:
        return ""
    if settings.SANDBOX:
        url = _sandbox_page("sandbox-clockify-record", kind, clockify_id)
        if url and spec.under_parent and project_id:
            url += "?" + urlencode({"project": project_id})
        if url:
            return url
    return spec.app_url(CLOCKIFY_APP, clockify_id, project_id)


def _sandbox_page(name: str, *args: str) -> str:
    """The sandbox record page, or "" where urls.py did not wire it (SANDBOX off at start)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""
