"""Run one sync: read both sides, plan each kind in order, apply, record.

Order matters: clients, then projects, then tasks, so every child finds its
parent's Clockify id. One record's failure never stops the run; a failed
read of a whole kind stops only that kind (and never infers deletions).
"""

from __future__ import annotations

import gc
import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from syncapp import logcontext
from syncapp.clients.clockify import ClockifyClient
from syncapp.clients.errors import ApiError, AuthError, BudgetExhausted, NotFound
from syncapp.clients.formats import compact_id
from syncapp.clients.notion import NotionClient
from syncapp.engine import kinds
from syncapp.engine.plan import (
    PLACEHOLDER,
    Change,
    Known,
    Parents,
    Snapshot,
    hold_mass_archives,
    plan,
)
from syncapp.engine.policy import Policy
from syncapp.engine.records import ClockifyRecord, NotionRecord
from syncapp.models import (
    KIND_ORDER,
    DatabaseMapping,
    EntityMapping,
    MappingState,
    Mode,
    RunStatus,
    SyncRun,
)
from syncapp.services import budget, connections, review, snapshots
from syncapp.services.apply import Applier
from syncapp.services.side_by_side import SideBySide

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0  # seconds between saves of the counts while a kind is applied


class StopRequested(Exception):
    """A person asked a foreground run to stop (Ctrl-C): it stops between two changes."""


@dataclass
class Progress:
    """What a foreground run reports as it goes (manage.py sync shows it)."""

    phase: str
    counts: dict[str, dict[str, int]]
    api_calls: dict[str, dict]
    done: int = 0  # changes of the kind being applied, so far
    total: int = 0  # changes planned for that kind


@dataclass
class SyncOptions:
    trigger: str = "command"
    mode: str = Mode.FULL
    dry_run: bool = False
    kinds: list[str] = field(default_factory=list)
    page_ids: list[str] = field(default_factory=list)  # pages a webhook asked for
    targeted: bool = False  # only those pages, no database query
    triggered_by: str = ""
    # Hooks of a run in the foreground (not what is synced): hear progress, ask to stop.
    on_progress: Callable[[Progress], None] | None = field(default=None, repr=False)
    should_stop: Callable[[], bool] | None = field(default=None, repr=False)


def last_watermark():
    """Where the next incremental read starts: the last run that completed its reads."""
    run = (SyncRun.objects.filter(dry_run=False, watermark__isnull=False,
                                  status__in=[RunStatus.SUCCEEDED, RunStatus.PARTIAL])
           .order_by("-watermark").first())
    return run.watermark if run else None


