"""Tasks: a Notion Tasks database onto Clockify tasks, which live inside one project.

Clockify reaches a task only through its project (list, read, update all take the
project id) and marks it DONE rather than archived.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from syncapp.engine.fields import BOTH, Field, duration_to_hours
from syncapp.engine.kinds.base import KindSpec


class TaskKind(KindSpec):
    clockify_reads = ("name", "status", "estimate", "projectId")

    def from_clockify(self, entity: dict) -> tuple[dict[str, Any], str | None]:
        return {"name": entity.get("name") or "", "closed": entity.get("status") == "DONE",
                "estimate": duration_to_hours(entity.get("estimate"))}, \
            entity.get("projectId") or None

    def closed_body(self, closed: bool) -> dict[str, Any]:
        return {"status": "DONE" if closed else "ACTIVE"}

    def list_all(self, client, parent_ids: Iterable[str] = ()) -> Iterator[dict]:
        return (task for project_id in parent_ids for task in client.tasks(project_id))

    def get(self, client, clockify_id: str, parent_id: str | None = None) -> dict:
        return client.get_task(parent_id or "", clockify_id)

    def create(self, client, body: dict, parent_id: str | None = None) -> dict:
        return client.create_task(parent_id, body)

    def update(self, client, clockify_id: str, changes: dict, parent_id: str | None = None,
               current: dict | None = None) -> dict:
        return client.update_task(parent_id, clockify_id, changes, current=current)

    def app_url(self, app: str, clockify_id: str, parent_id: str | None = None) -> str:
        # Tasks live on their project's page.
        return f"{app}/projects/{parent_id}/edit#tasks" if parent_id else f"{app}/projects"


TASK = TaskKind(
    name="task", label="Task", database_label="Tasks",
    parent="project",
    fields=(Field("name", optional=False), Field("parent", optional=False),
            Field("closed", BOTH, optional=False, suggest="Status or Select"), Field("estimate")),
    name_limits=(1, 1000),
    default_properties={"clockify_id": "Clockify ID", "parent": "Project", "closed": "Status",
                        "estimate": "Estimate (h)"},
    default_closed_values="Done",
    under_parent=True, entry_field="task_id", parent_field="projectId",
)
