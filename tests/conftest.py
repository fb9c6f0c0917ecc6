from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "reference"


@pytest.fixture
def shared_reference() -> Path:
    """../shared/reference, or skip: a user's clone may not have it, CI always does."""
    if not SHARED.is_dir():
        pytest.skip("../shared/reference is absent (it sits beside the project in CI)")
    return SHARED


def load_shared(path: str):
    if not SHARED.is_dir():
        pytest.skip("../shared/reference is absent (it sits beside the project in CI)")
    return json.loads((SHARED / path).read_text())


SANDBOX_ROOT = "http://sandbox.test"


@pytest.fixture
def sandbox(settings, monkeypatch):
    """The emulators (Notion, Clockify, Salesforce) in-process, and settings pointing the
    product at them.

    Every client the product builds gets the emulators mounted on its session
    and a recording sleep (`sandbox.sleeps`), so nothing really waits.
    """
    from syncapp.clients import http
    from syncapp.sandbox import ids, salesforce
    from syncapp.sandbox.workspace import Sandbox
    from syncapp.services import connections

    box = Sandbox()
    monkeypatch.setattr(http, "SESSION_HOOKS", [lambda session: box.mount(session, SANDBOX_ROOT)])
    box.sleeps = []
    monkeypatch.setattr(connections, "CLIENT_DEFAULTS",
                        {"sleep": box.sleeps.append, "rate": 1e6, "burst": 1000})
    settings.NOTION_API_URL = f"{SANDBOX_ROOT}/notion"
    settings.NOTION_TOKEN = ids.NOTION_TOKEN
    settings.NOTION_CLIENTS_DATABASE_ID = ids.CLIENTS_DATABASE_ID
    settings.NOTION_PROJECTS_DATABASE_ID = ids.PROJECTS_DATABASE_ID
    settings.NOTION_TASKS_DATABASE_ID = ids.TASKS_DATABASE_ID
    settings.CLOCKIFY_API_URL = f"{SANDBOX_ROOT}/clockify/api/v1"
    settings.CLOCKIFY_API_KEY = ids.CLOCKIFY_API_KEY
    settings.CLOCKIFY_WORKSPACE_ID = ids.CLOCKIFY_WORKSPACE_ID
    settings.SALESFORCE_INSTANCE_URL = f"{SANDBOX_ROOT}/salesforce"
    settings.SALESFORCE_ACCESS_TOKEN = salesforce.ACCESS_TOKEN
    settings.SALESFORCE_CLIENT_ID = salesforce.CLIENT_ID
    settings.SALESFORCE_CLIENT_SECRET = salesforce.CLIENT_SECRET
    return box


@pytest.fixture(autouse=True)
def syncing_already_started(request, monkeypatch):
    """Most tests exercise an install where a person already started syncing (schedules and
    webhooks on). Tests of the first-run journey and of pausing mark themselves
    `fresh_install` and see the real stored state."""
    if request.node.get_closest_marker("fresh_install"):
        return
    from syncapp.models import SyncingState
    from syncapp.services import syncing

    monkeypatch.setattr(syncing, "syncing_started", lambda: True)
    monkeypatch.setattr(syncing, "state", lambda: SyncingState(started=True))


@pytest.fixture
def served():
    """The sandbox over loopback HTTP, as the demo serves it: (emulators, root URL)."""
    import threading

    from syncapp.sandbox.server import serve
    from syncapp.sandbox.workspace import Sandbox

    box = Sandbox()
    server = serve(box, port=0, timeout_seconds=0.2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
