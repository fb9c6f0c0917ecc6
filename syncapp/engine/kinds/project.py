"""Projects: a Notion Projects database onto Clockify projects, each under an optional client."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from syncapp.engine.fields import BOTH, Field, normalise_text
from syncapp.engine.kinds.base import KindSpec


class ProjectKind(KindSpec):
    def from_clockify(self, entity: dict) -> tuple[dict[str, Any], str | None]:
        color = entity.get("color")
        return {"name": entity.get("name") or "", "closed": bool(entity.get("archived")),
                "billable": bool(entity.get("billable")),
                "note": normalise_text(entity.get("note")),
                "color": color.lower() if color else None}, entity.get("clientId") or None

    def list_all(self, client, parent_ids: Iterable[str] = ()) -> Iterator[dict]:
        # Hydrated: the client's name and the estimate come along, saving a call each.
        return client.projects(hydrated=True)

    def get(self, client, clockify_id: str, parent_id: str | None = None) -> dict:
        return client.get_project(clockify_id)

    def create(self, client, body: dict, parent_id: str | None = None) -> dict:
        return client.create_project(body)

    def update(self, client, clockify_id: str, changes: dict, parent_id: str | None = None,
               current: dict | None = None) -> dict:
        return client.update_project(clockify_id, changes, current=current)

    def app_url(self, app: str, clockify_id: str, parent_id: str | None = None) -> str:
        return f"{app}/projects/{clockify_id}/edit"


PROJECT = ProjectKind(
    name="project", label="Project", database_label="Projects",
    parent="client",
    fields=(Field("name", optional=False), Field("parent"),
            Field("closed", BOTH, optional=False),
            Field("billable"), Field("note"), Field("color")),
    name_limits=(2, 250),
    default_properties={"clockify_id": "Clockify ID", "parent": "Client", "closed": "Status",
                        "billable": "Billable", "note": "Note", "color": "Color"},
    default_closed_values="Done, Obsolete, Archived",
    entry_field="project_id", parent_field="clientId",
)
