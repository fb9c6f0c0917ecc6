"""Whether a full run may read Clockify through the change feed, and from when (ORM side).

The feed is asked from the last complete state of Clockify (a run that read every kind and
stored what it saw) minus CLOCKIFY_FEED_OVERLAP_SECONDS. No such state, one older than
CLOCKIFY_FEED_HORIZON_HOURS, or the feed turned off: the run reads Clockify completely and
says why.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import ApiError, UnexpectedShape
from syncapp.engine.records import clockify_record
from syncapp.models import KIND_ORDER, EntityMapping, SyncRun
from syncapp.services.clockify_reads import Mapped, ask_feed, state_of

CHUNK = 500  # ids per IN (...) query

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


def settled_at(client: ClockifyClient, started: datetime) -> datetime | None:
    """After a run that wrote to Clockify: now, if the feed accounts for every change since
    the run began as this run's own writes, exactly as stored; else None.

    Then the next run asks the feed from here (minus the overlap), not from before this run's
    writes: a no-change run right after a large one costs 3 calls, not a page per 1,000 of
    its writes. Anything else in the feed (a person's edit, a deletion, one of our writes
    missing from it) keeps the state at the run's start.
    """
    now = timezone.now()
    try:
        changes = ask_feed(client, list(KIND_ORDER), started - overlap(), now + overlap())
    except ApiError:
        return None
    mapped_ids = EntityMapping.objects.filter(clockify_id__isnull=False)
    if _any(mapped_ids, set(changes.deleted) | changes.repeated):
        return None
    saved = set(mapped_ids.filter(last_synced_at__gte=started)
                .values_list("clockify_id", flat=True))
    if saved - set(changes.named):  # saved by us yet in no endpoint: created and deleted?
        return None
    named = sorted(changes.named)
    for start in range(0, len(named), CHUNK):
        rows = mapped_ids.filter(clockify_id__in=named[start:start + CHUNK]).values_list(
            "clockify_id", "kind", "clockify_state")
        for clockify_id, kind, state in rows:
            document = {**changes.named[clockify_id].document, "id": clockify_id}
            try:
                if not state or state_of(clockify_record(kind, document)) != state:
                    return None
            except (TypeError, ValueError, KeyError, AttributeError):
                return None
    return now


def _any(rows, ids: set[str]) -> bool:
    ordered = sorted(ids)
    return any(rows.filter(clockify_id__in=ordered[i:i + CHUNK]).exists()
               for i in range(0, len(ordered), CHUNK))