class ReadingBothSides:
    """How a session reads: Notion pages by kind, then the Clockify records they need.

    A part of SyncSession (its attributes: options, configs, db_mappings, database_ids,
    notion, clockify, applier).
    """

    # -- data-source cache: resolving costs a call per database per run otherwise ---------
    def _load_data_sources(self) -> None:
        for kind, mapping in self.db_mappings.items():
            if mapping.data_source_for == self.database_ids[kind] and mapping.data_source_ids:
                self.notion.remember_data_sources(self.database_ids[kind],
                                                  mapping.data_source_ids)

    def _save_data_sources(self) -> None:
        for kind, mapping in self.db_mappings.items():
            resolved = self.notion.cached_data_sources(self.database_ids[kind])
            if resolved and (resolved != mapping.data_source_ids
                             or mapping.data_source_for != self.database_ids[kind]):
                mapping.data_source_ids = resolved
                mapping.data_source_for = self.database_ids[kind]
                mapping.save(update_fields=["data_source_ids", "data_source_for"])

    # -- Notion --------------------------------------------------------------------------------
    def read_notion(self, since) -> None:
        for kind in self.kinds:
            self.progress(f"Reading Notion {kind}s")
            try:
                records = {}
                if not self.options.targeted:
                    records = snapshots.notion_records(
                        self.notion, self.configs[kind], self.database_ids[kind], since)
                if self.options.page_ids and self.options.mode == Mode.INCREMENTAL:
                    records.update(self._read_pages(kind, exclude=records))
            except NotFound as exc:
                # Lost access looks like "everything was deleted": hold, archive nothing.
                self.held = self.lost_access = True
                self._kind_failed(kind, f"Lost access to the Notion {kind}s database; nothing "
                                        f"was archived and the run is held: {exc}")
                continue
            except AuthError as exc:  # the token itself is refused: the run failed
                self._kind_failed(kind, f"Notion refused access to the {kind}s database "
                                        f"(check NOTION_TOKEN); nothing was archived: {exc}")
                continue
            except ApiError as exc:
                self._kind_failed(kind, f"Reading the Notion {kind}s database failed: {exc}")
                continue
            self.notion_records[kind] = records
        if self.options.mode == Mode.INCREMENTAL:
            self._read_unmapped_parents()

    def _read_unmapped_parents(self) -> None:
        """Incremental: a changed record whose parent was never synced brings the parent."""
        for spec in kinds.children_first():
            kind, parent_kind = spec.name, spec.parent
            if kind not in self.notion_records or parent_kind not in self.notion_records:
                continue
            wanted = {r.fields.get("parent") for r in self.notion_records[kind].values()}
            wanted -= set(self.notion_records[parent_kind]) | {None}
            mapped = set(EntityMapping.objects.filter(
                kind=parent_kind, notion_page_id__in=wanted, clockify_id__isnull=False,
            ).values_list("notion_page_id", flat=True))
            for page_id in sorted(wanted - mapped):
                try:
                    page = snapshots.fetch_raw_page(self.notion, page_id)
                except ApiError:
                    continue  # the child reports its missing parent
                if page is not None and self._page_in_kind(page, parent_kind):
                    self.notion_records[parent_kind][page["id"]] = snapshots.to_record(
                        self.notion, self.configs[parent_kind], page)

    def _read_pages(self, kind: str, exclude: dict) -> dict[str, NotionRecord]:
        """Pages named by a webhook or button that belong to this kind's database."""
        records = {}
        for page_id in self.options.page_ids:
            if page_id in exclude:
                continue
            page = snapshots.fetch_raw_page(self.notion, page_id)
            if page is not None and self._page_in_kind(page, kind):
                records[page["id"]] = snapshots.to_record(self.notion, self.configs[kind], page)
        return records

    def _page_in_kind(self, page: dict, kind: str) -> bool:
        parent = page.get("parent") or {}
        owners = {parent.get("database_id"), parent.get("data_source_id")}
        database = self.database_ids[kind]
        wanted = {database, *self.notion.cached_data_sources(database)}
        return bool({compact_id(o) for o in owners} & {compact_id(w) for w in wanted})

    # -- Clockify ------------------------------------------------------------------------------
    def _read_clockify(self, snapshot: Snapshot, incremental: bool) -> dict[str, ClockifyRecord]:
        kind = snapshot.kind
        # Kinds Clockify lists only under their parent (tasks): which parents to ask.
        under_parent = kinds.get(kind).under_parent
        if not incremental:
            parents = self._parents_to_list(snapshot) if under_parent else None
            return snapshots.clockify_all(self.clockify, kind, parents)
        found: dict[str, ClockifyRecord] = {}
        listed: set[str | None] = set()
        for record in snapshot.notion.values():
            known = snapshot.known.get(record.page_id)
            if known and known.clockify_id:
                parent_id = self._parent_clockify_id(kind, known) if under_parent else None
                entity = snapshots.clockify_one(self.clockify, kind, known.clockify_id, parent_id)
                if entity:
                    found[entity.id] = entity
                continue
            # Unmapped: list the candidates once (Clockify's name filter would miss the
            # near matches we must flag rather than duplicate).
            parent = snapshot.parents.clockify_parent(record.fields.get("parent"))
            scope = parent if under_parent else None
            if scope in listed or (under_parent and (not parent or parent == PLACEHOLDER)):
                continue
            listed.add(scope)
            found.update(snapshots.clockify_all(self.clockify, kind, [parent] if parent else []))
        return found

    def _parent_clockify_id(self, kind: str, known: Known) -> str | None:
        mapping = EntityMapping.objects.filter(kind=kind, notion_page_id=known.page_id) \
            .select_related("parent").first()
        if mapping and mapping.parent and mapping.parent.clockify_id:
            return mapping.parent.clockify_id
        return None

    def _parents_to_list(self, snapshot: Snapshot) -> list[str]:
        """Parents whose children we must list (projects of tasks): parents of the Notion
        records and of the mapped ones."""
        wanted = {snapshot.parents.clockify_parent(r.fields.get("parent"))
                  for r in snapshot.notion.values()}
        wanted |= set(EntityMapping.objects.filter(kind=snapshot.kind,
                                                 parent__clockify_id__isnull=False)
                      .values_list("parent__clockify_id", flat=True))
        wanted -= self.applier.created_ids  # created minutes ago by this run: no tasks yet
        return sorted(p for p in wanted if p and p != PLACEHOLDER)


