"""Projects: a Notion Projects database onto Clockify projects, each under an optional client."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from syncapp.clients.errors import ApiError
from syncapp.engine.fields import (
    BOTH,
    Field,
    hours_to_duration,
    milliseconds_to_hours,
    normalise_text,
)
from syncapp.engine.kinds.base import CreatedIncompletely, KindSpec

ESTIMATE = "timeEstimate"  # the part of a PATCH …/estimate body the sync sets


def estimate_in_effect(entity: dict) -> float | None:
    """The hours of a project's manual time estimate when it is the one in effect, else None.

    `activeEstimate` (NONE, TIME, BUDGET) names the estimate in effect; `timeEstimate` holds
    it (`estimate` in milliseconds, see fields.milliseconds_to_hours). A task-based (AUTO)
    estimate is Clockify's sum of the task estimates, not a value Notion sets: None here, so
    a project estimated that way is left alone while Notion's estimate is empty.
    """
    timed = entity.get("timeEstimate") or {}
    active = entity.get("activeEstimate")
    in_effect = active == "TIME" if active is not None else bool(timed.get("active"))
    if not in_effect or timed.get("type") != "MANUAL":
        return None
    return milliseconds_to_hours(timed.get("estimate"))


def estimate_body(hours: float | None) -> dict:
    """The `timeEstimate` of a PATCH …/estimate: a manual estimate in effect, or none.

    `active` is sent every time: the schema's default is false, and an estimate that is not
    active is stored but not in effect."""
    duration = hours_to_duration(hours)
    return {"estimate": duration or "PT0S", "type": "MANUAL", "active": bool(duration),
            "resetOption": None, "includeNonBillable": True}


class ProjectKind(KindSpec):
    clockify_reads = ("name", "archived", "billable", "note", "color", "clientId",
                      "estimate", "timeEstimate", "activeEstimate", "budgetEstimate")

    def from_clockify(self, entity: dict) -> tuple[dict[str, Any], str | None]:
        color = entity.get("color")
        return {"name": entity.get("name") or "", "closed": bool(entity.get("archived")),
                "billable": bool(entity.get("billable")),
                "note": normalise_text(entity.get("note")),
                "color": color.lower() if color else None,
                "estimate": estimate_in_effect(entity)}, entity.get("clientId") or None

    def to_clockify(self, values: dict[str, Any], parent_id: str | None) -> dict:
        body = super().to_clockify({k: v for k, v in values.items() if k != "estimate"},
                                   parent_id)
        if "estimate" in values:  # not part of POST or PUT: its own PATCH (update, create)
            body[ESTIMATE] = estimate_body(values["estimate"])
        return body

    def list_all(self, client, parent_ids: Iterable[str] = ()) -> Iterator[dict]:
        # Hydrated: the client's name and the estimate come along, saving a call each.
        return client.projects(hydrated=True)

    def get(self, client, clockify_id: str, parent_id: str | None = None) -> dict:
        return client.get_project(clockify_id)

    def create(self, client, body: dict, parent_id: str | None = None) -> dict:
        """POST, then PATCH the estimate: ProjectRequest's `estimate` has no `active` flag,
        so only the PATCH makes it the estimate in effect. A failed PATCH leaves the created
        project to the caller (CreatedIncompletely), never a second POST."""
        body = dict(body)
        estimate = body.pop(ESTIMATE, None)
        entity = client.create_project(body)
        if not estimate or not estimate["active"]:
            return entity  # a new project has no estimate in effect
        try:
            return client.update_project_estimate(entity["id"], {ESTIMATE: estimate})
        except ApiError as exc:  # OutcomeUnknown too: the next run reads it back
            raise CreatedIncompletely(entity, ("estimate",), exc) from exc

    def update(self, client, clockify_id: str, changes: dict, parent_id: str | None = None,
               current: dict | None = None) -> dict:
        """PUT replaces the whole body and carries no estimate: PUT only what else changed,
        PATCH the estimate only when it changed."""
        changes = dict(changes)
        estimate = changes.pop(ESTIMATE, None)
        answer = current
        if changes or estimate is None:
            answer = client.update_project(clockify_id, changes, current=current)
        if estimate is not None:
            answer = client.update_project_estimate(clockify_id, {ESTIMATE: estimate})
        return answer

    def app_url(self, app: str, clockify_id: str, parent_id: str | None = None) -> str:
        return f"{app}/projects/{clockify_id}/edit"


PROJECT = ProjectKind(
    name="project", label="Project", database_label="Projects",
    parent="client",
    fields=(Field("name", optional=False), Field("parent"),
            Field("closed", BOTH, optional=False, suggest="Status or Select"),
            Field("billable"), Field("note"), Field("color"), Field("estimate")),
    name_limits=(2, 250),
    default_properties={"clockify_id": "Clockify ID", "parent": "Client", "closed": "Status",
                        "billable": "Billable", "note": "Note", "color": "Color",
                        "estimate": "Estimate (h)"},
    default_closed_values="Done, Obsolete, Archived",
    entry_field="project_id", parent_field="clientId",
)
