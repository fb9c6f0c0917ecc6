"""What a run did, as it goes: counts per kind and one audit record per change."""

from __future__ import annotations

from collections import Counter

from syncapp.engine.plan import Change
from syncapp.models import ChangeRecord, EntityMapping, SyncRun

REJECTED_NOTE = "Rejected in review; not flagged again until either side changes."


class Recorder:
    def __init__(self, run: SyncRun) -> None:
        self.run = run
        self.counts: dict[str, Counter] = {}
        # (page, reason) of review items raised while applying, not while planning: a
        # later step must not take them for stale.
        self.flagged: set[tuple[str, str]] = set()

    def count(self, kind: str, key: str) -> None:
        self.counts.setdefault(kind, Counter())[key] += 1

    def plain_counts(self) -> dict[str, dict[str, int]]:
        return {kind: dict(counter) for kind, counter in self.counts.items()}

    def record(self, change: Change, outcome: str, *, error: str = "", action: str = "",
               mapping: EntityMapping | None = None, fields: dict | None = None) -> None:
        fields = fields if fields is not None else {**change.diff, **(
            {"conflicts": change.conflicts} if change.conflicts else {})}
        ChangeRecord.objects.create(
            run=self.run, kind=change.kind, mapping=mapping,
            name=(change.name or "")[:2000], notion_page_id=change.page_id or "",
            clockify_id=(mapping.clockify_id if mapping and mapping.clockify_id
                         else change.clockify_id) or "",
            action=action or change.action, outcome=outcome, reason=change.reason[:50],
            fields=_with_status(change, fields), error=error or change.error,
        )


def _with_status(change: Change, fields: dict) -> dict:
    """A change of `closed` keeps the Notion status it replaced (`status_before`): undoing it
    reopens to that status, not to any open one (services/undo.py)."""
    closed = fields.get("closed")
    status = (change.known.baseline.get("notion") or {}).get("_status") \
        if change.known and change.known.baseline else None
    if not status or not isinstance(closed, dict) or "status_before" in closed:
        return fields
    return {**fields, "closed": {**closed, "status_before": status}}
