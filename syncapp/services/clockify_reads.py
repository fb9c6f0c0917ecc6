"""How a full run reads Clockify: completely, or through the change feed.

HTTP only, no ORM: the session hands in plain data (what each mapped entity looked like
when last read or written) and gets plain data back, so `ClockifyReader.prefetch` runs on
its own thread while the Notion databases are read.

Through the feed, an entity the feed does not name is taken as stored; one it names is read
unless the feed's document says exactly what we stored (our own writes come back that way);
a deletion is always confirmed by a read, never inferred.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime

from syncapp.clients.clockify import ClockifyClient, FeedEntry
from syncapp.clients.errors import ApiError, NotFound
from syncapp.clients.formats import utc_stamp
from syncapp.engine import kinds
from syncapp.engine.records import ClockifyRecord, clockify_record
from syncapp.services import snapshots

log = logging.getLogger(__name__)

# Up to this many changed clients or projects are read one by one; more: the kind is listed.
BY_ID_LIMIT = 10


@dataclass
class FeedChanges:
    """What the feed named since the last complete state."""

    named: dict[str, FeedEntry] = field(default_factory=dict)  # created or updated
    deleted: dict[str, FeedEntry] = field(default_factory=dict)
    repeated: set[str] = field(default_factory=set)  # named twice: the document may be old
    since: datetime | None = None  # the start of the range asked

    @property
    def count(self) -> int:
        return len(set(self.named) | set(self.deleted))


def ask_feed(client: ClockifyClient, kind_names: list[str], since: datetime,
             until: datetime) -> FeedChanges:
    """Three calls when nothing changed (one per endpoint, every kind at once)."""
    types = [kinds.get(k).feed_type for k in kind_names]
    start, end = utc_stamp(since), utc_stamp(until)
    changes = FeedChanges(since=since)
    for op in ("created", "updated"):  # created-and-updated entities are only in /created
        for entry in client.entity_changes(op, types, start=start, end=end):
            if entry.id in changes.named:
                changes.repeated.add(entry.id)
            changes.named[entry.id] = _slim(entry)
    for entry in client.entity_changes("deleted", types, start=start, end=end):
        changes.deleted[entry.id] = entry
    return changes


def _slim(entry: FeedEntry) -> FeedEntry:
    """The entry with only what a record is built from: after an initial sync the feed names
    every entity created, and whole documents would be most of a run's memory."""
    wanted = _READ_KEYS or _read_keys()
    return replace(entry, document={k: v for k, v in entry.document.items() if k in wanted})


_READ_KEYS: set[str] = set()


def _read_keys() -> set[str]:
    _READ_KEYS.update({"id"}, *(spec.clockify_reads for spec in kinds.KINDS))
    return _READ_KEYS


# -- what we remember of an entity ------------------------------------------------------------
def state_of(record: ClockifyRecord) -> dict:
    return {"fields": dict(record.fields), "parent": record.parent_id}


def from_state(kind: str, clockify_id: str, state: dict) -> ClockifyRecord:
    # No raw entity: an update reads the entity first (GET-merge-PUT) rather than merging
    # into a copy whose unsynced fields may be old.
    return ClockifyRecord(kind=kind, id=clockify_id, fields=dict(state["fields"]), raw={},
                          parent_id=state.get("parent"))


@dataclass(frozen=True)
class Mapped:
    """A mapped entity as the ORM knows it: its stored state and its parent's Clockify id."""

    state: dict
    parent: str | None = None
    synced_at: datetime | None = None  # when the sync last saved it (wrote, linked, created)


def needs_read(kind: str, clockify_id: str, mapped: Mapped, changes: FeedChanges) -> bool:
    """Whether a feed-based read must read this mapped entity instead of assuming it as stored."""
    state = mapped.state
    if not state or clockify_id in changes.deleted or clockify_id in changes.repeated:
        return True
    if kinds.get(kind).under_parent and (state.get("parent") or mapped.parent) in changes.deleted:
        return True  # its project is gone: so is it
    entry = changes.named.get(clockify_id)
    if entry is None:
        # Saved by us inside the range yet not named: an entity created and deleted in the
        # range is in no endpoint (documented for /deleted), so only a read can tell.
        return bool(changes.since and mapped.synced_at and mapped.synced_at >= changes.since)
    try:
        seen = clockify_record(kind, {**entry.document, "id": clockify_id})
    except (TypeError, ValueError, KeyError, AttributeError):
        return True
    return state_of(seen) != state


def drift(kind: str, mapped: dict[str, Mapped], changes: FeedChanges,
          actual: dict[str, ClockifyRecord], covered: set[str]) -> list[dict]:
    """Entities a complete read found different from what the feed let us assume."""
    found = []
    for clockify_id, entity in sorted(mapped.items()):
        if clockify_id not in covered or needs_read(kind, clockify_id, entity, changes):
            continue
        assumed = entity.state
        now = actual.get(clockify_id)
        item = {"kind": kind, "clockify_id": clockify_id,
                "name": assumed["fields"].get("name", "")}
        if now is None:
            found.append({**item, "missing": True})
            continue
        seen = state_of(now)
        if seen != assumed:
            fields = {name: {"assumed": assumed["fields"].get(name), "actual": value}
                      for name, value in seen["fields"].items()
                      if assumed["fields"].get(name) != value}
            if seen["parent"] != assumed.get("parent"):
                fields["parent"] = {"assumed": assumed.get("parent"), "actual": seen["parent"]}
            found.append({**item, "fields": fields})
    return found


