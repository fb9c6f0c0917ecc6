"""The synced fields of each kind, their direction, and how values convert."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

NOTION_TO_CLOCKIFY = "n2c"
BOTH = "both"


@dataclass(frozen=True)
class Field:
    name: str
    direction: str = NOTION_TO_CLOCKIFY
    optional: bool = True  # synced only when the database mapping names a property


FIELDS: dict[str, tuple[Field, ...]] = {
    "client": (
        Field("name", optional=False),
        Field("closed", BOTH, optional=False),
        Field("email"), Field("address"), Field("note"),
    ),
    "project": (
        Field("name", optional=False),
        Field("parent"),
        Field("closed", BOTH, optional=False),
        Field("billable"), Field("note"), Field("color"),
    ),
    "task": (
        Field("name", optional=False),
        Field("parent", optional=False),
        Field("closed", BOTH, optional=False),
        Field("estimate"),
    ),
}

# Clockify's limits on names (see ../shared notes: clients ≤100, projects 2–250, tasks 1–1000).
NAME_LIMITS = {"client": (1, 100), "project": (2, 250), "task": (1, 1000)}

COLOR_NAMES = {
    "default": "#9e9e9e", "gray": "#9e9e9e", "brown": "#795548", "orange": "#ff9800",
    "yellow": "#ffc107", "green": "#4caf50", "blue": "#2196f3", "purple": "#9c27b0",
    "pink": "#e91e63", "red": "#f44336",
}
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def field_names(kind: str, mapped: set[str]) -> list[str]:
    """The fields synced for `kind` given which optional fields the mapping names."""
    return [f.name for f in FIELDS[kind] if not f.optional or f.name in mapped
            or (f.name == "parent" and kind == "task")]


def direction(kind: str, field: str) -> str:
    return next(f.direction for f in FIELDS[kind] if f.name == field)


def name_problem(kind: str, name: str | None) -> str | None:
    """A plain-words reason Clockify would refuse this name, or None."""
    low, high = NAME_LIMITS[kind]
    length = len((name or "").strip())
    if length == 0:
        return f"The {kind} has no name in Notion; give the page a title."
    if length < low or length > high:
        return (f"The name is {length} characters long; Clockify accepts {low}–{high} for a "
                f"{kind}. Change the title in Notion.")
    return None


def normalise_text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def loose_name(name: str | None) -> str:
    """Case-, whitespace- and accent-insensitive form, for spotting near matches."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def color_to_hex(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if HEX_COLOR.match(value):
        return value.lower()
    return COLOR_NAMES.get(value.lower())


def hours_to_duration(hours: float | None) -> str | None:
    if not hours:
        return None
    minutes = round(hours * 60)
    h, m = divmod(minutes, 60)
    return "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") if minutes else None


_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def duration_to_hours(value: str | None) -> float | None:
    match = _DURATION.match(value or "")
    if not match:
        return None
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    total = h + m / 60 + s / 3600
    return round(total, 2) or None


def round_hours(value: float | None) -> float | None:
    return round(float(value), 2) if value else None
