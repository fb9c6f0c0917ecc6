"""The review queue in plain words: what happened, the values side by side, what each choice does.

Shared by the dashboard's review console and the admin. Parents are shown by name: the diff
stores them as Notion page ids (or "clockify:<id>" for a Clockify parent nobody mapped), and
one query per page of items turns them into names.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from syncapp.engine import kinds
from syncapp.models import Decision, EntityMapping, Kind, PendingChange, ReviewStatus

FIELD_LABELS = {"name": "Name", "parent": "Parent", "closed": "Closed / archived",
                "email": "E-mail", "address": "Address", "note": "Note",
                "billable": "Billable", "color": "Colour", "estimate": "Estimate"}
SIDES = ("baseline", "notion", "clockify", "proposed")
# Statuses after which nothing more happens to an item.
FINAL = (ReviewStatus.REJECTED, ReviewStatus.APPLIED, ReviewStatus.FAILED,
         ReviewStatus.SUPERSEDED, ReviewStatus.RESOLVED)


@dataclass
class Choice:
    decision: str
    label: str
    effect: str
    primary: bool = False


@dataclass
class Row:
    field: str
    label: str
    values: list[str]  # baseline, Notion, Clockify, proposed: ready to show


@dataclass
class Item:
    """One pending change as a person reads it."""

    pending: PendingChange
    what: str
    detail: str
    rows: list[Row]
    choices: list[Choice]
    candidates: list[dict] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.pending.status in FINAL


# -- names ----------------------------------------------------------------------------------------
def parent_ids(items: Iterable[PendingChange]) -> set[str]:
    wanted = set()
    for pending in items:
        values = (pending.diff or {}).get("parent") or {}
        wanted |= {v for v in values.values() if isinstance(v, str) and v}
    return wanted


def parent_names(items: Iterable[PendingChange]) -> dict[str, str]:
    """Notion page id or "clockify:<id>" → the mapped record's name. One query."""
    wanted = parent_ids(items)
    if not wanted:
        return {}
    pages = {w for w in wanted if not w.startswith("clockify:")}
    clockify = {w.removeprefix("clockify:") for w in wanted if w.startswith("clockify:")}
    names: dict[str, str] = {}
    parent_kinds = [spec.parent for spec in kinds.KINDS if spec.parent]
    rows = EntityMapping.objects.filter(kind__in=parent_kinds).filter(
        notion_page_id__in=pages) | EntityMapping.objects.filter(clockify_id__in=clockify)
    for page_id, clockify_id, name in rows.values_list("notion_page_id", "clockify_id", "name"):
        names[page_id] = name
        if clockify_id:
            names[f"clockify:{clockify_id}"] = name
    return names


def show(value: Any, field_name: str, names: dict[str, str]) -> str:
    """A stored value as people read it."""
    if value is None or value == "":
        return "—"
    if field_name == "parent" and isinstance(value, str):
        if value in names:
            return names[value]
        return "(a Clockify record not synced)" if value.startswith("clockify:") \
            else "(a Notion page not synced yet)"
    if field_name == "closed" and isinstance(value, bool):
        return "closed" if value else "open"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# -- one item -------------------------------------------------------------------------------------
def describe_all(items: list[PendingChange]) -> list[Item]:
    names = parent_names(items)
    return [describe(p, names) for p in items]


def describe(pending: PendingChange, names: dict[str, str] | None = None) -> Item:
    names = parent_names([pending]) if names is None else names
    rows = [Row(f, FIELD_LABELS.get(f, f), [show((values or {}).get(s), f, names) for s in SIDES])
            for f, values in (pending.diff or {}).items()]
    what, detail = _explain(pending, names)
    if pending.reason == "ambiguous_match" and rows:
        first = (pending.candidates or [{}])[0]
        rows[0].values[3] = f"link to “{first.get('name', '?')}”"
    return Item(pending, what, detail, rows, choices(pending), list(pending.candidates or []))


def _kind(pending: PendingChange) -> str:
    return Kind(pending.kind).label.lower() if pending.kind in Kind.values else pending.kind


