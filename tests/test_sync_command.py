"""`manage.py sync`: summary, JSON, exit status, one run at a time."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from syncapp.models import SyncRun
from syncapp.sandbox import ids
from syncapp.services import runs

pytestmark = pytest.mark.django_db


def run_command(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("sync", *args, stdout=out, stderr=StringIO())
    except SystemExit as exc:
        return exc.code, out.getvalue()
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def test_clean_sync_exits_0_and_prints_a_table(sandbox):
    sandbox.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Acme"})
    code, out = run_command()
    assert code == 0
    assert "created" in out.splitlines()[1]
    client_row = next(line for line in out.splitlines() if line.startswith("client"))
    assert client_row.split()[1] == "1"  # created
    assert "API calls: notion:" in out


def test_json_summary_and_exit_1_when_records_fail(sandbox):
    sandbox.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Acme"})
    sandbox.notion.create_page(ids.PROJECTS_DATA_SOURCE_ID, {"Name": "X"})  # too short
    code, out = run_command("--json")
    assert code == 1
    summary = json.loads(out)
    assert summary["status"] == "partial"
    assert summary["counts"]["client"]["created"] == 1
    assert summary["counts"]["project"]["failed"] == 1
    assert summary["api_calls"]["clockify"] >= 1


def test_dry_run_and_kind_options(sandbox):
    sandbox.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Acme"})
    code, out = run_command("--dry-run", "--kind", "clients", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["dry_run"] is True
    assert sandbox.clockify.clients() == []
    assert SyncRun.objects.get().kinds == ["client"]


def test_connection_error_exits_2(sandbox):
    sandbox.notion.faults.schedule("503", times=100)
    code, _ = run_command()
    assert code == 2


def test_refuses_to_start_while_another_sync_runs(sandbox):
    assert runs.claim("someone-else")
    code, _ = run_command()
    assert code == 2
    assert not SyncRun.objects.exists()
