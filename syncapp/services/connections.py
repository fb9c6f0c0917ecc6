"""Build the API clients from settings: the one place that reads credentials."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.http import ApiClient
from syncapp.clients.notion import NotionClient
from syncapp.clients.salesforce import SalesforceClient
from syncapp.services import budget

# Extra client options for every client built here; tests inject a recording
# sleep so retries and throttling never really wait.
CLIENT_DEFAULTS: dict[str, Any] = {}


def _build(cls: type[ApiClient], *args: Any, overrides: dict, **specific: Any) -> Any:
    options = {"timeout": settings.HTTP_TIMEOUT, "max_retries": settings.HTTP_MAX_RETRIES,
               **specific, **CLIENT_DEFAULTS, **overrides}
    return cls(*args, **options)


def notion_client(**overrides: Any) -> NotionClient:
    return _build(NotionClient, settings.NOTION_TOKEN, overrides=overrides,
                  base_url=settings.NOTION_API_URL, version=settings.NOTION_VERSION,
                  rate=settings.NOTION_REQUESTS_PER_SECOND)


def clockify_client(**overrides: Any) -> ClockifyClient:
    """Every Clockify caller (sync, review, time entries, checks) shares the hourly budget."""
    return _build(ClockifyClient, settings.CLOCKIFY_API_KEY, settings.CLOCKIFY_WORKSPACE_ID,
                  overrides=overrides, base_url=settings.CLOCKIFY_API_URL,
                  rate=settings.CLOCKIFY_REQUESTS_PER_SECOND, budget=budget.for_clockify())


def salesforce_client(**overrides: Any) -> SalesforceClient:
    return _build(SalesforceClient, settings.SALESFORCE_INSTANCE_URL, overrides=overrides,
                  access_token=settings.SALESFORCE_ACCESS_TOKEN,
                  client_id=settings.SALESFORCE_CLIENT_ID,
                  client_secret=settings.SALESFORCE_CLIENT_SECRET,
                  api_version=settings.SALESFORCE_API_VERSION)
