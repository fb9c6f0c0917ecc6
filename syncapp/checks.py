"""System checks for the sync configuration (`manage.py check`, `check --deploy`)."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from syncapp.clients.formats import compact_id
from syncapp.engine import kinds

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Compared or sent exactly as set (never stripped): whitespace around one is a mistake.
SECRET_SETTINGS = (
    "SECRET_KEY", "NOTION_TOKEN", "CLOCKIFY_API_KEY", "CLOCKIFY_WEBHOOK_TOKENS",
    "NOTION_TRIGGER_TOKENS", "NOTION_WEBHOOK_SECRET", "SALESFORCE_ACCESS_TOKEN",
    "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET", "METRICS_TOKENS",
)


def _missing(name: str, check_id: str, hint: str) -> Error:
    return Error(f"{name} is not set.", hint=hint, id=check_id)


@register("syncapp")
def check_notion(app_configs=None, **kwargs) -> list:
    errors = []
    if not settings.NOTION_TOKEN:
        errors.append(_missing(
            "NOTION_TOKEN", "syncapp.E001",
            "Create an internal integration at notion.so/profile/integrations, share the "
            "three databases with it, and set its secret, or set SANDBOX=true for the demo.",
        ))
    ids = []
    for name in kinds.database_settings():
        value = getattr(settings, name)
        if not value:
            errors.append(_missing(
                name, "syncapp.E002",
                "Copy the database ID from the database's URL (the 32 hex characters).",
            ))
        elif not UUID_RE.match(value):
            errors.append(Error(f"{name} is not a Notion ID (32 hex characters, dashes optional).",
                                id="syncapp.E003"))
        else:
            ids.append(compact_id(value))
    if len(ids) != len(set(ids)):
        errors.append(Error(
            "Two of the Notion database settings name the same database.",
            hint="Clients, projects and tasks must each be a database of their own.",
            id="syncapp.E004",
        ))
    if not VERSION_RE.match(settings.NOTION_VERSION):
        errors.append(Error("NOTION_VERSION must look like 2025-09-03.", id="syncapp.E005"))
    return errors


@register("syncapp")
def check_clockify(app_configs=None, **kwargs) -> list:
    errors = []
    if not settings.CLOCKIFY_API_KEY:
        errors.append(_missing(
            "CLOCKIFY_API_KEY", "syncapp.E006",
            "Create a key in Clockify: Profile settings → Advanced → Manage API keys.",
        ))
    if not settings.CLOCKIFY_WORKSPACE_ID:
        errors.append(_missing(
            "CLOCKIFY_WORKSPACE_ID", "syncapp.E007",
            "Find it in the workspace settings URL, or GET /v1/workspaces with your key.",
        ))
    return errors


@register("syncapp")
def check_task_queue(app_configs=None, **kwargs) -> list:
    cluster = settings.Q_CLUSTER
    if cluster.get("retry", 0) <= cluster.get("timeout", 0):
        return [Error(
            "Q_CLUSTER retry must exceed timeout, or a long sync is handed to a second worker.",
            id="syncapp.E008",
        )]
    return []


@register("syncapp")
def check_salesforce(app_configs=None, **kwargs) -> list:
    if not settings.SALESFORCE_INSTANCE_URL:
        return []
    has_token = bool(settings.SALESFORCE_ACCESS_TOKEN)
    has_client = bool(settings.SALESFORCE_CLIENT_ID and settings.SALESFORCE_CLIENT_SECRET)
    if has_token or has_client:
        return []
    return [Error(
        "SALESFORCE_INSTANCE_URL is set but no credentials are.",
        hint="Set SALESFORCE_ACCESS_TOKEN, or SALESFORCE_CLIENT_ID and "
             "SALESFORCE_CLIENT_SECRET (OAuth client credentials), or unset the URL.",
        id="syncapp.E009",
    )]


@register("syncapp")
def check_secret_whitespace(app_configs=None, **kwargs) -> list:
    warnings = []
    for name in SECRET_SETTINGS:
        value = getattr(settings, name, "")
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, str) and v != v.strip() for v in values):
            # Never the value itself: only where the whitespace is.
            warnings.append(Warning(
                f"{name} has whitespace before or after it (or around a comma-separated item).",
                hint="Secrets are used exactly as set, so the sender's value will not match. "
                     "Remove the whitespace (a file given by NAME_FILE may end in one newline).",
                id="syncapp.W004",
            ))
    return warnings


@register(Tags.security, deploy=True)
def check_production(app_configs=None, **kwargs) -> list:
    warnings = []
    if settings.SANDBOX:
        warnings.append(Warning(
            "SANDBOX is on: the dashboard talks to the built-in emulators, "
            "not Notion and Clockify.",
            hint="Unset SANDBOX and set the NOTION_* and CLOCKIFY_* variables.",
            id="syncapp.W001",
        ))
    for name in ("NOTION_API_URL", "CLOCKIFY_API_URL", "SALESFORCE_INSTANCE_URL"):
        url = getattr(settings, name)
        if not settings.SANDBOX and url and not url.startswith("https://"):
            warnings.append(Warning(f"{name} is not HTTPS: tokens would travel in clear.",
                                    id="syncapp.W002"))
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        warnings.append(Warning(
            "SQLite is meant for the demo; use PostgreSQL (DATABASE_URL) with several workers.",
            id="syncapp.W003",
        ))
    return warnings
