"""What a database mapping may say, checked against a live Notion schema (pure: no HTTP).

The mapping editor offers only fitting properties (the READABLE table in fields.py) and real
options, and refuses a mapping with problems here, each with a plain fix; nothing is saved.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from syncapp.clients.formats import compact_id
from syncapp.engine import kinds
from syncapp.engine.fields import FILTER, READABLE, Readable
from syncapp.engine.records import SyncFilter

OPTION_TYPES = frozenset({"status", "select"})  # properties whose values are named options
TYPE_WORDS = {"rich_text": "Text", "multi_select": "Multi-select", "phone_number": "Phone",
              "created_time": "Created time", "last_edited_time": "Last edited time",
              "unique_id": "ID"}


def type_words(kind: str) -> str:
    return TYPE_WORDS.get(kind, kind.replace("_", " ").capitalize())


@dataclass
class Proposal:
    """A mapping as someone proposes it: field → property, closed values, the filter."""

    properties: dict[str, str]
    closed_values: list[str] = field(default_factory=list)
    sync_filter: SyncFilter | None = None


@dataclass(frozen=True)
class Problem:
    field: str  # a mapped field, or "filter"
    message: str
    fix: str


def editable_fields(kind: str) -> list[str]:
    """The fields a person maps to a property (the title is found by type): the kind's
    synced fields that read a property, then the Clockify ID written back."""
    spec = kinds.get(kind)
    return [f.name for f in spec.fields if f.name in READABLE] + ["clockify_id"]


def required(kind: str, key: str) -> bool:
    spec_field = kinds.get(kind).field(key)
    return bool(spec_field and not spec_field.optional)


def field_label(kind: str, key: str) -> str:
    """The field in Clockify's words, as the editor and its fixes name it."""
    spec = kinds.get(kind)
    if key == "closed":
        return "Archived" if "archived" in spec.closed_body(True) else "Done (task status)"
    if key == "parent":
        return kinds.get(spec.parent).label if spec.parent else "Parent"
    return {"clockify_id": "Clockify ID", "email": "E-mail", "estimate": "Estimate (hours)"} \
        .get(key, key.replace("_", " ").capitalize())


def fitting(schema: dict[str, dict], readable: Readable) -> list[tuple[str, str]]:
    """(property name, type in words) of the schema's properties a field can read."""
    return sorted((name, type_words(prop.get("type", ""))) for name, prop in schema.items()
                  if prop.get("type") in readable.types)


def options(prop: dict | None) -> list[str]:
    """The option names of a status or select property, in Notion's order."""
    if not prop or prop.get("type") not in OPTION_TYPES:
        return []
    return [o.get("name") for o in (prop.get(prop["type"]) or {}).get("options", [])
            if o.get("name")]


def relation_targets(prop: dict) -> set[str]:
    config = prop.get("relation") or {}
    return {compact_id(config.get(key)) for key in ("data_source_id", "database_id")} - {""}


def validate(kind: str, schema: dict[str, dict], proposal: Proposal,
             parent_targets: set[str] | None = None) -> list[Problem]:
    """Every problem of the proposal against the live schema, each with its fix.

    `parent_targets`: the parent database's id and data source ids (compact), to check that
    the parent relation points there; None skips that check.
    """
    problems: list[Problem] = []
    chosen = proposal.properties
    for key in editable_fields(kind):
        name = chosen.get(key)
        if not name:
            if required(kind, key):
                problems.append(_missing_choice(kind, key, schema))
            continue
        problem = _property_problem(kind, key, name, schema.get(name))
        if problem:
            problems.append(problem)
        elif key == "parent" and parent_targets is not None:
            problems += _relation_problem(kind, name, schema[name], parent_targets)
    problems += [Problem(k, f"“{k}” is not a field the sync knows for a {kind}.",
                         "Leave it out.") for k in chosen if k not in editable_fields(kind)]
    problems += _shared(kind, chosen)
    if chosen.get("closed") in schema and not any(p.field == "closed" for p in problems):
        problems += _closed_values(kind, schema[chosen["closed"]], proposal.closed_values)
    if proposal.sync_filter is not None:
        problems += filter_problems(schema, proposal.sync_filter)
    return problems


def _offer(schema: dict[str, dict], readable: Readable) -> str:
    found = [name for name, _ in fitting(schema, readable)]
    if not found:
        return f"This database has no {readable.words} property: add one in Notion first."
    return "This database has: " + ", ".join(f"“{n}”" for n in found) + "."