class SyncSession(SideBySide, ReadingBothSides):
    """One run's state: clients, configs, mappings and the records read so far."""

    def __init__(self, run: SyncRun, options: SyncOptions,
                 notion: NotionClient, clockify: ClockifyClient,
                 policy: Policy | None = None) -> None:
        self.run = run
        self.options = options
        self.policy = policy or review.load_policy()
        self.held = False
        self.lost_access = False  # a database answered 404/refused: the run is held
        self.notion = notion
        self.clockify = clockify
        # Read once per run from the settings: a sync profile will pass its own one day.
        self.database_ids = kinds.database_ids(settings)
        self.db_mappings = {kind: DatabaseMapping.for_kind(kind) for kind in KIND_ORDER}
        self.configs = {kind: m.config() for kind, m in self.db_mappings.items()}
        self.applier = Applier(notion, clockify, run, self.configs, dry_run=options.dry_run,
                               database_ids=self.database_ids)
        self.errors: list[str] = []
        self.failed_kinds: set[str] = set()
        self.applying = (0, 0)  # (done, total) changes of the kind being applied
        self.stopped = False
        self.resumes_at = None  # set when the Clockify budget ran out: the run waits
        self.notion_records: dict[str, dict[str, NotionRecord]] = {}
        # Of a kind already released: the pages read and those outside its sync filter (what
        # its children's plan needs once the records themselves are gone).
        self.read_pages: dict[str, set[str]] = {}
        self.excluded_pages: dict[str, set[str]] = {}
        self._load_data_sources()

    @property
    def kinds(self) -> list[str]:
        return [k for k in KIND_ORDER if not self.options.kinds or k in self.options.kinds]

    def progress(self, phase: str) -> None:
        if self.options.should_stop and self.options.should_stop():
            raise StopRequested  # between two steps: everything so far is recorded
        self.run.record_progress(phase, self.applier.recorder.plain_counts(),
                                 api_calls(self.notion, self.clockify))
        self._progress_at = time.monotonic()
        if self.options.on_progress:
            self.options.on_progress(Progress(phase, self.run.counts, self.run.api_calls,
                                              *self.applying))

    def tick(self) -> None:
        """While applying: save the counts at most every PROGRESS_EVERY s (live progress)."""
        if self.options.should_stop and self.options.should_stop():
            raise StopRequested
        if time.monotonic() - getattr(self, "_progress_at", 0.0) >= PROGRESS_EVERY:
            self.progress(self.run.phase)

    def _kind_failed(self, kind: str, message: str) -> None:
        log.warning(message)
        self.errors.append(message)
        self.failed_kinds.add(kind)

    # -- one kind ------------------------------------------------------------------------------
    def sync_kind(self, kind: str) -> None:
        snapshot = self.snapshot(kind)
        if snapshot is None:
            return
        self.progress(f"Syncing {kind}s")
        changes = plan(snapshot)
        mass = hold_mass_archives(snapshot, changes, population=self._population(snapshot))
        read = set(snapshot.notion) | snapshot.unreachable
        to_review = [c for c in changes if review.flag_reason(c)]
        self.applier.load_mappings(kind, [c.page_id for c in changes if _needs_mapping(c)])
        self._release(snapshot)
        pending, total = deque(changes), len(changes)
        del changes  # each change (and the records it holds) is let go once applied
        while pending:
            change = pending.popleft()
            self.applier.apply(snapshot, change)
            self.applier.forget(kind, change.page_id)
            self.applying = (total - len(pending), total)
            self.tick()
        self.applying = (0, 0)
        self._orphan(kind, snapshot.unreachable)
        # Held while a mass change waits for a decision; once rejected, it holds nothing.
        if mass and (self.options.dry_run or review.mass_change_open(kind)):
            self.held = True
            self.errors.append(f"Too many {kind} archives at once: held for review.")
        if not self.options.dry_run:  # a complete read of these pages settles stale items
            review.resolve_stale(self.run, kind, read, to_review, self.applier.recorder.flagged)

    def _read_of(self, kind: str) -> tuple[set[str], set[str]]:
        """The pages of `kind` outside its sync filter, and all its pages read this run."""
        records = self.notion_records.get(kind)
        if records is None:
            return self.excluded_pages.get(kind, set()), self.read_pages.get(kind, set())
        return {p for p, r in records.items() if r.excluded}, set(records)

    def _release(self, snapshot: Snapshot) -> None:
        """Once planned, a kind's records live on only in its changes: memory stays bounded
        by one kind, and shrinks as the changes are applied."""
        if snapshot.kind in self.notion_records:
            self.excluded_pages[snapshot.kind], self.read_pages[snapshot.kind] = \
                self._read_of(snapshot.kind)
        self.notion_records.pop(snapshot.kind, None)
        snapshot.notion, snapshot.clockify, snapshot.known = {}, {}, {}
        snapshot._names = {}

    def _population(self, snapshot: Snapshot) -> int:
        """How many records of the kind are mapped: what a mass change is measured against."""
        if self.options.mode != Mode.INCREMENTAL:
            return len(snapshot.known)  # a full run (or an audit) loaded them all
        return EntityMapping.objects.filter(kind=snapshot.kind).count()

    def probe(self, kind: str) -> list[Change]:
        """Plan `kind` without applying anything (review decisions re-check with this)."""
        snapshot = self.snapshot(kind)
        return plan(snapshot) if snapshot is not None else []

    def snapshot(self, kind: str) -> Snapshot | None:
        if kind not in self.notion_records:
            return None
        parent_kind = kinds.get(kind).parent
        if parent_kind in self.failed_kinds:
            self._kind_failed(kind, f"Skipped {kind}s: reading their parents failed.")
            return None
        notion = self.notion_records[kind]
        incremental = self.options.mode == Mode.INCREMENTAL
        rows = EntityMapping.objects.filter(kind=kind)
        if incremental:  # only the pages read; a full run needs all to spot missing ones
            rows = rows.filter(notion_page_id__in=list(notion))
        # Once per kind, in bulk, as plain values (the applier loads the rows it writes).
        known = {page: Known(page, clockify_id, state, baseline, pk)
                 for page, clockify_id, state, baseline, pk in rows.values_list(
                     "notion_page_id", "clockify_id", "state", "baseline", "pk",
                 ).iterator(chunk_size=2000)}
        try:
            unreachable: set[str] = set()
            if not incremental:
                unreachable = self._find_missing(kind, notion, known)
            parents = self._parents(parent_kind)
            fields = kinds.get(kind).field_names(self.configs[kind].mapped)
            snapshot = Snapshot(kind, fields, notion, {}, known, parents, unreachable,
                                self.policy)
            if incremental and notion:
                snapshot.claimed_elsewhere = set(
                    EntityMapping.objects.filter(kind=kind, clockify_id__isnull=False)
                    .exclude(notion_page_id__in=list(notion))
                    .values_list("clockify_id", flat=True))
            if incremental and not self.options.targeted:
                # A poll skips pages unchanged in Notion; a targeted run may come from a
                # Clockify-side change, so it reads Clockify for every page it names.
                self._drop_unchanged(snapshot)
            self.progress(f"Reading Clockify {kind}s")
            snapshot.clockify = self._read_clockify(snapshot, incremental) if incremental \
                else self.read_clockify_full(snapshot)
        except ApiError as exc:
            self._kind_failed(kind, f"Reading {kind}s failed: {exc}")
            return None
        return snapshot

    def _find_missing(self, kind, notion, known) -> set[str]:
        missing = [page_id for page_id, k in known.items() if page_id not in notion
                   and not (k.state == MappingState.ARCHIVED
                            and k.baseline.get("notion", {}).get("_trashed"))]
        trashed, unreachable = snapshots.look_up_missing(self.notion, self.configs[kind], missing)
        notion.update(trashed)
        return unreachable

    def _drop_unchanged(self, snapshot: Snapshot) -> None:
        """Incremental: pages whose synced values equal the baseline need no Clockify read."""
        for page_id, record in list(snapshot.notion.items()):
            known = snapshot.known.get(page_id)
            if not known or not known.clockify_id or record.clockify_id != known.clockify_id:
                continue
            base = known.baseline.get("notion", {})
            if all(record.fields.get(f) == base.get(f) for f in snapshot.fields):
                del snapshot.notion[page_id]

    def _parents(self, parent_kind: str | None) -> Parents:
        # A copy of what the applier knows so far: the plan reads it, never the live tables.
        parents = Parents(failed=dict(self.applier.failed_pages),
                          skipped=set(self.applier.skipped_pages))
        if parent_kind is None:
            return parents
        parents.excluded = snapshots.excluded_pages(
            self.configs[parent_kind], *self._read_of(parent_kind))
        parents.to_clockify.update(self.applier.planned_pages)
        for m in EntityMapping.objects.filter(kind=parent_kind).only(
                "id", "notion_page_id", "clockify_id"):
            parents.to_mapping[m.notion_page_id] = m.id
            if m.clockify_id:
                parents.to_clockify[m.notion_page_id] = m.clockify_id
                parents.to_notion[m.clockify_id] = m.notion_page_id
        return parents

    def _orphan(self, kind: str, unreachable: set[str]) -> None:
        if unreachable and not self.options.dry_run:
            EntityMapping.objects.filter(kind=kind, notion_page_id__in=unreachable) \
                .update(state=MappingState.ORPHANED)

    # -- the whole run -----------------------------------------------------------------------------
    def finish(self) -> SyncRun:
        counts = self.applier.recorder.plain_counts()
        trouble = any(c.get("failed") or c.get("flagged") for c in counts.values())
        for kind in self.failed_kinds & set(self.kinds):  # a problem people must see counted
            counts.setdefault(kind, {})["read_failed"] = 1
        if self.failed_kinds and not self.lost_access:
            # A read that failed (connection, 5xx/429 retries exhausted, refused) is a failed
            # run, whatever else was applied: it is not a partial success.
            status = RunStatus.FAILED
        elif self.held:
            status = RunStatus.HELD
        elif trouble:
            status = RunStatus.PARTIAL
        else:
            status = RunStatus.SUCCEEDED
        if self.stopped:
            status = RunStatus.FAILED
            self.errors.insert(0, "Stopped on request between two changes: everything applied "
                                  "so far is recorded, the rest is untouched; the next run "
                                  "continues from there.")
        if self.resumes_at is not None:
            status = self._wait_for_budget(status)
        self._save_data_sources()
        self.record_clockify_read()
        self.run.finish(status, counts=counts, errors="\n".join(self.errors),
                        api_calls=api_calls(self.notion, self.clockify),
                        complete=not self.failed_kinds and self.resumes_at is None)
        return self.run

    def _wait_for_budget(self, status: str) -> str:
        """Stopped before a request the budget did not allow: a follow-up continues.

        A failed read or a hold keeps its status (people must act); it still resumes."""
        message = budget.waiting_message(self.resumes_at)
        self.errors.insert(0, f"{message}: everything applied so far is recorded, the rest "
                              "is untouched; a follow-up run continues then.")
        self.run.resumes_at = self.resumes_at
        if not self.options.dry_run:
            budget.schedule_resume(self.resumes_at)
        return status if status in (RunStatus.FAILED, RunStatus.HELD) else RunStatus.WAITING


