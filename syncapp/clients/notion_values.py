"""Read Notion property values into plain Python, and build the ones we write.

Pure functions over the documented payload shapes: no HTTP.
"""

from __future__ import annotations

from typing import Any

RICH_TEXT_LIMIT = 2000  # characters per text object in a request


def plain_text(items: list[dict] | None) -> str:
    return "".join(item.get("plain_text") or item.get("text", {}).get("content", "")
                   for item in items or [])


def _named(option: dict | None) -> str | None:
    return option.get("name") if option else None


def _formula(value: dict | None) -> Any:
    if not value:
        return None
    kind = value.get("type")
    return value.get(kind) if kind in {"string", "number", "boolean", "date"} else None


def _unique_id(value: dict | None) -> str | None:
    if not value or value.get("number") is None:
        return None
    prefix = value.get("prefix")
    return f"{prefix}-{value['number']}" if prefix else str(value["number"])


def _date(value: dict | None) -> str | None:
    return value.get("start") if value else None


def _rollup(value: dict | None) -> Any:
    if not value:
        return None
    kind = value.get("type")
    return value.get(kind) if kind in {"number", "date"} else None


_READERS = {
    "title": plain_text,
    "rich_text": plain_text,
    "number": lambda v: v,
    "select": _named,
    "status": _named,
    "multi_select": lambda v: [o["name"] for o in v or []],
    "checkbox": bool,
    "date": _date,
    "relation": lambda v: [r["id"] for r in v or []],
    "email": lambda v: v,
    "url": lambda v: v,
    "phone_number": lambda v: v,
    "formula": _formula,
    "rollup": _rollup,
    "unique_id": _unique_id,
    "people": lambda v: [p["id"] for p in v or []],
    "created_time": lambda v: v,
    "last_edited_time": lambda v: v,
}


def read_property(prop: dict) -> Any:
    """The plain value of one property value object; None for unsupported types."""
    kind = prop.get("type")
    reader = _READERS.get(kind)
    if reader is None:
        return None
    return reader(prop.get(kind))


def relation_truncated(prop: dict) -> bool:
    """True when Notion cut a relation at 25 items and the rest must be fetched."""
    return prop.get("type") == "relation" and bool(prop.get("has_more"))


def title_property(properties: dict) -> str | None:
    """The name of the title property: every data source has exactly one."""
    for name, prop in properties.items():
        if prop.get("type") == "title":
            return name
    return None


def rich_text(text: str | None) -> list[dict]:
    """A rich_text value for a request, split into 2,000-character text objects."""
    if not text:
        return []
    return [
        {"type": "text", "text": {"content": text[i : i + RICH_TEXT_LIMIT]}}
        for i in range(0, len(text), RICH_TEXT_LIMIT)
    ]


def is_trashed(page: dict) -> bool:
    """`in_trash` replaced `archived`; older payloads and webhooks carry only the latter."""
    return bool(page.get("in_trash", page.get("archived", False)))


def write_value(kind: str, value: Any) -> dict | None:
    """The request body of one property of type `kind` set to a plain value."""
    if kind in {"title", "rich_text"}:
        return {kind: rich_text(value)}
    if kind in {"select", "status"}:
        return {kind: {"name": value} if value else None}
    if kind == "relation":
        return {"relation": [{"id": value}] if value else []}
    if kind == "checkbox":
        return {"checkbox": bool(value)}
    if kind in {"number", "email", "url", "phone_number"}:
        return {kind: value if value not in ("",) else None}
    return None  # read-only or unsupported types are never written
