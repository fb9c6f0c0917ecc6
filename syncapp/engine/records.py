"""Canonical records: what a Notion page or a Clockify entity says, in one vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncapp.clients.notion_values import is_trashed, read_property, title_property
from syncapp.engine.fields import (
    color_to_hex,
    duration_to_hours,
    normalise_text,
    round_hours,
)


@dataclass
class MappingConfig:
    """The database mapping of one kind, as plain values (see models.DatabaseMapping)."""

    kind: str
    properties: dict[str, str]
    closed_values: list[str] = field(default_factory=list)

    @property
    def mapped(self) -> set[str]:
        return set(self.properties)


@dataclass
class NotionRecord:
    kind: str
    page_id: str
    fields: dict[str, Any]
    clockify_id: str | None = None
    last_edited: str | None = None
    trashed: bool = False
    status_name: str | None = None
    closed_type: str = "checkbox"
    props: dict[str, tuple[str, str]] = field(default_factory=dict)  # field → (name, type)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.fields.get("name") or ""


@dataclass
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
    names = config.properties
    record = NotionRecord(kind=config.kind, page_id=page["id"], fields={},
                          last_edited=page.get("last_edited_time"), trashed=is_trashed(page))
    title = title_property(props)
    if title is None:
        record.problems.append("The page has no title property.")
    record.fields["name"] = (read_property(props[title]) or "").strip() if title else ""
    if title:
        record.props["name"] = (title, "title")
    for key, prop_name in names.items():
        if prop_name in props:
            record.props[key] = (prop_name, props[prop_name].get("type", ""))
    closed_prop = props.get(names.get("closed", ""))
    closed, status_name = _closed(config, closed_prop)
    record.fields["closed"] = closed or record.trashed
    record.status_name = status_name
    if closed_prop:
        record.closed_type = closed_prop.get("type", "checkbox")
    if "parent" in names:
        relation = read_property(props.get(names["parent"], {})) or []
        record.fields["parent"] = relation[0] if relation else None
        if len(relation) > 1:
            record.problems.append(
                f"{names['parent']} links {len(relation)} pages; the first one is used.")
    for key in ("email", "address", "note"):
        if key in names:
            record.fields[key] = normalise_text(read_property(props.get(names[key], {})))
    if "billable" in names:
        record.fields["billable"] = bool(read_property(props.get(names["billable"], {})))
    if "color" in names:
        record.fields["color"] = color_to_hex(read_property(props.get(names["color"], {})))
    if "estimate" in names:
        record.fields["estimate"] = round_hours(read_property(props.get(names["estimate"], {})))
    if "clockify_id" in names:
        record.clockify_id = normalise_text(read_property(props.get(names["clockify_id"], {})))
    return record


def clockify_record(kind: str, entity: dict) -> ClockifyRecord:
    """Normalise a Clockify client, project or task."""
    if kind == "client":
        fields = {"name": entity.get("name") or "", "closed": bool(entity.get("archived")),
                  "email": normalise_text(entity.get("email")),
                  "address": normalise_text(entity.get("address")),
                  "note": normalise_text(entity.get("note"))}
        parent = None
    elif kind == "project":
        color = entity.get("color")
        fields = {"name": entity.get("name") or "", "closed": bool(entity.get("archived")),
                  "billable": bool(entity.get("billable")),
                  "note": normalise_text(entity.get("note")),
                  "color": color.lower() if color else None}
        parent = entity.get("clientId") or None
    else:
        fields = {"name": entity.get("name") or "", "closed": entity.get("status") == "DONE",
                  "estimate": duration_to_hours(entity.get("estimate"))}
        parent = entity.get("projectId") or None
    return ClockifyRecord(kind=kind, id=entity["id"], fields=fields, raw=entity,
                          parent_id=parent)