def _needs_mapping(change: Change) -> bool:
    """A planned change the applier records against, or writes to, its stored mapping."""
    return change.known is not None and bool(change.verdict or change.conflicts
                                             or change.writes)


def api_calls(notion: NotionClient, clockify: ClockifyClient) -> dict:
    return {client.service: _calls_of(client) for client in (notion, clockify)}


def _calls_of(client) -> dict:
    by_endpoint = _copied(client.calls)  # one copy: the total agrees with it
    return {"total": sum(by_endpoint.values()), "retries": client.retries,
            "rate_limited": client.rate_limited, "waited_seconds": round(client.waited, 3),
            "by_endpoint": by_endpoint}


def _copied(counter) -> dict:
    """A copy of a counter the Clockify thread may be adding a key to right now."""
    for _ in range(10):
        try:
            return dict(counter)
        except RuntimeError:  # "dictionary changed size during iteration": try again
            continue
    return {}


def run_sync(options: SyncOptions, *, run: SyncRun | None = None,
             notion: NotionClient | None = None,
             clockify: ClockifyClient | None = None) -> SyncRun:
    """Run one sync in this process and return the finished SyncRun."""
    notion = notion or connections.notion_client()
    clockify = clockify or connections.clockify_client()
    since = None
    if options.mode == Mode.INCREMENTAL and not options.targeted:
        since = last_watermark()
        if since is None:
            options.mode = Mode.FULL  # nothing to be incremental from yet
            if run is not None:
                run.mode = Mode.FULL
    run = run or SyncRun.objects.create(trigger=options.trigger, mode=options.mode,
                                        dry_run=options.dry_run, kinds=options.kinds,
                                        triggered_by=options.triggered_by)
    run.watermark = None if options.targeted else timezone.now()
    with logcontext.bound_run(run.pk), _older_objects_frozen():
        return _run_session(SyncSession(run, options, notion, clockify), since)


