"""Build the API clients from settings: the one place that reads credentials."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.notion import NotionClient

# Extra client options for every client built here; tests inject a recording
# sleep so retries and throttling never really wait.
CLIENT_DEFAULTS: dict[str, Any] = {}


def notion_client(**overrides) -> NotionClient:
    options = {
        "base_url": settings.NOTION_API_URL,
        "version": settings.NOTION_VERSION,
        "timeout": settings.HTTP_TIMEOUT,
        "max_retries": settings.HTTP_MAX_RETRIES,
        "rate": settings.NOTION_REQUESTS_PER_SECOND,
    }
    options.update(CLIENT_DEFAULTS, **overrides)
    return NotionClient(settings.NOTION_TOKEN, **options)


def clockify_client(**overrides) -> ClockifyClient:
    options = {
        "base_url": settings.CLOCKIFY_API_URL,
        "timeout": settings.HTTP_TIMEOUT,
        "max_retries": settings.HTTP_MAX_RETRIES,
        "rate": settings.CLOCKIFY_REQUESTS_PER_SECOND,
    }
    options.update(CLIENT_DEFAULTS, **overrides)
    return ClockifyClient(settings.CLOCKIFY_API_KEY, settings.CLOCKIFY_WORKSPACE_ID, **options)
