"""How the APIs spell ids and instants: one helper each, so every comparison agrees."""

from __future__ import annotations

from datetime import UTC, datetime


def compact_id(value: object) -> str:
    """A Notion id without dashes, lower case ("" for anything but a string).

    Notion writes the same id with and without dashes (settings, webhooks, page parents):
    compare ids only in this form.
    """
    return value.replace("-", "").lower() if isinstance(value, str) else ""


def utc_stamp(moment: datetime) -> str:
    """An aware datetime as the APIs want it: UTC, to the second, with a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
