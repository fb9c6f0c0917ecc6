"""Links to the records in Notion and Clockify (Clockify's app URLs are approximate)."""

from __future__ import annotations

NOTION_APP = "https://www.notion.so"
CLOCKIFY_APP = "https://app.clockify.me"


def notion_url(page_id: str | None) -> str:
    return f"{NOTION_APP}/{page_id.replace('-', '')}" if page_id else ""


def clockify_url(kind: str, clockify_id: str | None, project_id: str | None = None) -> str:
    if not clockify_id:
        return ""
    if kind == "project":
        return f"{CLOCKIFY_APP}/projects/{clockify_id}/edit"
    if kind == "task":
        # Tasks live on their project's page.
        return f"{CLOCKIFY_APP}/projects/{project_id}/edit#tasks" if project_id \
            else f"{CLOCKIFY_APP}/projects"
    return f"{CLOCKIFY_APP}/clients?search={clockify_id}"