# -- reading ----------------------------------------------------------------------------------
@dataclass
class KindRead:
    """What was read of one kind: the entities, and the mapped ids looked for and not found."""

    records: dict[str, ClockifyRecord] = field(default_factory=dict)
    confirmed_missing: set[str] = field(default_factory=set)
    listed_all: bool = False
    listed_parents: set[str] = field(default_factory=set)
    error: ApiError | None = None


class ClockifyReader:
    """Reads Clockify for one full run. `changes` None: complete reads."""

    def __init__(self, client: ClockifyClient, mapped: dict[str, dict[str, Mapped]],
                 changes: FeedChanges | None) -> None:
        self.client = client
        self.mapped = mapped
        self.changes = changes
        self.reads: dict[str, KindRead] = {}

    @property
    def through_feed(self) -> bool:
        return self.changes is not None

    def prefetch(self, kind_names: list[str]) -> None:
        """Everything that needs no Notion record (on the Clockify thread)."""
        for kind in kind_names:
            read = self.reads.setdefault(kind, KindRead())
            try:
                if self.through_feed:
                    self._changed(kind, read)
                else:
                    self._complete(kind, read)
            except ApiError as exc:
                read.error = exc

    def _complete(self, kind: str, read: KindRead) -> None:
        if kinds.get(kind).under_parent:
            self.list_parents(kind, read, {m.parent for m in self.mapped.get(kind, {}).values()})
        else:
            self.list_all(kind, read)

    def _changed(self, kind: str, read: KindRead) -> None:
        mapped = self.mapped.get(kind, {})
        wanted = [cid for cid, m in mapped.items() if needs_read(kind, cid, m, self.changes)]
        if kinds.get(kind).under_parent:
            parents = {self._parent_of(cid, mapped[cid]) for cid in wanted}
            self.list_parents(kind, read, parents)
            read.confirmed_missing.update(cid for cid in wanted if cid not in read.records
                                          and self._parent_of(cid, mapped[cid]) is None)
        elif len(wanted) > BY_ID_LIMIT:
            self.list_all(kind, read)
        else:
            for cid in wanted:
                entity = snapshots.clockify_one(self.client, kind, cid)
                if entity is None:
                    read.confirmed_missing.add(cid)
                else:
                    read.records[cid] = entity

    def _parent_of(self, clockify_id: str, mapped: Mapped) -> str | None:
        entry = self.changes.named.get(clockify_id) or self.changes.deleted.get(clockify_id)
        from_feed = entry.document.get("projectId") if entry else None
        return mapped.state.get("parent") if mapped.state else (mapped.parent or from_feed)

    def list_all(self, kind: str, read: KindRead) -> None:
        if read.listed_all:
            return
        read.records.update(snapshots.clockify_all(self.client, kind))
        read.listed_all = True
        read.confirmed_missing.update(set(self.mapped.get(kind, {})) - set(read.records))

    def list_parents(self, kind: str, read: KindRead, parents) -> None:
        """The children of these parents (tasks of projects); a parent that is gone has none."""
        for parent in sorted(p for p in parents if p and p not in read.listed_parents):
            with suppress(NotFound):  # the project is gone, and its tasks with it
                read.records.update(snapshots.clockify_all(self.client, kind, [parent]))
            read.listed_parents.add(parent)
        children = defaultdict(set)
        for cid, m in self.mapped.get(kind, {}).items():
            children[m.state.get("parent") if m.state else m.parent].add(cid)
        for parent in read.listed_parents:
            read.confirmed_missing.update(children.get(parent, set()) - set(read.records))

    def view(self, kind: str) -> dict[str, ClockifyRecord]:
        """The kind as the run sees it: read entities, and through the feed the rest as stored."""
        read = self.reads.setdefault(kind, KindRead())
        if not self.through_feed:
            return dict(read.records)
        assumed = {cid: from_state(kind, cid, m.state)
                   for cid, m in self.mapped.get(kind, {}).items()
                   if m.state and cid not in read.confirmed_missing
                   and not needs_read(kind, cid, m, self.changes)}
        return {**assumed, **read.records}

    def named_others(self, kind: str) -> bool:
        """Whether the feed named a change of this kind that is not our own write coming back
        (an entity we do not map, a deletion, or a mapped one unlike what we stored)."""
        feed_type = kinds.get(kind).feed_type
        mapped = self.mapped.get(kind, {})
        for entry in [*self.changes.named.values(), *self.changes.deleted.values()]:
            if entry.doc_type not in (None, feed_type):
                continue
            known = mapped.get(entry.id)
            if known is None:
                if entry.doc_type is None and any(entry.id in m for m in self.mapped.values()):
                    continue  # untyped, but a mapped entity of another kind
                return True
            if needs_read(kind, entry.id, known, self.changes):
                return True
        return False

    def covered(self, kind: str) -> set[str]:
        """Mapped ids a complete read of the kind has settled (found or not)."""
        read = self.reads.get(kind) or KindRead()
        return {cid for cid in self.mapped.get(kind, {})
                if cid in read.records or cid in read.confirmed_missing}
