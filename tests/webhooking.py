"""Helpers for webhook tests: post signed deliveries, build Clockify and Notion bodies."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

from syncapp.clients.formats import utc_stamp
from syncapp.sandbox import ids
from syncapp.webhooks.verify import notion_signature

CLOCKIFY_URL = "/hooks/clockify/"
TRIGGER_URL = "/hooks/notion/trigger/"
EVENTS_URL = "/hooks/notion/events/"
CLOCKIFY_TOKEN = "clockify-webhook-token-0001"
TRIGGER_TOKEN = "notion-button-secret-0001"
NOTION_SECRET = "secret_notion-webhook-signing-key-0001"
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

_ids = itertools.count(1)


def raw(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def post_clockify(client, event: str, body, token: str | None = CLOCKIFY_TOKEN):
    headers = {"HTTP_CLOCKIFY_WEBHOOK_EVENT_TYPE": event}
    if token is not None:
        headers["HTTP_CLOCKIFY_SIGNATURE"] = token
    return client.post(CLOCKIFY_URL, data=raw(body), content_type="application/json", **headers)


def post_trigger(client, body, secret: str | None = TRIGGER_TOKEN):
    headers = {} if secret is None else {"HTTP_X_WEBHOOK_SECRET": secret}
    return client.post(TRIGGER_URL, data=raw(body), content_type="application/json", **headers)


def post_event(client, body, key: str | None = NOTION_SECRET, *, signature: str | None = None):
    data = raw(body)
    headers = {}
    if signature is not None:
        headers["HTTP_X_NOTION_SIGNATURE"] = signature
    elif key is not None:
        headers["HTTP_X_NOTION_SIGNATURE"] = notion_signature(data, key)
    return client.post(EVENTS_URL, data=data, content_type="application/json", **headers)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_stamp(moment)


def entry_body(entry_id: str | None = None, *, start: datetime = START,
               seconds: int | None = 3600, description: str = "Work", project_id: str = "",
               task_id: str = "", billable: bool = True, **extra) -> dict:
    """A flat, hydrated time entry as Clockify's webhooks send it (see clockify-samples)."""
    end = None if seconds is None else start + timedelta(seconds=seconds)
    return {
        "id": entry_id or f"66e0{next(_ids):020x}",
        "description": description, "userId": ids.CLOCKIFY_USER_ID, "billable": billable,
        "projectId": project_id or None, "taskId": task_id or None,
        "timeInterval": {"start": iso(start), "end": iso(end),
                         "duration": None if seconds is None else f"PT{seconds}S"},
        "workspaceId": ids.CLOCKIFY_WORKSPACE_ID, "isLocked": False, "type": "REGULAR",
        "tagIds": ["tag-1"], "tags": [{"id": "tag-1", "name": "deep work"}],
        "currentlyRunning": seconds is None,
        "user": {"id": ids.CLOCKIFY_USER_ID, "name": "Sandbox User", "status": "ACTIVE"},
        **extra,
    }


def page_event(page_id: str, event_type: str = "page.created", *, event_id: str | None = None,
               authors: list[dict] | None = None, data: dict | None = None) -> dict:
    """An integration webhook event about a page of the sandbox Tasks database."""
    return {
        "id": event_id or f"00000000-0000-4000-8000-{next(_ids):012x}",
        "timestamp": "2026-11-20T09:00:00.000Z", "workspace_id": "ws", "type": event_type,
        "authors": authors or [{"id": "c7c11cca-1d73-471d-9b6e-bdef51470190",
                                "type": "person"}],
        "attempt_number": 1, "entity": {"id": page_id, "type": "page"},
        "data": data or {"parent": {"id": ids.TASKS_DATABASE_ID, "type": "database",
                                    "data_source_id": ids.TASKS_DATA_SOURCE_ID}},
    }


def button_body(page_id: str, *, event_id: str | None = None) -> dict:
    """The automation / button "Send webhook" body (see automation.send_webhook.sample)."""
    return {
        "source": {"type": "automation", "automation_id": "auto-1", "action_id": "act-1",
                   "event_id": event_id or f"evt-{next(_ids)}", "attempt": 1},
        "data": {"object": "page", "id": page_id, "properties": {},
                 "parent": {"type": "database_id", "database_id": ids.TASKS_DATABASE_ID}},
    }
