"""Synced fields: their direction, the Notion types they read, and how values convert.

Which fields each kind syncs is in engine/kinds/ (one module per kind).
"""

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
    # The Notion type(s) to suggest for this kind's property when it is missing, where it
    # differs from the field's usual one (READABLE): "Status or Select" for a project's
    # closed property, which names closed values, against a client's Archived checkbox.
    suggest: str = ""


@dataclass(frozen=True)
class Readable:
    """The Notion property types a field can be read from, for readers and config checks."""

    types: frozenset[str]
    words: str  # the types in plain words, the usual one first
    role: str  # what the field does, for a person fixing the mapping

    @property
    def usual(self) -> str:
        """The type to suggest when a property is missing ("Checkbox", "Text")."""
        return self.words.split(",")[0].split(" or ")[0]


# Formulas and rollups are read-only but fine to read. Anything else is a mapping mistake,
# reported in plain words by the reader (per page) and the configuration check (per database):
# one table, so the check never calls an error what the sync happily reads.
READABLE: dict[str, Readable] = {
    "clockify_id": Readable(frozenset({"rich_text"}), "Text",
                            "holds the Clockify ID the sync writes back"),
    "closed": Readable(frozenset({"checkbox", "status", "select", "formula"}),
                       "Checkbox, Status, Select or Formula",
                       "says whether the record is closed (archived / done in Clockify)"),
    "parent": Readable(frozenset({"relation"}), "Relation", "links the parent record"),
    "email": Readable(frozenset({"email", "rich_text", "url", "formula"}),
                      "Email, Text, URL or Formula", "is the client's e-mail"),
    "address": Readable(frozenset({"rich_text", "formula"}), "Text or Formula",
                        "is the client's address"),
    "note": Readable(frozenset({"rich_text", "formula"}), "Text or Formula", "is the note"),
    "billable": Readable(frozenset({"checkbox", "formula"}), "Checkbox or Formula",
                         "says whether the project is billable"),
    "color": Readable(frozenset({"select", "status", "rich_text", "formula"}),
                      "Select, Status, Text or Formula", "is the project colour"),
    "estimate": Readable(frozenset({"number", "formula", "rollup"}),
                         "Number, Formula or Rollup", "is the estimate in hours"),
}
READABLE_TYPES: dict[str, frozenset[str]] = {key: r.types for key, r in READABLE.items()}

# The selective-sync filter: a checkbox that must be ticked, or a status/select whose value
# must be one of a chosen set (engine/records.py SyncFilter). Not a synced field.
FILTER = Readable(frozenset({"checkbox", "status", "select"}), "Checkbox, Status or Select",
                  "chooses which pages are synced")

COLOR_NAMES = {
    "default": "#9e9e9e", "gray": "#9e9e9e", "brown": "#795548", "orange": "#ff9800",
    "yellow": "#ffc107", "green": "#4caf50", "blue": "#2196f3", "purple": "#9c27b0",
    "pink": "#e91e63", "red": "#f44336",
}
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


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
    """Hours as an ISO 8601 duration, to the second: every 2-decimal hour value (what Notion
    values are rounded to) reads back as itself, so a value never differs from its own echo
    (0.34 h is PT20M24S; whole minutes would read back as 0.33 and be sent again each run)."""
    if not hours or hours < 0:
        return None
    seconds = round(hours * 3600)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    text = (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s else "")
    return "PT" + text if text else None


_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


def duration_to_hours(value: str | None) -> float | None:
    match = _DURATION.match(value or "")
    if not match:
        return None
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    total = h + m / 60 + s / 3600
    return round(total, 2) or None


def round_hours(value: float | None) -> float | None:
    """Hours to 2 decimals; 0 (or what rounds to it) is no value, as Clockify's PT0S is."""
    return (round(float(value), 2) or None) if value else None


def milliseconds_to_hours(value: int | float | str | None) -> float | None:
    """A project's `timeEstimate.estimate` as hours.

    Evidence for the unit: the OpenAPI schema `TimeEstimateDto.estimate` says "Represents
    project duration in milliseconds" (type string, example "60000"), and the recorded
    project payload (clockify-samples/webhook-NEW_TIME_ENTRY.activepieces.json, a capture
    from a real workspace) carries a JSON number there (`0`), while the request side
    (`TimeEstimateRequest.estimate`) is an ISO 8601 duration ("PT1H30M"). So a number, or a
    string of digits, is milliseconds; an ISO duration is accepted too, in case a workspace
    answers with the request's form.
    """
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int | float):
        return round_hours(value / 3_600_000)
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return round_hours(float(text) / 3_600_000)
    return duration_to_hours(text)
