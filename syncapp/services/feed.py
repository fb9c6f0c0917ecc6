"""Whether a full run may read Clockify through the change feed, and from when (ORM side).

The feed is asked from the last complete state of Clockify (a run that read every kind and
stored what it saw) minus CLOCKIFY_FEED_OVERLAP_SECONDS. No such state, one older than
CLOCKIFY_FEED_HORIZON_HOURS, or the feed turned off: the run reads Clockify completely and
says why.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from syncapp.clients.errors import ApiError, UnexpectedShape
from syncapp.models import EntityMapping, SyncRun
from syncapp.services.clockify_reads import Mapped

COMPLETE = "Clockify was read completely"


def last_complete_state() -> datetime | None:
    return (SyncRun.objects.filter(dry_run=False, clockify_state_at__isnull=False)
            .order_by("-clockify_state_at").values_list("clockify_state_at", flat=True).first())


def overlap() -> timedelta:
    return timedelta(seconds=settings.CLOCKIFY_FEED_OVERLAP_SECONDS)


def window(now: datetime) -> tuple[datetime, datetime] | str:
    """The feed's (start, end) for a run starting `now`, or why the feed is not asked."""
    if not settings.CLOCKIFY_CHANGE_FEED:
        return f"The change feed is turned off (CLOCKIFY_CHANGE_FEED=false): {COMPLETE}."
    since = last_complete_state()
    if since is None:
        return f"No earlier complete state of Clockify to ask the change feed from: {COMPLETE}."
    horizon = timedelta(hours=settings.CLOCKIFY_FEED_HORIZON_HOURS)
    if now - since > horizon:
        return (f"The last complete state of Clockify ({since:%Y-%m-%d %H:%M} UTC) is older "
                f"than CLOCKIFY_FEED_HORIZON_HOURS ({settings.CLOCKIFY_FEED_HORIZON_HOURS} h), "
                f"so the change feed is not trusted that far back: {COMPLETE}.")
    return since - overlap(), now + overlap()


def failure_note(exc: ApiError) -> str:
    if isinstance(exc, UnexpectedShape):
        why = f"answered a shape we cannot read ({exc})"
    elif exc.status == 404:
        why = f"is not offered by this Clockify ({exc})"
    else:
        why = f"failed ({exc})"
    return f"The change feed {why}: {COMPLETE}."


def mapped_entities(kind_names: list[str]) -> dict[str, dict[str, Mapped]]:
    """Each mapped entity's stored Clockify state and parent, as plain data for the reader."""
    mapped: dict[str, dict[str, Mapped]] = {}
    for kind in kind_names:
        rows = EntityMapping.objects.filter(kind=kind, clockify_id__isnull=False).values_list(
            "clockify_id", "clockify_state", "parent__clockify_id", "last_synced_at")
        mapped[kind] = {cid: Mapped(state or {}, parent, synced)
                        for cid, state, parent, synced in rows}
    return mapped
