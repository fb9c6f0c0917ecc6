"""Tracked time rolled back into Notion: hours per task and per project.

A time entry change only marks its task and project dirty; one django-q2 task
(every minute, `flush`) writes each dirty page once, so a burst of entries
costs one Notion write per page. A value equal to the one last written is not
written again. Mapped through EntityMapping (Clockify id → Notion page).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from syncapp.clients.errors import ApiError
from syncapp.clients.notion import NotionClient
from syncapp.engine import kinds
from syncapp.models import EntityMapping, RollupState, TimeEntry
from syncapp.services import connections

log = logging.getLogger(__name__)

# The kinds a time entry points at (tasks, projects), each through its own column.
KINDS = tuple(spec.name for spec in reversed(kinds.KINDS) if spec.entry_field)
BATCH = 500


def pointed_at(entry: TimeEntry) -> set[tuple[str, str]]:
    """(kind, Clockify id) of each record a time entry counts towards."""
    return {(kind, cid) for kind in KINDS
            if (cid := getattr(entry, kinds.get(kind).entry_field))}


def property_name() -> str:
    return settings.NOTION_TRACKED_PROPERTY


def enabled() -> bool:
    return bool(property_name())


def mark_dirty(entities: Iterable[tuple[str, str]]) -> None:
    """Note that the tracked hours of these (kind, clockify id) pairs may have changed."""
    if not enabled():
        return
    for kind, clockify_id in set(entities):
        if kind not in KINDS or not clockify_id:
            continue
        found = RollupState.objects.filter(kind=kind, clockify_id=clockify_id)
        if found.update(dirty=True, version=F("version") + 1):
            continue
        try:
            with transaction.atomic():
                RollupState.objects.create(kind=kind, clockify_id=clockify_id, dirty=True,
                                           version=1)
        except IntegrityError:
            found.update(dirty=True, version=F("version") + 1)


def hours(seconds: int | None) -> Decimal:
    return (Decimal(seconds or 0) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def tracked_hours(kind: str, clockify_ids: Iterable[str]) -> dict[str, Decimal]:
    """Completed, not deleted time per task or project; 0 for ids without entries."""
    field = kinds.get(kind).entry_field
    ids = list(clockify_ids)
    totals = dict.fromkeys(ids, Decimal("0.00"))
    rows = (TimeEntry.objects.filter(deleted=False, running=False, **{f"{field}__in": ids})
            .values(field).annotate(total=Sum("duration_seconds")))
    for row in rows:
        totals[row[field]] = hours(row["total"])
    return totals


def flush(*, notion: NotionClient | None = None) -> Counter:
    """Write the tracked hours of every dirty task and project whose value changed."""
    counts: Counter = Counter()
    if not enabled():
        return counts
    after = 0
    while True:  # each dirty row once per flush, even one that stays dirty
        batch = list(RollupState.objects.filter(dirty=True, id__gt=after).order_by("id")[:BATCH])
        if not batch:
            return counts
        notion = _flush_batch(batch, notion, counts)
        after = batch[-1].pk


def _flush_batch(batch: list[RollupState], notion: NotionClient | None,
                 counts: Counter) -> NotionClient | None:
    prop = property_name()
    totals: dict[tuple[str, str], Decimal] = {}
    pages: dict[tuple[str, str], str] = {}
    for kind in KINDS:
        ids = [state.clockify_id for state in batch if state.kind == kind]
        if not ids:
            continue
        totals.update({(kind, cid): value for cid, value in tracked_hours(kind, ids).items()})
        pages.update({(kind, m.clockify_id): m.notion_page_id for m in
                      EntityMapping.objects.filter(kind=kind, clockify_id__in=ids)
                      .only("clockify_id", "notion_page_id")})
    for state in batch:
        key = (state.kind, state.clockify_id)
        page, value = pages.get(key), totals[key]
        done = {"error": ""}
        if page is None:
            done["error"] = "No Notion page is mapped to this Clockify entity."
            counts["unmapped"] += 1
        elif value == state.last_written and page == state.notion_page_id:
            counts["unchanged"] += 1
        else:
            notion = notion or connections.notion_client()
            try:
                notion.update_page(page, {prop: {"number": float(value)}})
            except ApiError as exc:
                log.warning("tracked hours of %s %s not written to Notion: %s",
                            state.kind, state.clockify_id, exc)
                counts["failed"] += 1
                RollupState.objects.filter(pk=state.pk).update(error=str(exc)[:2000])
                if not exc.permanent:
                    continue  # stays dirty: the next flush tries again
                _clean(state, error=str(exc)[:2000])
                continue
            done.update(notion_page_id=page, last_written=value,
                        last_written_at=timezone.now())
            counts["written"] += 1
        _clean(state, **done)
    return notion


def _clean(state: RollupState, **fields) -> None:
    RollupState.objects.filter(pk=state.pk).update(**fields)
    # Only if no entry changed it meanwhile; otherwise it stays dirty for the next flush.
    RollupState.objects.filter(pk=state.pk, version=state.version).update(dirty=False)
