"""The effective configuration (secrets masked), the field mapping, and the check button."""

from __future__ import annotations

from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from syncapp.engine import kinds
from syncapp.models import (
    DEFAULT_CLOSED_VALUES,
    KIND_ORDER,
    DatabaseMapping,
    Kind,
    default_properties,
)
from syncapp.services import config_check, syncing
from syncapp.views.access import staff_required

DAILY_SCHEDULE = "Daily full sync"


def masked(value: str) -> str:
    """Only that a secret is set, and for a long one its last four characters."""
    if not value:
        return "not set"
    return f"set (ends in …{value[-4:]})" if len(value) >= 20 else "set"


def origin(url: str) -> str:
    """scheme://host:port of a URL: no credentials, path or query (they may hold secrets)."""
    parsed = urlparse(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.hostname or ''}{port}"


def host_only(url: str) -> str:
    return f"set ({origin(url)})" if url else "not set"


def configuration() -> list[tuple[str, list[tuple[str, str]]]]:
    db = settings.DATABASES["default"]
    engine = db["ENGINE"].rsplit(".", 1)[-1]
    database = db.get("NAME", "") if engine == "sqlite3" else \
        f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or ''}/{db.get('NAME', '')}"
    redis = settings.REDIS_URL
    broker = f"Redis ({origin(redis)})" if redis else "the database (ORM broker)"
    email_host = getattr(settings, "EMAIL_HOST", "")
    email_port = getattr(settings, "EMAIL_PORT", "")
    return [
        ("Notion", [
            ("NOTION_TOKEN", masked(settings.NOTION_TOKEN)),
            ("NOTION_API_URL", settings.NOTION_API_URL),
            ("NOTION_VERSION", settings.NOTION_VERSION),
            *((spec.setting, spec.database_id(settings) or "not set") for spec in kinds.KINDS),
            ("NOTION_REQUESTS_PER_SECOND", f"{settings.NOTION_REQUESTS_PER_SECOND:g}"),
        ]),
        ("Clockify", [
            ("CLOCKIFY_API_KEY", masked(settings.CLOCKIFY_API_KEY)),
            ("CLOCKIFY_API_URL", settings.CLOCKIFY_API_URL),
            ("CLOCKIFY_WORKSPACE_ID", settings.CLOCKIFY_WORKSPACE_ID or "not set"),
            ("CLOCKIFY_REQUESTS_PER_SECOND", f"{settings.CLOCKIFY_REQUESTS_PER_SECOND:g}"),
            ("CLOCKIFY_CHANGE_FEED", "on: full syncs read what the change feed names"
             if settings.CLOCKIFY_CHANGE_FEED else "off: full syncs read Clockify completely"),
            ("CLOCKIFY_FEED_OVERLAP_SECONDS", f"{settings.CLOCKIFY_FEED_OVERLAP_SECONDS} s"),
            ("CLOCKIFY_FEED_HORIZON_HOURS", f"{settings.CLOCKIFY_FEED_HORIZON_HOURS} h"),
            ("CLOCKIFY_REQUESTS_PER_HOUR", str(settings.CLOCKIFY_REQUESTS_PER_HOUR or
                                               "no hourly budget")),
        ]),
        ("Sync and task queue", [
            ("SANDBOX", "on: the built-in emulators" if settings.SANDBOX else "off"),
            ("HTTP_TIMEOUT", f"{settings.HTTP_TIMEOUT:g} s"),
            ("HTTP_MAX_RETRIES", str(settings.HTTP_MAX_RETRIES)),
            ("SYNC_TASK_TIMEOUT", f"{settings.SYNC_TASK_TIMEOUT} s"),
            ("SYNC_HEARTBEAT_SECONDS", f"{settings.SYNC_HEARTBEAT_SECONDS:g} s"),
            ("SYNC_DEAD_AFTER_SECONDS", f"{settings.SYNC_DEAD_AFTER_SECONDS:g} s"),
            ("Q_WORKERS", str(settings.Q_CLUSTER.get("workers"))),
            ("Task queue broker", broker),
            ("Database", f"{engine} {database}"),
            ("TIME_ZONE", settings.TIME_ZONE),
            ("DAILY_SYNC_TIME", settings.DAILY_SYNC_TIME),
        ]),
        ("Dashboard and notifications", [
            ("DASHBOARD_URL", settings.DASHBOARD_URL or "not set (links are relative)"),
            ("HEALTH_MAX_AGE_HOURS", f"{settings.HEALTH_MAX_AGE_HOURS:g} h"),
            ("CONFIG_CHECK_TIMEOUT", f"{settings.CONFIG_CHECK_TIMEOUT:g} s"),
            ("CONFIG_CHECK_CACHE_SECONDS", f"{settings.CONFIG_CHECK_CACHE_SECONDS} s"),
            ("NOTIFY_EMAILS", ", ".join(settings.NOTIFY_EMAILS) or "not set"),
            ("NOTIFY_WEBHOOK_URL", host_only(settings.NOTIFY_WEBHOOK_URL)),
            ("E-mail", f"{settings.EMAIL_BACKEND.rsplit('.', 2)[-2]} "
                       f"{email_host}{':' if email_host else ''}{email_port if email_host else ''}"
                       f"{' (login set)' if getattr(settings, 'EMAIL_HOST_USER', '') else ''}"),
            ("DEFAULT_FROM_EMAIL", settings.DEFAULT_FROM_EMAIL),
        ]),
    ]


def field_mapping() -> list[dict]:
    saved = {m.kind: m for m in DatabaseMapping.objects.all()}
    rows = []
    for kind in KIND_ORDER:
        mapping = saved.get(kind)
        rows.append({
            "kind": kind, "label": Kind(kind).label, "saved": mapping is not None,
            "pk": mapping.pk if mapping else None,
            "properties": sorted((mapping.properties if mapping else default_properties(kind))
                                 .items()),
            "closed_values": mapping.closed_values if mapping else DEFAULT_CLOSED_VALUES[kind],
            "sync_filter": mapping.filter_rule if mapping else None,
        })
    return rows


def schedule_notes(schedules) -> list[str]:
    notes = []
    zone = ZoneInfo(settings.TIME_ZONE)
    for schedule in schedules:
        if schedule.name == DAILY_SCHEDULE and schedule.next_run:
            at = schedule.next_run.astimezone(zone).strftime("%H:%M")
            wanted = "{:02d}:{:02d}".format(*(int(p) for p in settings.DAILY_SYNC_TIME.split(":")))
            if at != wanted:
                notes.append(f"The daily full sync runs at {at}, while DAILY_SYNC_TIME says "
                             f"{wanted}: the setting only applies when the schedule is first "
                             "created. Edit the schedule in the admin to move it.")
    return notes


def _render(request: HttpRequest, check, status: int = 200) -> HttpResponse:
    from django_q.models import Schedule

    schedules = list(Schedule.objects.order_by("next_run", "id"))
    return render(request, "syncapp/settings.html", {
        "configuration": configuration(), "mappings": field_mapping(), "check": check,
        "schedules": schedules, "schedule_notes": schedule_notes(schedules),
        "syncing": syncing.state(),
    }, status=status)


@require_GET
@staff_required
def settings_page(request: HttpRequest) -> HttpResponse:
    return _render(request, config_check.cached())


@require_POST
@staff_required
def check_configuration(request: HttpRequest) -> HttpResponse:
    """Read the databases' schemas now; the result also feeds the overview (cached)."""
    return _render(request, config_check.full_check())
