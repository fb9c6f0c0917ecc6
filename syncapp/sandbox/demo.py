"""Seed the sandbox with a realistic workspace, awkward cases included."""

from __future__ import annotations

import random

from syncapp.sandbox import ids
from syncapp.sandbox.workspace import COLORS, Sandbox

CLIENT_NAMES = [
    "Acme Corporation", "Globex", "Initech", "Umbrella Health", "Stark Industries",
    "Wayne Enterprises", "Müller & Söhne GmbH", "Café Olé ☕", 'The "Quoted" Company',
    "Łódź Design Studio", "北京科技有限公司", "Archived Old Client",
]
PROJECT_WORDS = ["Website", "Mobile app", "Brand refresh", "Data migration", "Audit",
                 "Onboarding", "Support retainer", "Research", "Campaign", "Dashboard"]
TASK_WORDS = ["Kick-off", "Design", "Build", "Review", "QA", "Deploy", "Report", "Fix bugs",
              "Write docs", "Plan sprint"]
TOO_LONG_NAME = "An extremely long project name " * 10  # over Clockify's 250 characters


def seed_demo(sandbox: Sandbox, *, seed: int = 7) -> dict[str, int]:
    """About 12 clients, 40 projects and 300 tasks, as a team might really have them."""
    rng = random.Random(seed)
    notion = sandbox.notion
    clients = []
    for name in CLIENT_NAMES:
        archived = name.startswith("Archived")
        clients.append(notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {
            "Name": name, "Archived": archived, "Email": f"billing{len(clients)}@example.com",
            "Note": "Seeded by the sandbox",
        }))
    projects = []
    for index in range(40):
        status = "In progress" if index % 9 else "Done"  # a few closed projects
        name = f"{PROJECT_WORDS[index % len(PROJECT_WORDS)]} {index + 1:02d}"
        if index == 39:
            name = TOO_LONG_NAME
        projects.append(notion.create_page(ids.PROJECTS_DATA_SOURCE_ID, {
            "Name": name, "Client": [clients[index % 11]], "Status": status,
            "Billable": index % 3 != 0, "Color": COLORS[index % len(COLORS)],
            "Estimate (h)": float(10 + index),
        }))
    for index in range(300):
        project = [] if index == 0 else [projects[index % 39]]  # task 0 has no project
        notion.create_page(ids.TASKS_DATA_SOURCE_ID, {
            "Name": f"{TASK_WORDS[index % len(TASK_WORDS)]} #{index + 1}",
            "Project": project,
            "Status": rng.choice(["Not started", "In progress", "In progress", "Done"]),
            "Estimate (h)": float(rng.randint(1, 16)),
        })
    # Teams start with some Clockify data: the first sync links it instead of duplicating.
    sandbox.clockify.create_client("Acme Corporation")
    return {"clients": len(clients), "projects": len(projects), "tasks": 300}


def seed_scale(sandbox: Sandbox, *, clients: int, projects: int, tasks: int) -> None:
    """A plain, large workspace for the benchmark: no awkward cases, all valid."""
    notion = sandbox.notion
    client_ids = [
        notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": f"Client {i:05d}"})
        for i in range(clients)
    ]
    project_ids = [
        notion.create_page(ids.PROJECTS_DATA_SOURCE_ID, {
            "Name": f"Project {i:05d}", "Client": [client_ids[i % clients]],
            "Status": "In progress",
        })
        for i in range(projects)
    ]
    for i in range(tasks):
        notion.create_page(ids.TASKS_DATA_SOURCE_ID, {
            "Name": f"Task {i:06d}", "Project": [project_ids[i % projects]],
            "Status": "Not started",
        })


def track_time(sandbox: Sandbox, *, count: int = 20, seed: int = 11) -> int:
    """Completed time entries on random open Clockify tasks of the last three days.

    For the demo once a first sync has created tasks: the hourly reconciliation picks
    them up and tracked hours appear in Notion (and Events in the Salesforce sandbox).
    """
    from datetime import UTC, datetime, timedelta

    rng = random.Random(seed)
    tasks = [t for t in sandbox.clockify.tasks() if t["status"] == "ACTIVE"]
    if not tasks:
        return 0
    now = datetime.now(UTC).replace(microsecond=0)
    for _ in range(count):
        task = rng.choice(tasks)
        start = now - timedelta(hours=rng.randint(2, 72))
        end = start + timedelta(minutes=rng.choice([15, 30, 45, 60, 90, 120]))
        sandbox.clockify.add_time_entry(
            start=start.isoformat().replace("+00:00", "Z"),
            end=end.isoformat().replace("+00:00", "Z"),
            projectId=task["projectId"], taskId=task["id"], description="Demo work")
    return count
