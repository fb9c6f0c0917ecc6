"""Clients: a Notion Clients database onto Clockify clients (archived when closed)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from syncapp.engine.fields import BOTH, Field, normalise_text
from syncapp.engine.kinds.base import KindSpec


class ClientKind(KindSpec):
    clockify_reads = ("name", "archived", "email", "address", "note")

    def from_clockify(self, entity: dict) -> tuple[dict[str, Any], str | None]:
        return {"name": entity.get("name") or "", "closed": bool(entity.get("archived")),
                "email": normalise_text(entity.get("email")),
                "address": normalise_text(entity.get("address")),
                "note": normalise_text(entity.get("note"))}, None

    def list_all(self, client, parent_ids: Iterable[str] = ()) -> Iterator[dict]:
        return client.clients()

    def get(self, client, clockify_id: str, parent_id: str | None = None) -> dict:
        return client.get_client(clockify_id)

    def create(self, client, body: dict, parent_id: str | None = None) -> dict:
        return client.create_client(body)

    def update(self, client, clockify_id: str, changes: dict, parent_id: str | None = None,
               current: dict | None = None) -> dict:
        return client.update_client(clockify_id, changes, current=current)

    def app_url(self, app: str, clockify_id: str, parent_id: str | None = None) -> str:
        return f"{app}/clients?search={clockify_id}"


CLIENT = ClientKind(
    name="client", label="Client", database_label="Clients",
    parent=None,
    fields=(Field("name", optional=False),
            Field("closed", BOTH, optional=False, suggest="Checkbox"),
            Field("email"), Field("address"), Field("note")),
    name_limits=(1, 100),
    default_properties={"clockify_id": "Clockify ID", "closed": "Archived", "email": "Email",
                        "address": "Address", "note": "Note"},
    default_closed_values="",
)
