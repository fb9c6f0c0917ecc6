"""Plan one kind: match Notion records to Clockify entities and diff them three ways.

Pure: takes snapshots and known mappings, returns Changes. The services apply
them (or, in a dry run, only record them).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from syncapp.engine import kinds
from syncapp.engine.fields import NOTION_TO_CLOCKIFY, loose_name
from syncapp.engine.kinds import name_problem
from syncapp.engine.policy import (
    CLOCKIFY_TO_NOTION,
    CLOCKIFY_WINS,
    LINK_EXACT,
    NEVER_LINK,
    NOTION_WINS,
    Policy,
)
from syncapp.engine.records import ClockifyRecord, NotionRecord

PLACEHOLDER = "(to be created)"  # a parent that a dry run would create first


@dataclass(slots=True)  # one per record: no __dict__ each
class Known:
    """A stored mapping, as the planner sees it."""

    page_id: str
    clockify_id: str | None
    state: str
    baseline: dict = field(default_factory=dict)
    mapping_id: int | None = None

    def __post_init__(self) -> None:
        # Decoding JSON makes a copy of every key and value per row: thousands of baselines
        # then hold thousands of copies of "notion", "closed", a status or a parent's id.
        self.baseline = _interned(self.baseline)


def _interned(value: Any) -> Any:
    if isinstance(value, dict):
        return {_interned(k): _interned(v) for k, v in value.items()}
    if isinstance(value, str) and len(value) <= 40:  # keys, ids, statuses; not long texts
        return sys.intern(value)
    return value


@dataclass
class Parents:
    """How parents of this kind's records resolve (clients for projects, projects for tasks)."""

    to_clockify: dict[str, str] = field(default_factory=dict)  # Notion page → Clockify id
    to_notion: dict[str, str] = field(default_factory=dict)  # Clockify id → Notion page
    failed: dict[str, str] = field(default_factory=dict)  # Notion page → why it failed
    to_mapping: dict[str, int] = field(default_factory=dict)  # Notion page → mapping row id
    skipped: set[str] = field(default_factory=set)  # closed parents, deliberately not created
    excluded: set[str] = field(default_factory=set)  # parents outside their sync filter

    def clockify_parent(self, page_id: str | None) -> str | None:
        return self.to_clockify.get(page_id) if page_id else None


@dataclass(slots=True)  # one per record: no __dict__ each
class Change:
    kind: str
    action: str
    page_id: str | None
    clockify_id: str | None = None
    name: str = ""
    to_clockify: dict[str, Any] = field(default_factory=dict)
    to_notion: dict[str, Any] = field(default_factory=dict)
    diff: dict[str, dict] = field(default_factory=dict)
    conflicts: dict[str, dict] = field(default_factory=dict)
    verdict: str = ""  # "" = apply; "fail", "skip" or "flag" = decided while planning
    reason: str = ""
    error: str = ""
    write_clockify_id: bool = False
    parent_clockify_id: str | None = None
    notion: NotionRecord | None = None
    clockify: ClockifyRecord | None = None
    known: Known | None = None
    candidates: list[dict] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return not self.verdict and bool(
            self.action in {"create", "link"} or self.to_clockify or self.to_notion
            or self.write_clockify_id)


@dataclass
class Snapshot:
    kind: str
    fields: list[str]
    notion: dict[str, NotionRecord]
    clockify: dict[str, ClockifyRecord]
    known: dict[str, Known]
    parents: Parents
    unreachable: set[str] = field(default_factory=set)
    policy: Policy = field(default_factory=Policy)
    # Clockify ids mapped to pages outside this snapshot (an incremental run reads a few pages)
    claimed_elsewhere: set[str] = field(default_factory=set)
    # (parent, name) → Clockify entities, exact and loose; built once per plan
    _names: dict = field(default_factory=dict, repr=False)


def canonical_clockify(snapshot: Snapshot, record: ClockifyRecord) -> dict[str, Any]:
    """Clockify's values with the parent expressed as a Notion page id, for comparison."""
    values = dict(record.fields)
    if "parent" in snapshot.fields:
        parent = record.parent_id
        values["parent"] = snapshot.parents.to_notion.get(parent, f"clockify:{parent}") \
            if parent else None
    return values


