"""Canonical records: what a Notion page or a Clockify entity says, in one vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncapp.clients.clockify import UPDATE_SOURCES
from syncapp.clients.notion_values import is_trashed, read_property, title_property
from syncapp.engine import kinds
from syncapp.engine.fields import (
    FILTER,
    READABLE_TYPES,
    color_to_hex,
    normalise_text,
    round_hours,
)


@dataclass(frozen=True)
class SyncFilter:
    """Selective sync: which pages of a database are synced.

    A checkbox that must be ticked (no values), or a status/select property whose value must
    be one of `values`. Evaluated on the pages read (never as a Notion query filter), so a page
    edited out of the filter is still read, by a poll too, and closed like any other close.
    """

    property: str
    values: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> SyncFilter | None:
        """The stored form ({"property": ..., "values": [...]}; {} = no filter)."""
        if not isinstance(data, dict) or not isinstance(data.get("property"), str) \
                or not data["property"]:
            return None
        values = data.get("values") or []
        return cls(data["property"], tuple(str(v) for v in values if isinstance(v, str)))

    def to_json(self) -> dict:
        return {"property": self.property, "values": list(self.values)} if self.values \
            else {"property": self.property}

    def describe(self) -> str:
        if self.values:
            return f"“{self.property}” is one of: {', '.join(self.values)}"
        return f"“{self.property}” is ticked"


@dataclass
class MappingConfig:
    """The database mapping of one kind, as plain values (see models.DatabaseMapping)."""

    kind: str
    properties: dict[str, str]
    closed_values: list[str] = field(default_factory=list)
    sync_filter: SyncFilter | None = None

    @property
    def mapped(self) -> set[str]:
        return set(self.properties)


@dataclass(slots=True)  # one per record: no __dict__ each
class NotionRecord:
    kind: str
    page_id: str
    fields: dict[str, Any]
    clockify_id: str | None = None
    last_edited: str | None = None
    trashed: bool = False
    # Outside the database's sync filter: never created; once synced, closed like a close.
    excluded: bool = False
    status_name: str | None = None
    closed_type: str = "checkbox"
    props: dict[str, tuple[str, str]] = field(default_factory=dict)  # field → (name, type)
    problems: list[str] = field(default_factory=list)  # worth knowing, not blocking
    errors: list[str] = field(default_factory=list)  # the record cannot be synced as is
    # Values a person must fix in Notion (each with the fix): a validation item for review.
    invalid: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.fields.get("name") or ""


@dataclass(slots=True)  # one per record: no __dict__ each
class ClockifyRecord:
    kind: str
    id: str
    fields: dict[str, Any]
    raw: dict = field(default_factory=dict)
    parent_id: str | None = None  # Clockify id of the client / project

    @property
    def name(self) -> str:
        return self.fields.get("name") or ""


def _closed(config: MappingConfig, prop: dict | None) -> tuple[bool, str | None]:
    if not prop:
        return False, None
    if prop.get("type") == "checkbox":
        return bool(prop.get("checkbox")), None
    value = read_property(prop)
    return (value in config.closed_values), value


def notion_record(config: MappingConfig, page: dict) -> NotionRecord:
    """Normalise one Notion page; problems are collected, never raised."""
    props = page.get("properties") or {}
    record = NotionRecord(kind=config.kind, page_id=page["id"], fields={},
                          last_edited=page.get("last_edited_time"), trashed=is_trashed(page))
    title = title_property(props)
    if title is None:
        record.errors.append("The page has no title property.")
    record.fields["name"] = (read_property(props[title]) or "").strip() if title else ""
    if title:
        record.props["name"] = (title, "title")
    usable = {}
    for key, prop_name in config.properties.items():
        prop = _checked(record, key, prop_name, props)
        if prop is not None:
            record.props[key] = (prop_name, prop.get("type", ""))
            usable[key] = prop
    _apply_filter(config, record, props)
    record.props = _shared(record.props)
    try:
        _read_fields(config, record, usable)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        record.errors.append(f"A property value could not be read ({exc}).")
    return record


def _apply_filter(config: MappingConfig, record: NotionRecord, props: dict) -> None:
    """Mark a page outside the sync filter; a filter that cannot be read is an error (the
    page changes nothing), never a reason to close everything."""
    rule = config.sync_filter
    if rule is None:
        return
    prop = props.get(rule.property)
    if prop is None:
        record.errors.append(f"The page has no “{rule.property}” property (the sync filter); "
                             "fix the filter in the mapping editor or add the property in "
                             "Notion.")
        return
    kind = prop.get("type", "")
    if kind not in FILTER.types:
        record.errors.append(f"“{rule.property}” is a {kind} property, but the sync filter "
                             f"needs a {FILTER.words}. Fix the filter in the mapping editor.")
        return
    value = read_property(prop)
    record.excluded = not (bool(value) if kind == "checkbox" else value in rule.values)


_PROPS: dict[tuple, dict[str, tuple[str, str]]] = {}


def _shared(props: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Pages of one database name the same properties: one dict for all of them, not one
    per page (read only once built). Bounded: a few layouts per database at most."""
    key = tuple(props.items())
    if key in _PROPS or len(_PROPS) < 1024:
        return _PROPS.setdefault(key, props)
    return props


