"""Helpers for sync tests: run a sync, and check that Clockify mirrors Notion."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.utils import timezone

from syncapp.models import ChangeRecord, EntityMapping, PendingChange, ReviewStatus
from syncapp.sandbox import ids
from syncapp.services.sync import SyncOptions, run_sync

SOURCES = {"client": ids.CLIENTS_DATA_SOURCE_ID, "project": ids.PROJECTS_DATA_SOURCE_ID,
           "task": ids.TASKS_DATA_SOURCE_ID}
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def sync(**options):
    return run_sync(SyncOptions(**options))


def writes(box) -> dict[str, int]:
    """Calls that change something (a Notion query is a POST but only reads)."""
    def count(emulator) -> int:
        return sum(1 for method, path in emulator.calls
                   if method in WRITES and not path.endswith("/query"))
    return {"notion": count(box.notion), "clockify": count(box.clockify)}


def reset_calls(box) -> None:
    box.notion.reset_calls()
    box.clockify.reset_calls()


def clockify_entity(box, kind: str, clockify_id: str) -> dict | None:
    return {"client": box.clockify.client, "project": box.clockify.project,
            "task": box.clockify.task}[kind](clockify_id)


def errors_for(name: str) -> list[str]:
    return [r.error for r in ChangeRecord.objects.filter(name=name) if r.error]


def assert_mirror(box) -> None:
    """Every open, valid Notion record has exactly one Clockify twin with its values."""
    clients = {c["id"]: c for c in box.clockify.clients()}
    projects = {p["id"]: p for p in box.clockify.projects()}
    tasks = {t["id"]: t for t in box.clockify.tasks()}
    # no duplicates: names are unique per parent in Clockify
    assert not [n for n, k in Counter(c["name"] for c in clients.values()).items() if k > 1]
    assert not [n for n, k in Counter((p["name"], p["clientId"])
                                      for p in projects.values()).items() if k > 1]
    assert not [n for n, k in Counter((t["name"], t["projectId"])
                                      for t in tasks.values()).items() if k > 1]
    pages = {kind: {p["id"]: box.notion.values(p["id"]) for p in box.notion.pages(source)}
             for kind, source in SOURCES.items()}
    for values in pages["client"].values():
        if values["Clockify ID"]:
            client = clients[values["Clockify ID"]]
            assert client["name"] == values["Name"].strip()
            assert client["archived"] == values["Archived"]
    for values in pages["project"].values():
        if values["Clockify ID"]:
            project = projects[values["Clockify ID"]]
            assert project["name"] == values["Name"].strip()
            assert project["archived"] == (values["Status"] in {"Done", "Obsolete", "Archived"})
            parent = values["Client"][0] if values["Client"] else None
            expected = pages["client"].get(parent, {}).get("Clockify ID") if parent else ""
            assert (project["clientId"] or "") == (expected or "")
    for values in pages["task"].values():
        if values["Clockify ID"]:
            task = tasks[values["Clockify ID"]]
            assert task["name"] == values["Name"].strip()
            assert (task["status"] == "DONE") == (values["Status"] == "Done")
            parent = values["Project"][0]
            assert task["projectId"] == pages["project"][parent]["Clockify ID"]


def cid(page_id: str) -> str:
    """The Clockify id mapped to a Notion page."""
    return EntityMapping.objects.get(notion_page_id=page_id).clockify_id


def conflict_on_name(box, synced: dict) -> PendingChange:
    """Rename the synced project on both sides, sync, and return the conflict flagged."""
    box.notion.update_page(synced["project"], {"Name": "Site (Notion)"})
    box.clockify.update_project(cid(synced["project"]), name="Site (Clockify)")
    sync()
    return PendingChange.objects.get(status=ReviewStatus.PENDING, reason="conflict")


def held_mass_trash(box, n: int = 6) -> tuple[list[str], object]:
    """Trash all n tasks of a synced project in Notion: the next sync is held for review.
    Returns the task pages and the held run."""
    from syncapp.models import RunStatus

    project = box.notion.create_page(SOURCES["project"], {"Name": "Big",
                                                          "Status": "In progress"})
    tasks = [box.notion.create_page(SOURCES["task"], {"Name": f"T{i:02d}",
                                                      "Project": [project]})
             for i in range(n)]
    sync()
    for task in tasks:
        box.notion.trash_page(task)
    held = sync()
    assert held.status == RunStatus.HELD
    return tasks, held


def as_if_an_hour_ago(box) -> None:
    """The last sync's writes happened an hour ago (outside the feed's overlap)."""
    for change in box.clockify._changes:
        change["at"] -= timedelta(hours=1)
    EntityMapping.objects.update(last_synced_at=timezone.now() - timedelta(hours=1))