def _index_names(snapshot: Snapshot) -> None:
    """Name look-ups in O(1): matching every record against every entity is quadratic."""
    index: dict[tuple, list[ClockifyRecord]] = defaultdict(list)
    for entity in snapshot.clockify.values():
        parent = entity.parent_id if "parent" in snapshot.fields else None
        index[(False, parent, entity.name)].append(entity)
        index[(True, parent, loose_name(entity.name))].append(entity)
    snapshot._names = index


def plan(snapshot: Snapshot) -> list[Change]:
    _index_names(snapshot)
    claimed = {k.clockify_id for k in snapshot.known.values() if k.clockify_id}
    claimed |= snapshot.claimed_elsewhere
    changes: list[Change] = []
    for record in sorted(snapshot.notion.values(), key=lambda r: (r.name, r.page_id)):
        change = _plan_record(snapshot, record, claimed)
        if change is not None:
            changes.append(change)
            if change.clockify_id and change.action == "link" and not change.verdict:
                claimed.add(change.clockify_id)
    for page_id in sorted(snapshot.unreachable):
        known = snapshot.known[page_id]
        changes.append(Change(
            kind=snapshot.kind, action="archive", page_id=page_id,
            clockify_id=known.clockify_id, known=known, verdict="flag", reason="unreachable",
            name=known.baseline.get("notion", {}).get("name", ""),
            error="The Notion page is gone or no longer shared with the integration; "
                  "nothing was archived. Restore access, or archive it in Clockify by hand.",
        ))
    return changes


def _plan_record(snapshot: Snapshot, record: NotionRecord, claimed: set[str]) -> Change | None:
    known = snapshot.known.get(record.page_id)
    if record.excluded and not record.trashed:  # a trashed page is archived as trashed
        return _left_filter(snapshot, record, known)
    if record.errors:  # a malformed page changes nothing on either side
        return Change(kind=snapshot.kind, action="skip", page_id=record.page_id,
                      clockify_id=known.clockify_id if known else None, name=record.name,
                      notion=record, known=known, verdict="fail", reason="malformed",
                      error=" ".join(record.errors[:3]))
    if record.invalid:  # a value only a person can fix: a validation item, nothing synced
        return Change(kind=snapshot.kind, action="update" if known else "create",
                      page_id=record.page_id, clockify_id=known.clockify_id if known else None,
                      name=record.name, notion=record, known=known, verdict="fail",
                      reason="validation", error=" ".join(record.invalid[:3]))
    if known and known.clockify_id:
        entity = snapshot.clockify.get(known.clockify_id)
        if entity is not None:
            return _diff(snapshot, record, entity, known)
        return _create(snapshot, record, known, reason="missing_in_clockify")
    if record.clockify_id and record.clockify_id in snapshot.clockify \
            and record.clockify_id not in claimed:
        return _link(snapshot, record, snapshot.clockify[record.clockify_id], known,
                     reason="clockify_id_property")
    if record.fields.get("closed"):
        if known:  # a create that never completed, now closed: nothing to create
            return None
        return Change(kind=snapshot.kind, action="skip", page_id=record.page_id,
                      name=record.name, notion=record, verdict="skip", reason="closed",
                      error="Closed in Notion and not in Clockify: nothing to create.")
    return _match_by_name(snapshot, record, known, claimed)


def _left_filter(snapshot: Snapshot, record: NotionRecord, known: Known | None) -> Change | None:
    """A page outside the sync filter is not synced: never created, linked or reviewed. One
    that was synced is archived once, like a close in Notion (the same policy, review and
    mass-change rules), never deleted; after that it is left alone until it is back inside."""
    if not known or not known.clockify_id or known.baseline.get("notion", {}).get("_excluded"):
        return None
    entity = snapshot.clockify.get(known.clockify_id)
    if entity is None or entity.fields.get("closed"):
        return None
    change = Change(kind=snapshot.kind, action="update", page_id=record.page_id,
                    clockify_id=entity.id, name=record.name, notion=record, clockify=entity,
                    known=known, reason="left_filter")
    _to_clockify(change, "closed", True, False, "left the sync filter")
    _name_action(snapshot, change)
    return change


def _candidates(snapshot: Snapshot, record: NotionRecord, claimed: set[str], loose: bool):
    parent = snapshot.parents.clockify_parent(record.fields.get("parent")) \
        if "parent" in snapshot.fields else None
    wanted = loose_name(record.name) if loose else record.name
    return [e for e in snapshot._names.get((loose, parent, wanted), []) if e.id not in claimed]