# Fields a database may simply not have: their property missing means "not synced".
OPTIONAL_FIELDS = {"email", "address", "note", "billable", "color", "estimate"}


def _checked(record: NotionRecord, key: str, prop_name: str, props: dict) -> dict | None:
    """The property behind a mapped field, or None with an error when it cannot serve."""
    prop = props.get(prop_name)
    field = kinds.get(record.kind).field(key)
    optional = key in OPTIONAL_FIELDS or bool(field and field.optional)
    if prop is None and optional:
        return None
    if prop is None:
        record.errors.append(f"The page has no “{prop_name}” property (mapped to {key}); "
                             "fix the field mapping or add the property in Notion.")
        return None
    kind = prop.get("type", "")
    allowed = READABLE_TYPES.get(key)
    if allowed and kind not in allowed:
        record.errors.append(f"“{prop_name}” is a {kind} property, but {key} needs one of: "
                             f"{', '.join(sorted(allowed))}. Fix the field mapping or the "
                             "property's type in Notion.")
        return None
    return prop


def _read_fields(config: MappingConfig, record: NotionRecord, usable: dict[str, dict]) -> None:
    closed, record.status_name = _closed(config, usable.get("closed"))
    # Leaving the filter reads as a close: archived through the same policy and review rules.
    record.fields["closed"] = closed or record.trashed or record.excluded
    if "closed" in usable:
        record.closed_type = usable["closed"].get("type", "checkbox")
    if "parent" in usable:
        relation = read_property(usable["parent"]) or []
        record.fields["parent"] = (relation or [None])[0]
        if len(relation) > 1:  # picking one would be a guess
            record.invalid.append(
                f"“{config.properties['parent']}” links {len(relation)} pages, but a "
                f"{config.kind} has one {kinds.get(config.kind).parent} in Clockify. Fix: keep "
                f"one in “{config.properties['parent']}” in Notion.")
    elif "parent" in config.properties:
        record.fields["parent"] = None
    for key in ("email", "address", "note"):
        if key in usable:
            value = read_property(usable[key])
            record.fields[key] = normalise_text(None if value is None else str(value))
    if "billable" in usable:
        record.fields["billable"] = bool(read_property(usable["billable"]))
    if "color" in usable:
        value = read_property(usable["color"])
        record.fields["color"] = color_to_hex(value if isinstance(value, str) else None)
        if isinstance(value, str) and value.strip() and record.fields["color"] is None:
            record.invalid.append(
                f"“{config.properties['color']}” is “{value}”, which is not a colour Clockify "
                "can show. Fix: choose a #rrggbb value or a Notion colour name (blue, red, "
                "…) in Notion.")
    if "estimate" in usable:
        value = read_property(usable["estimate"])
        hours = round_hours(float(value)) if value not in (None, "") else None
        record.fields["estimate"] = hours
        if hours is not None and hours < 0:  # Clockify has no negative durations
            record.invalid.append(
                f"“{config.properties['estimate']}” is {float(value):g} hours; an estimate "
                "cannot be negative. Fix: enter 0 or more hours (or nothing) in Notion.")
    if "clockify_id" in usable:
        record.clockify_id = normalise_text(read_property(usable["clockify_id"]))


def clockify_record(kind: str, entity: dict) -> ClockifyRecord:
    """Normalise a Clockify client, project or task."""
    fields, parent = kinds.get(kind).from_clockify(entity)
    # Only what a later update's PUT body needs: a run holds one record per entity.
    raw = {key: value for key, value in entity.items() if key in UPDATE_SOURCES}
    return ClockifyRecord(kind=kind, id=entity["id"], fields=fields, raw=raw,
                          parent_id=parent)