def _missing_choice(kind: str, key: str, schema: dict[str, dict]) -> Problem:
    label, readable = field_label(kind, key), READABLE[key]
    return Problem(key, f"No property is chosen for {label}; the sync needs one (it "
                        f"{readable.role}).",
                   f"Pick a {readable.words} property for {label}. " + _offer(schema, readable))


def _property_problem(kind: str, key: str, name: str, prop: dict | None) -> Problem | None:
    label, readable = field_label(kind, key), READABLE[key]
    if prop is None:
        return Problem(key, f"The database has no property “{name}” (chosen for {label}).",
                       f"Pick one of the properties offered for {label}, or add a "
                       f"{readable.usual} property named “{name}” in Notion.")
    actual = prop.get("type", "")
    if actual not in readable.types:
        return Problem(key, f"“{name}” is a {type_words(actual)} property; {label} needs a "
                            f"{readable.words} property (it {readable.role}).",
                       f"Pick a {readable.words} property for {label}, or change the type of "
                       f"“{name}” in Notion.")
    return None


def _relation_problem(kind: str, name: str, prop: dict, targets: set[str]) -> list[Problem]:
    linked = relation_targets(prop)
    if not linked or linked & targets:
        return []
    parent = kinds.get(kinds.get(kind).parent).database_label
    return [Problem("parent", f"“{name}” links to another database, not the {parent} "
                              "database.",
                    f"Pick the relation that links to the {parent} database, or point "
                    f"“{name}” at it in Notion.")]


def _shared(kind: str, chosen: dict[str, str]) -> list[Problem]:
    """One property feeding two fields: the Clockify ID written back would overwrite a note."""
    counts = Counter(v for v in chosen.values() if v)
    problems = []
    for name, count in sorted(counts.items()):
        if count > 1:
            used = [field_label(kind, k) for k, v in chosen.items() if v == name]
            problems.append(Problem(
                next(k for k, v in chosen.items() if v == name),
                f"“{name}” is chosen for {' and '.join(used)}.",
                "Choose a different property for one of them: each field needs its own."))
    return problems


def _closed_values(kind: str, prop: dict, values: list[str]) -> list[Problem]:
    label = field_label(kind, "closed")
    name, kind_of = prop.get("name", ""), prop.get("type", "")
    if kind_of not in OPTION_TYPES:
        return []  # a checkbox (ticked = closed) or a formula (its result is compared)
    offered = options(prop)
    if not values:
        return [Problem("closed", f"No value of “{name}” is chosen as {label}, so nothing "
                                  "would ever be archived.",
                        f"Pick the values of “{name}” that mean closed, e.g. "
                        f"{offered[-1] if offered else 'Done'}.")]
    unknown = [v for v in values if v not in offered]
    if unknown:
        return [Problem("closed", f"{', '.join(f'“{v}”' for v in unknown)} "
                                  f"{'is' if len(unknown) == 1 else 'are'} not an option of "
                                  f"“{name}”.",
                        f"Pick among its options: {', '.join(offered) or 'none'}.")]
    return []


def filter_problems(schema: dict[str, dict], rule: SyncFilter) -> list[Problem]:
    """The sync filter against the schema (the editor and Check configuration both ask)."""
    prop = schema.get(rule.property)
    if prop is None:
        return [Problem("filter", f"The database has no property “{rule.property}” for the "
                                  "sync filter.",
                        "Pick a filter property among those offered, or add a Checkbox "
                        f"named “{rule.property}” in Notion.")]
    actual = prop.get("type", "")
    if actual not in FILTER.types:
        return [Problem("filter", f"“{rule.property}” is a {type_words(actual)} property; the "
                                  f"sync filter needs a {FILTER.words} property.",
                        f"Pick a {FILTER.words} property for the filter. "
                        + _offer(schema, FILTER))]
    if actual == "checkbox":
        if rule.values:
            return [Problem("filter", f"“{rule.property}” is a checkbox: it has no values to "
                                      "choose.", "Leave the values empty: ticked pages sync.")]
        return []
    offered = options(prop)
    if not rule.values:
        return [Problem("filter", f"No value of “{rule.property}” is chosen, so no page would "
                                  "be synced.",
                        f"Pick the values of “{rule.property}” whose pages sync: "
                        f"{', '.join(offered) or 'it has no options yet'}.")]
    unknown = [v for v in rule.values if v not in offered]
    if unknown:
        return [Problem("filter", f"{', '.join(f'“{v}”' for v in unknown)} "
                                  f"{'is' if len(unknown) == 1 else 'are'} not an option of "
                                  f"“{rule.property}”.",
                        f"Pick among its options: {', '.join(offered) or 'none'}.")]
    return []