def _match_by_name(snapshot, record, known, claimed) -> Change:
    exact = list(_candidates(snapshot, record, claimed, loose=False))
    matching = snapshot.policy.name_matching
    if known and len(exact) == 1:  # reading back our own interrupted create
        return _link(snapshot, record, exact[0], known, reason="read_back")
    if matching == NEVER_LINK and not known:
        return _create(snapshot, record, known, reason="new")
    if len(exact) == 1 and matching == LINK_EXACT:
        return _link(snapshot, record, exact[0], known, reason="name_match")
    near = exact or list(_candidates(snapshot, record, claimed, loose=True))
    if near:
        listed = ", ".join(f"“{e.name}” ({e.id})" for e in near[:5])
        why = ("The policy asks for review of every name match" if len(exact) == 1
               else "Several or only approximate Clockify matches")
        return Change(kind=snapshot.kind, action="link", page_id=record.page_id,
                      name=record.name, notion=record, known=known, verdict="flag",
                      reason="ambiguous_match",
                      candidates=[{"id": e.id, "name": e.name} for e in near[:10]],
                      error=f"{why}: {listed}. Approve to link the first, or rename one side.")
    return _create(snapshot, record, known, reason="new")


def _parent_problem(snapshot: Snapshot, record: NotionRecord) -> tuple[str, str] | None:
    if "parent" not in snapshot.fields:
        return None
    parent = record.fields.get("parent")
    if parent is None:
        spec = kinds.get(snapshot.kind)
        if not spec.field("parent").optional:
            return "no_parent", (f"The {spec.name} has no {spec.parent} in Notion; Clockify "
                                 f"{spec.name}s need one.")
        return None
    if parent in snapshot.parents.excluded:
        return "parent_excluded", "Its parent is outside the sync filter, so it is not synced."
    if parent in snapshot.parents.skipped:
        return "parent_skipped", "Its parent is closed in Notion and not in Clockify."
    if parent in snapshot.parents.failed:
        return "parent_failed", f"Its parent was not synced: {snapshot.parents.failed[parent]}"
    if parent not in snapshot.parents.to_clockify:
        return "validation", _missing_parent_fix(snapshot.kind, record)
    return None


def _missing_parent_fix(kind: str, record: NotionRecord) -> str:
    prop = record.props.get("parent", ("the parent relation", ""))[0]
    database = kinds.get(kinds.get(kind).parent).database_label
    return (f"“{prop}” links a page that is not a synced page of the {database} database: it "
            "is in another database, trashed, or not shared with the integration. Fix: "
            f"link a page of the {database} database in “{prop}” in Notion.")


def _create(snapshot: Snapshot, record: NotionRecord, known: Known | None, *, reason: str):
    if record.fields.get("closed"):
        return Change(kind=snapshot.kind, action="skip", page_id=record.page_id,
                      name=record.name, notion=record, known=known, verdict="skip",
                      reason="closed", error="Closed in Notion and gone from Clockify.")
    change = Change(kind=snapshot.kind, action="create", page_id=record.page_id,
                    name=record.name, notion=record, known=known, reason=reason,
                    write_clockify_id=True,
                    to_clockify={f: record.fields[f] for f in snapshot.fields
                                 if f in record.fields})
    change.diff = {f: {"before": None, "after": v} for f, v in change.to_clockify.items()}
    problem = name_problem(snapshot.kind, record.name)
    if problem:
        change.verdict, change.reason, change.error = "fail", "validation", problem
        return change
    parent_issue = _parent_problem(snapshot, record)
    if parent_issue:
        change.verdict = "skip" if parent_issue[0] in {"no_parent", "parent_skipped",
                                                       "parent_excluded"} else "fail"
        change.reason, change.error = parent_issue
        return change
    change.parent_clockify_id = snapshot.parents.clockify_parent(record.fields.get("parent"))
    return change


def _link(snapshot, record, entity: ClockifyRecord, known, *, reason: str) -> Change:
    change = _diff(snapshot, record, entity, known or Known(record.page_id, None, "creating"))
    change.known = known
    change.action = "link"
    change.reason = reason
    change.write_clockify_id = True
    return change