def _explain(pending: PendingChange, names: dict[str, str]) -> tuple[str, str]:
    kind, name = _kind(pending), pending.name or "(no name)"
    reason = pending.reason
    if reason == "conflict":
        parts = []
        for f, values in (pending.diff or {}).items():
            parts.append(f"{FIELD_LABELS.get(f, f).lower()}: Notion now says "
                         f"“{show(values.get('notion'), f, names)}”, Clockify says "
                         f"“{show(values.get('clockify'), f, names)}” (at the last sync both "
                         f"said “{show(values.get('baseline'), f, names)}”)")
        return (f"The {kind} “{name}” was changed on both sides since the last sync.",
                "; ".join(parts) + ". Nothing was written for these fields.")
    if reason == "ambiguous_match":
        return (f"The Notion {kind} “{name}” has no Clockify twin yet, and the name match "
                f"is not certain.", _ambiguity(pending))
    if reason == "unreachable":
        return (f"The Notion page of the {kind} “{name}” can no longer be read.",
                "It was deleted for good, or is no longer shared with the integration. "
                "If it was unshared by mistake, share it again and reject this.")
    if reason == "destructive":
        return (f"The {kind} “{name}” was closed in Notion.",
                "The policy asks for a review before anything is archived in Clockify.")
    if reason == "mass_change":
        return (f"The {kind} “{name}” would be archived together with many others in one "
                "run, so the run was held.",
                pending.explanation or "Too many archives at once.")
    if reason == "validation":
        return (f"Clockify refuses the {kind} “{name}”.", pending.explanation)
    if reason == "undo":
        return (f"Undoing a run would overwrite a later change to the {kind} “{name}”.",
                pending.explanation)
    return (f"The {kind} “{name}” needs a decision.", pending.explanation)


def _ambiguity(pending: PendingChange) -> str:
    candidates = pending.candidates or []
    listed = ", ".join(f"“{c.get('name')}”" for c in candidates)
    if len(candidates) > 1:
        return (f"Several Clockify {_kind(pending)}s could be this one: {listed}. Approving "
                "links the first; or rename one side and reject this.")
    if not candidates:
        return pending.explanation
    other, mine = candidates[0].get("name") or "", pending.name
    if other == mine:
        how = "has exactly the same name, and the policy asks to review every name match"
    elif other.casefold() == mine.casefold():
        how = "differs only in upper/lower case"
    elif _plain(other) == _plain(mine):
        how = "differs only in accents"
    elif _plain(other).casefold() == _plain(mine).casefold():
        how = "differs only in accents and case"
    else:
        how = "differs only in spacing, case or accents"
    return (f"The Clockify {_kind(pending)} {listed} {how}. Approving links the two (the Clockify "
            "name is then set to Notion's); rejecting leaves them apart.")


def _plain(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def choices(pending: PendingChange) -> list[Choice]:
    """The decisions that make sense for this item, each with what it will do."""
    kind = _kind(pending)
    reject = Choice(Decision.REJECT, "Reject",
                    "Write nothing. Not asked again until either side changes.")
    if pending.reason == "conflict":
        return [Choice(Decision.TAKE_NOTION, "Take Notion's value",
                       "Write Notion's value to Clockify.", primary=True),
                Choice(Decision.KEEP_CLOCKIFY, "Keep Clockify's value",
                       "Write Clockify's value back to Notion."), reject]
    approve = {
        "ambiguous_match": ("Approve: link them", "Link the Notion page to the first "
                            "candidate in Clockify, instead of creating a duplicate."),
        "unreachable": ("Approve: archive", f"Archive the {kind} in Clockify."),
        "destructive": ("Approve: archive", f"Archive the {kind} in Clockify."),
        "mass_change": ("Approve: archive", f"Archive this {kind} in Clockify."),
        "validation": ("Retry", "Sync the page again, after you fixed it in Notion."),
        "undo": ("Approve: undo anyway", "Set Notion and Clockify back to the proposed "
                 "values (what they held before the undone run), over the later change."),
    }.get(pending.reason, ("Approve", "Apply the proposed change."))
    return [Choice(Decision.APPROVE, approve[0], approve[1], primary=True), reject]


def status_of(pending: PendingChange) -> dict:
    """What the console's polling reads."""
    return {"id": pending.pk, "status": pending.status,
            "status_label": pending.get_status_display(), "result": pending.result,
            "final": pending.status in FINAL}
