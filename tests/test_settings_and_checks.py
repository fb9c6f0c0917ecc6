"""Settings fail loudly on malformed values; system checks name what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

ROOT = Path(__file__).resolve().parent.parent


def start_django(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "SANDBOX"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env={**environment, "DJANGO_SETTINGS_MODULE": "syncsite.settings"},
        capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize("name,value", [
    ("HTTP_TIMEOUT", "soon"),
    ("SANDBOX", "maybe"),
    ("Q_WORKERS", "0"),
    ("NOTION_API_URL", "api.notion.com"),
    ("DATABASE_URL", "nosuchdb://x"),
])
def test_malformed_setting_stops_start_up_naming_the_variable(name, value):
    result = start_django(**{"SANDBOX": "true", name: value})
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in message and name in message
    assert value not in message  # a value may be a secret pasted in the wrong place


def test_secret_key_required_outside_sandbox():
    result = start_django(SECRET_KEY="", DEBUG="false")
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_valid_settings_start():
    assert start_django(SANDBOX="true", HTTP_TIMEOUT="12").returncode == 0


def test_checks_report_missing_configuration(settings):
    settings.NOTION_TOKEN = ""
    settings.NOTION_TASKS_DATABASE_ID = "not-an-id"
    settings.NOTION_PROJECTS_DATABASE_ID = settings.NOTION_CLIENTS_DATABASE_ID
    settings.CLOCKIFY_API_KEY = ""
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    text = str(caught.value)
    for check_id in ("syncapp.E001", "syncapp.E003", "syncapp.E004", "syncapp.E006"):
        assert check_id in text


def test_checks_pass_with_sandbox_configuration():
    call_command("check")  # raises on any error


def test_queue_retry_must_exceed_timeout(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "retry": 60, "timeout": 600}
    with pytest.raises(SystemCheckError, match="syncapp.E008"):
        call_command("check")


def test_deploy_check_is_clean_under_production_settings():
    env = {k: v for k, v in os.environ.items() if k not in {"SANDBOX", "DEBUG"}}
    env.update({
        "SECRET_KEY": "x" * 60 + "production-like-secret-key-with-enough-entropy-1234567890",
        "ALLOWED_HOSTS": "sync.example.com",
        "DATABASE_URL": "postgres://sync@127.0.0.1:5432/sync",
        "NOTION_TOKEN": "ntn_example", "CLOCKIFY_API_KEY": "key",
        "CLOCKIFY_WORKSPACE_ID": "64a0c0ffee0000000000aaaa",
        "NOTION_CLIENTS_DATABASE_ID": "1f0c0000-0000-4000-8000-000000000001",
        "NOTION_PROJECTS_DATABASE_ID": "1f0c0000-0000-4000-8000-000000000002",
        "NOTION_TASKS_DATABASE_ID": "1f0c0000-0000-4000-8000-000000000003",
    })
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_salesforce_without_credentials_is_an_error(settings):
    settings.SALESFORCE_INSTANCE_URL = "https://example.my.salesforce.com"
    settings.SALESFORCE_ACCESS_TOKEN = ""
    settings.SALESFORCE_CLIENT_ID = settings.SALESFORCE_CLIENT_SECRET = ""
    with pytest.raises(SystemCheckError, match="syncapp.E009"):
        call_command("check")