@contextmanager
def _older_objects_frozen():
    """A run decodes tens of thousands of short-lived JSON objects; each full collection they
    trigger would otherwise scan every object the process held before the run (Django, the
    worker, in-process emulators): 0.96 s of a 3.5 s no-change run of dataset B, 0.38 s
    frozen. Frozen objects are only skipped by the cycle collector, never kept alive by it:
    unfreezing hands them back to it after the run."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_session(session: SyncSession, since) -> SyncRun:
    """Read, plan and apply every kind; a crash marks the run failed before it propagates."""
    run, notion, clockify = session.run, session.notion, session.clockify
    try:
        session.begin_clockify()  # full runs: Clockify is read beside Notion, on its thread
        session.read_notion(since)
        session.join_clockify()
        for kind in session.kinds:
            session.sync_kind(kind)
    except AuthError as exc:
        session._kind_failed("all", f"Access refused: {exc}")
        session.failed_kinds.update(session.kinds)
        session.lost_access = False  # refused everywhere: the run failed, nothing to hold
    except StopRequested:
        session.stopped = True
    except BudgetExhausted as exc:  # raised before sending: a safe point
        session.resumes_at = exc.resumes_at
    except BaseException as exc:
        run.fail(f"The run stopped: {exc!r}", api_calls=api_calls(notion, clockify), phase=None)
        raise
    return session.finish()
