"""No call without a reason: a write Clockify refused is not sent again unchanged.

A 400 refusal (a duplicate name, a value Clockify does not accept) becomes a pending
validation item whose fingerprint is the *refusal key*: the values we sent and the
Clockify side they may have collided with (records of the kind with the same loose name,
and the record being updated). While an open or rejected item holds the same key, the
applier records the change as still refused and sends nothing; a change of the page's
synced values in Notion, or of those Clockify records, gives a new key and the write is
tried again. A workspace allowed 30 requests an hour cannot spend one per refused record
per run. A person's Retry in the review queue always sends.

When Clockify was read through its change feed the run does not list the kind, so it
cannot see the records a write collided with: a feed that named no change of the kind
(other than our own writes coming back) means the Clockify side is as it was, and only
what we send is compared; a feed that named one sends the write once more.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from syncapp.engine.fields import loose_name
from syncapp.engine.plan import Change, Snapshot
from syncapp.engine.records import ClockifyRecord
from syncapp.models import PendingChange, Reason, ReviewStatus

# Items that keep a refused write from being sent again: still open, or rejected by a person.
HOLDING = (ReviewStatus.PENDING, ReviewStatus.APPROVED, ReviewStatus.REJECTED)


def refusal_key(snapshot: Snapshot, change: Change,
                written: dict[str, ClockifyRecord] | None = None) -> str:
    """What a refused write depended on: same key, same answer from Clockify.

    Two halves, "<what we send>:<the Clockify side>", so a run that read Clockify through
    the change feed can compare the first half alone when the feed says nothing of the kind
    changed. `written`: Clockify records as this run's own writes left them."""
    wanted = loose_name(change.name)
    entities = {**snapshot.clockify, **(written or {})}
    colliding = sorted(
        [entity.id, entity.name, entity.parent_id, bool(entity.fields.get("closed"))]
        for entity in entities.values()
        if loose_name(entity.name) == wanted and entity.id != change.clockify_id)
    target = change.clockify
    sent = {"kind": change.kind, "page": change.page_id, "action": change.action,
            "to_clockify": change.to_clockify, "parent": change.parent_clockify_id}
    side = {"target": [target.id, target.fields, target.parent_id] if target else None,
            "colliding": colliding}
    return f"{_digest(sent)}:{_digest(side)}"


def _digest(value: dict) -> str:
    # Two halves and the colon fit the item's 64-character fingerprint; 124 bits each.
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:31]


class Refusals:
    """The refused writes of one kind still on hold, loaded once per kind per run."""

    def __init__(self) -> None:
        self._held: dict[str, set[tuple[str, str]]] = {}
        self._pages: dict[str, set[str]] = {}
        # Per kind, Clockify id → the record as this run's writes left it.
        self.written: dict[str, dict[str, ClockifyRecord]] = {}
        # Kinds read through the change feed: whether it named a change of someone else's
        # (not our own write coming back). Absent: the kind was read completely.
        self.feed_named_others: dict[str, bool] = {}

    def held(self, kind: str) -> set[tuple[str, str]]:
        if kind not in self._held:
            self._held[kind] = set(PendingChange.objects.filter(
                kind=kind, reason=Reason.VALIDATION, status__in=HOLDING,
            ).values_list("notion_page_id", "fingerprint"))
            self._pages[kind] = {page for page, _ in self._held[kind]}
        return self._held[kind]

    def wrote(self, kind: str, record: ClockifyRecord) -> None:
        self.written.setdefault(kind, {})[record.id] = record

    def key(self, snapshot: Snapshot, change: Change) -> str:
        return refusal_key(snapshot, change, self.written.get(change.kind))

    def still_refused(self, snapshot: Snapshot, change: Change) -> bool:
        held = self.held(change.kind)
        # The key reads every Clockify record of the kind: only for the few pages on hold.
        if not change.page_id or change.page_id not in self._pages[change.kind]:
            return False
        key = self.key(snapshot, change)
        through_feed = self.feed_named_others.get(change.kind)
        if through_feed is None:  # read completely: the whole key must match
            return (change.page_id, key) in held
        if through_feed:
            # Something of the kind changed in Clockify, maybe what it collided with (the
            # feed does not say what a record was called before): send it once more.
            return False
        # Nothing changed in Clockify since the refusal was recorded: what we send decides.
        sent = key.split(":")[0]
        return any(page == change.page_id and held_key.split(":")[0] == sent
                   for page, held_key in held)

    def remember(self, snapshot: Snapshot, change: Change, key: str) -> None:
        self.held(change.kind).add((change.page_id or "", key))
        self._pages[change.kind].add(change.page_id or "")


def as_validation_item(change: Change, message: str) -> Change:
    """The refused change as the review queue shows it (nothing written to the Change)."""
    return replace(change, verdict="fail", reason="validation", error=message)


def refused_message(error: str) -> str:
    return (f"Clockify refused it: {error}. Not sent again until the page's synced values "
            "change in Notion or the Clockify record it collided with changes; fix it in "
            "Notion (or in Clockify), or press Retry.")


def not_sent_message() -> str:
    return ("Clockify refused this before and nothing it depends on has changed since, so it "
            "was not sent again (see the pending validation item). Fix it in Notion or in "
            "Clockify, or press Retry in the review queue.")
