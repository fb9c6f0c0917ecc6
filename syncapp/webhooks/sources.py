"""The webhook senders by name: one registry for the endpoints (views.py), the admin's
"process again" action and the header redaction in store.py."""

from __future__ import annotations

from syncapp.webhooks import clockify, notion
from syncapp.webhooks.base import Source

SOURCES: dict[str, Source] = {source.name: source for source in
                              (clockify.SOURCE, notion.TRIGGER, notion.EVENTS)}


def get(name: str) -> Source:
    """The sender called `name`; KeyError for a name no endpoint has."""
    return SOURCES[name]


def secret_headers() -> frozenset[str]:
    """Every sender's secret header names: redacted whichever endpoint they reach."""
    return frozenset().union(*(source.secret_headers for source in SOURCES.values()))