def _diff(snapshot: Snapshot, record: NotionRecord, entity: ClockifyRecord,
          known: Known) -> Change:
    change = Change(kind=snapshot.kind, action="update", page_id=record.page_id,
                    clockify_id=entity.id, name=record.name, notion=record, clockify=entity,
                    known=known, write_clockify_id=record.clockify_id != entity.id)
    ours, theirs = record.fields, canonical_clockify(snapshot, entity)
    base_n = known.baseline.get("notion", {})
    base_c = known.baseline.get("clockify", {})
    for name in snapshot.fields:
        if name not in ours:  # this database has no property for the field: not synced
            continue
        n, c = ours.get(name), theirs.get(name)
        if n == c or (name == "color" and n is None):
            continue
        has_base = name in base_n and name in base_c
        notion_moved = not has_base or n != base_n[name]
        clockify_moved = has_base and c != base_c[name]
        owner = snapshot.policy.direction(snapshot.kind, name)
        if notion_moved and clockify_moved:
            _conflict(snapshot, change, name, n, c, base_n.get(name))
        elif notion_moved and owner == CLOCKIFY_TO_NOTION:
            _to_notion(change, name, n, c, "changed in Notion; restored from Clockify")
        elif notion_moved:
            _to_clockify(change, name, n, c)
        elif owner == NOTION_TO_CLOCKIFY:
            _to_clockify(change, name, n, c, "changed in Clockify; restored from Notion")
        else:
            _to_notion(change, name, n, c)
    _name_action(snapshot, change)
    return change


def _entry(before: Any, after: Any, side: str, note: str) -> dict:
    entry = {"before": before, "after": after, "side": side}
    if note:
        entry["note"] = note
    return entry


def _to_clockify(change: Change, name: str, n: Any, c: Any, note: str = "") -> None:
    change.to_clockify[name] = n
    change.diff[name] = _entry(c, n, "clockify", note)


def _to_notion(change: Change, name: str, n: Any, c: Any, note: str = "") -> None:
    change.to_notion[name] = c
    change.diff[name] = _entry(n, c, "notion", note)


def _conflict(snapshot: Snapshot, change: Change, name: str, n: Any, c: Any, base: Any) -> None:
    """Both sides changed the field differently: the policy decides, or a person does."""
    rule = snapshot.policy.on_conflict(snapshot.kind, name)
    if rule == NOTION_WINS:
        _to_clockify(change, name, n, c, "conflict: Notion wins by policy")
    elif rule == CLOCKIFY_WINS:
        _to_notion(change, name, n, c, "conflict: Clockify wins by policy")
    else:
        change.conflicts[name] = {"baseline": base, "notion": n, "clockify": c}


def _name_action(snapshot: Snapshot, change: Change) -> None:
    """Pick the action that best describes the change, and validate what it sends."""
    if "name" in change.to_clockify:
        problem = name_problem(snapshot.kind, change.to_clockify["name"])
        if problem:
            change.verdict, change.reason, change.error = "fail", "validation", problem
            return
    if "parent" in change.to_clockify:
        issue = _parent_problem(snapshot, change.notion)
        if issue:
            change.verdict, (change.reason, change.error) = "fail", issue
            return
        change.parent_clockify_id = snapshot.parents.clockify_parent(change.to_clockify["parent"])
        change.action = "reparent"
    closed = change.to_clockify.get("closed")
    if closed is True:
        change.action = "archive"
        if snapshot.policy.archives_need_review:
            change.verdict, change.reason = "flag", "destructive"
            change.error = "The policy asks for review before anything is archived in Clockify."
    elif closed is False:
        change.action = "unarchive"
    elif not change.to_clockify and (change.to_notion or change.write_clockify_id):
        change.action = "write_back"


def hold_mass_archives(snapshot: Snapshot, changes: list[Change], population: int) -> bool:
    """Turn this kind's archives into review items when there are too many. True if held."""
    archives = [c for c in changes if c.action == "archive" and not c.verdict]
    unreachable = [c for c in changes if c.reason == "unreachable"]
    if not snapshot.policy.is_mass_change(len(archives) + len(unreachable), population):
        return False
    for change in archives:
        change.verdict, change.reason = "flag", "mass_change"
        change.error = (f"This run would archive {len(archives) + len(unreachable)} of "
                        f"{population} {snapshot.kind}s: held for review.")
    return True
