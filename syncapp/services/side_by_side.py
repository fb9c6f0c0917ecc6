"""A full run reads Clockify on its own thread while Notion is read, feed first.

A part of SyncSession (its attributes: options, run, clockify, applier, kinds). The thread
does HTTP only (ClockifyReader, each client with its own throttle); everything that needs
the ORM is done before it starts (the mapped entities, the feed window) or after it ends.
With an hourly request budget (CLOCKIFY_REQUESTS_PER_HOUR) every request claims a slot in
the database, so Clockify is then read first, on the run's own thread.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connections
from django.utils import timezone

from syncapp import logcontext
from syncapp.clients.errors import ApiError
from syncapp.engine import kinds
from syncapp.engine.kinds import name_problem
from syncapp.engine.plan import PLACEHOLDER, Snapshot
from syncapp.engine.records import ClockifyRecord, NotionRecord
from syncapp.models import KIND_ORDER, EntityMapping, Mode
from syncapp.services import feed
from syncapp.services.clockify_reads import ClockifyReader, FeedChanges, ask_feed, drift, state_of

log = logging.getLogger(__name__)

# Mappings whose stored Clockify state changed are written this many per statement.
STATE_BATCH = 500

# Called on the Clockify thread when it starts and ends (tests observe the overlap).
THREAD_HOOKS: list = []


class SideBySide:
    """Start the Clockify reads of a full run beside the Notion reads, then serve them."""

    reader: ClockifyReader | None = None
    _thread: threading.Thread | None = None
    _thread_error: BaseException | None = None
    _clockify_at = None  # when the reads began: the complete state this run leaves behind
    feed_changes: FeedChanges | None = None

    def begin_clockify(self) -> None:
        if self.options.mode == Mode.INCREMENTAL:
            return
        self._clockify_at = timezone.now()
        self.feed_notes: list[str] = []
        self.drift: list[dict] = []
        self.feed_changes: FeedChanges | None = None
        span = feed.window(self._clockify_at)
        if isinstance(span, str):
            self.feed_notes.append(span)
            span = None
        mapped = feed.mapped_entities(list(KIND_ORDER))
        if self.clockify.budget is not None:
            # Each request claims a budget slot in the database, which the HTTP-only thread
            # must not touch; at a few requests an hour, reading beside Notion gains nothing.
            # BudgetExhausted then stops the run here, at a safe point (nothing written yet).
            self._thread_reads(span, mapped)
            return
        self._thread = threading.Thread(target=self._read_clockify_thread, args=(span, mapped),
                                        name=f"clockify-reads-run-{self.run.pk}", daemon=True)
        self._thread.start()

    def _read_clockify_thread(self, span, mapped) -> None:
        """HTTP only: ask the feed, then read what needs no Notion record."""
        try:
            with logcontext.bound_run(self.run.pk):  # a thread starts without the run's context
                self._thread_reads(span, mapped)
        except BaseException as exc:  # noqa: BLE001 - handed to the run's thread in join
            self._thread_error = exc
        finally:
            connections.close_all()  # this thread's own connections, should any be open

    def _thread_reads(self, span, mapped) -> None:
        for hook in THREAD_HOOKS:
            hook("start")
        if span is not None:
            try:
                self.feed_changes = ask_feed(self.clockify, list(KIND_ORDER), *span)
            except ApiError as exc:
                log.warning("The Clockify change feed cannot be used: %s", exc)
                self.feed_notes.append(feed.failure_note(exc))
        use_feed = self.feed_changes if self.options.mode != Mode.AUDIT else None
        self.reader = ClockifyReader(self.clockify, mapped, use_feed)
        self.reader.prefetch(self.kinds)
        for hook in THREAD_HOOKS:
            hook("end")

    def join_clockify(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self._thread_error is not None:
                raise self._thread_error
        elif self._clockify_at is None or getattr(self, "_joined", False):
            return  # no reads began (a poll), or they were joined already
        self._joined = True
        reader = self.reader
        self.run.clockify_read = "feed" if reader and reader.through_feed else "complete"
        if reader and reader.through_feed:
            self.feed_notes.append(f"Clockify was read through the change feed: it named "
                                   f"{self.feed_changes.count} changed entities.")

    # -- one kind ----------------------------------------------------------------------------
    def read_clockify_full(self, snapshot: Snapshot) -> dict[str, ClockifyRecord]:
        if self.reader is None:  # a session planning one kind (a review probe): no thread
            self.reader = ClockifyReader(self.clockify, feed.mapped_entities([snapshot.kind]),
                                         None)
        kind, reader = snapshot.kind, self.reader
        read = reader.reads.get(kind)
        if read is None:  # not prefetched (a kind the run added): read it now
            reader.prefetch([kind])
            read = reader.reads[kind]
        if read.error is not None:
            raise read.error
        if kinds.get(kind).under_parent:
            wanted = (self._candidate_parents(snapshot) if reader.through_feed
                      else set(self._parents_to_list(snapshot)))
            reader.list_parents(kind, read, wanted)
        elif reader.through_feed and self._candidate_records(snapshot):
            reader.list_all(kind, read)
        records = reader.view(kind)
        if reader.through_feed:
            self.applier.refusals.feed_named_others[kind] = reader.named_others(kind)
        if self.options.mode == Mode.AUDIT and self.feed_changes is not None:
            self.drift += drift(kind, reader.mapped.get(kind, {}), self.feed_changes, records,
                                reader.covered(kind))
        self._store_states(kind, records)
        return records

    def _candidate_records(self, snapshot: Snapshot) -> list[NotionRecord]:
        """Unmapped Notion records the planner will match by name (or Clockify ID)."""
        found = []
        for record in snapshot.notion.values():
            known = snapshot.known.get(record.page_id)
            if known and known.clockify_id:
                continue
            if record.errors or record.invalid:
                continue
            if record.clockify_id or (not record.fields.get("closed")
                                      and not name_problem(snapshot.kind, record.name)):
                found.append(record)
        return found

    def _candidate_parents(self, snapshot: Snapshot) -> set[str]:
        wanted = {snapshot.parents.clockify_parent(r.fields.get("parent"))
                  for r in self._candidate_records(snapshot)}
        wanted -= self.applier.created_ids  # created by this run: no children yet
        return {p for p in wanted if p and p != PLACEHOLDER}

    def _store_states(self, kind: str, records: dict[str, ClockifyRecord]) -> None:
        """Remember what each mapped entity looked like: the next run may assume it. Read as
        plain values in chunks; only the changed ones are kept until they are written."""
        if self.options.dry_run:
            return
        reader = self.reader
        missing = reader.reads[kind].confirmed_missing
        changed = []
        rows = (EntityMapping.objects.filter(kind=kind, clockify_id__isnull=False)
                .values_list("pk", "clockify_id", "clockify_state").iterator(chunk_size=2000))
        for pk, clockify_id, stored in rows:
            entity = records.get(clockify_id)
            if entity is not None:
                state = state_of(entity)
            elif clockify_id in missing or not reader.through_feed:
                state = {}  # gone, or not seen: the next run reads it
            else:
                continue
            if state != stored:
                changed.append(EntityMapping(pk=pk, clockify_state=state))
        # Written after the read ends: SQLite does not isolate a cursor from writes to its table.
        EntityMapping.objects.bulk_update(changed, ["clockify_state"], batch_size=STATE_BATCH)

    # -- the run ---------------------------------------------------------------------------
    def record_clockify_read(self) -> None:
        """What the run page shows: how Clockify was read, the fallback's reason, the drift."""
        if self._thread is not None:  # the run stopped while Notion was read
            self.join_clockify()
        if self.reader is None or self._clockify_at is None:
            return
        run = self.run
        if self.options.mode == Mode.AUDIT:
            if self.feed_changes is not None:
                self.feed_notes.append(
                    f"Full audit: {len(self.drift)} entities differed from what the change "
                    "feed let the sync assume." if self.drift else
                    "Full audit: Clockify matched what the change feed let the sync assume.")
            else:
                self.feed_notes.append("Full audit: drift not measured, the change feed "
                                       "was not usable (see above).")
        run.drift = self.drift
        every_kind = set(self.kinds) == set(KIND_ORDER)
        # Only a run that read every kind completely moves the state (not one stopped by a
        # person or by the hourly budget: kinds it never reached were not read).
        if not self.options.dry_run and every_kind and not self.failed_kinds \
                and not self.stopped and self.resumes_at is None:
            run.clockify_state_at = self._settled() or self._clockify_at
        run.feed_note = "\n".join(self.feed_notes)

    def _settled(self):
        """After writing to Clockify: the state holds as of now if the feed shows only our
        own writes since the run began (see feed.settled_at)."""
        wrote = any(endpoint.startswith(("POST ", "PUT ")) for endpoint in self.clockify.calls)
        if not (wrote and settings.CLOCKIFY_CHANGE_FEED) or self.clockify.budget is not None:
            return None  # under an hourly budget the next run's window costs less than this
        moment = feed.settled_at(self.clockify, self._clockify_at)
        if moment is not None:
            self.feed_notes.append("After its writes the change feed named nothing else: the "
                                   "next run asks it from the end of this one.")
        return moment
