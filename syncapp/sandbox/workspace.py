"""One sandbox world: the Notion, Clockify and Salesforce emulators side by side."""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import requests

from syncapp.sandbox import ids
from syncapp.sandbox.base import Emulator
from syncapp.sandbox.clockify import ClockifyEmulator
from syncapp.sandbox.notion import NotionEmulator
from syncapp.sandbox.salesforce import SalesforceEmulator
from syncapp.sandbox.transport import mount

NOTION_PREFIX = "/notion"
CLOCKIFY_PREFIX = "/clockify/api"
SALESFORCE_PREFIX = "/salesforce"

# The three Notion databases, with the properties the default field mapping expects.
PROJECT_STATUSES = ["Not started", "In progress", "Done", "Obsolete", "Archived"]
TASK_STATUSES = ["Not started", "In progress", "Done"]
COLORS = ["#03a9f4", "#8bc34a", "#ff9800", "#e91e63", "#9c27b0", "blue", "green", "red"]


def clients_schema() -> dict:
    return {"Name": "title", "Archived": "checkbox", "Clockify ID": "rich_text",
            "Email": "email", "Address": "rich_text", "Note": "rich_text"}


def projects_schema() -> dict:
    return {"Name": "title", "Client": ("relation", ids.CLIENTS_DATA_SOURCE_ID),
            "Status": ("status", PROJECT_STATUSES), "Clockify ID": "rich_text",
            "Billable": "checkbox", "Note": "rich_text", "Color": ("select", COLORS),
            "Estimate (h)": "number", "Tracked (h)": "number"}


def tasks_schema() -> dict:
    return {"Name": "title", "Project": ("relation", ids.PROJECTS_DATA_SOURCE_ID),
            "Status": ("status", TASK_STATUSES), "Clockify ID": "rich_text",
            "Estimate (h)": "number", "Tracked (h)": "number"}


class Sandbox:
    """Both emulators, with the three databases the product expects already created."""

    def __init__(self, *, seed: int = 0, clock=time.time) -> None:
        self.notion = NotionEmulator(seed=seed, clock=clock)
        self.clockify = ClockifyEmulator(seed=seed, clock=clock)
        self.salesforce = SalesforceEmulator(seed=seed, clock=clock)
        self.notion.add_database("Clients", clients_schema(),
                                 database_id=ids.CLIENTS_DATABASE_ID,
                                 data_source_id=ids.CLIENTS_DATA_SOURCE_ID)
        self.notion.add_database("Projects", projects_schema(),
                                 database_id=ids.PROJECTS_DATABASE_ID,
                                 data_source_id=ids.PROJECTS_DATA_SOURCE_ID)
        self.notion.add_database("Tasks", tasks_schema(),
                                 database_id=ids.TASKS_DATABASE_ID,
                                 data_source_id=ids.TASKS_DATA_SOURCE_ID)

    @property
    def emulators(self) -> dict[str, Emulator]:
        return {NOTION_PREFIX: self.notion, CLOCKIFY_PREFIX: self.clockify,
                SALESFORCE_PREFIX: self.salesforce}

    def mount(self, session: requests.Session, root_url: str) -> None:
        """Route `root_url`/notion, /clockify/api and /salesforce on `session` in-process."""
        for prefix, emulator in self.emulators.items():
            mount(session, root_url.rstrip("/") + prefix, emulator)

    def dump_state(self) -> dict:
        return {"notion": self.notion.dump_state(), "clockify": self.clockify.dump_state(),
                "salesforce": self.salesforce.dump_state()}

    def load_state(self, state: dict) -> None:
        self.notion.load_state(state["notion"])
        self.clockify.load_state(state["clockify"])
        self.salesforce.load_state(state.get("salesforce", {}))  # absent in older saves

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.dump_state()))
        tmp.replace(path)

    def autosave(self, path: Path, every: float = 5.0) -> threading.Event:
        """Save the state every `every` seconds until the returned event is set."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                with ExitStack() as held:  # a consistent snapshot of every emulator
                    for emulator in self.emulators.values():
                        held.enter_context(emulator.lock)
                    self.save(path)

        threading.Thread(target=loop, daemon=True, name="sandbox-autosave").start()
        return stop

    def load(self, path: Path) -> bool:
        if not path.exists():
            return False
        self.load_state(json.loads(path.read_text()))
        return True
