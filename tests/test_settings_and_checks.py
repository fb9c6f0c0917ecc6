"""Settings fail loudly on malformed values; system checks name what is missing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
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
    out = io.StringIO()
    call_command("check", stdout=out)  # raises on any error; warnings would be printed
    assert out.getvalue().strip() == "System check identified no issues (0 silenced)."


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


# -- secrets: NAME_FILE, exact values, whitespace warning (issue 9) -------------------------------
SECRET_NAMES = ["SECRET_KEY", "NOTION_TOKEN", "CLOCKIFY_API_KEY", "CLOCKIFY_WEBHOOK_TOKENS",
                "NOTION_TRIGGER_TOKENS", "NOTION_WEBHOOK_SECRET", "SALESFORCE_ACCESS_TOKEN",
                "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"]
# Secrets that hold several values (rotation): read as a list, even from a file
LIST_SECRETS = {"CLOCKIFY_WEBHOOK_TOKENS", "NOTION_TRIGGER_TOKENS", "NOTION_WEBHOOK_SECRET"}


def read_settings(names: list[str], **env: str) -> subprocess.CompletedProcess:
    """Start Django outside the sandbox and print the named settings as JSON."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in {"SANDBOX", *names, *(f"{n}_FILE" for n in names)}}
    environment.update({"DEBUG": "true", **env})
    code = ("import django, json; django.setup(); from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60,
                          env={**environment, "DJANGO_SETTINGS_MODULE": "syncsite.settings"})


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_every_secret_can_come_from_a_file_minus_one_trailing_newline(tmp_path, name):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-$HOME-value-0001\n")
    result = read_settings([name], **{f"{name}_FILE": str(secret)})
    assert result.returncode == 0, result.stderr
    value = json.loads(result.stdout.strip().splitlines()[-1])[name]
    expected = "s3cret-$HOME-value-0001"
    assert value == ([expected] if name in LIST_SECRETS else expected)


def test_a_file_secret_keeps_everything_but_one_trailing_newline(tmp_path):
    (tmp_path / "key").write_text("key-with-two-newlines\n\n")
    (tmp_path / "tokens").write_text("tok-1,tok-2\n")
    result = read_settings(["NOTION_TOKEN", "CLOCKIFY_WEBHOOK_TOKENS"],
                           NOTION_TOKEN_FILE=str(tmp_path / "key"),
                           CLOCKIFY_WEBHOOK_TOKENS_FILE=str(tmp_path / "tokens"))
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {"NOTION_TOKEN": "key-with-two-newlines\n",
                      "CLOCKIFY_WEBHOOK_TOKENS": ["tok-1", "tok-2"]}


def test_url_settings_holding_credentials_can_come_from_files_too(tmp_path):
    (tmp_path / "hook").write_text("https://chat.example.com/hooks/T0/B0/xyz\n")
    (tmp_path / "mail").write_text("smtp+tls://user:pw@mail.example.com:587\n")
    result = read_settings(["NOTIFY_WEBHOOK_URL", "EMAIL_HOST_PASSWORD"],
                           NOTIFY_WEBHOOK_URL_FILE=str(tmp_path / "hook"),
                           EMAIL_URL_FILE=str(tmp_path / "mail"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "NOTIFY_WEBHOOK_URL": "https://chat.example.com/hooks/T0/B0/xyz",
        "EMAIL_HOST_PASSWORD": "pw"}


def test_a_secret_set_both_ways_stops_start_up_naming_the_variable(tmp_path):
    (tmp_path / "key").write_text("from-the-file-0001\n")
    result = read_settings(["NOTION_TOKEN"], NOTION_TOKEN="from-the-env-0001",
                           NOTION_TOKEN_FILE=str(tmp_path / "key"))
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in message and "NOTION_TOKEN_FILE" in message
    assert "from-the-" not in result.stderr


def test_an_unreadable_secret_file_stops_start_up_naming_the_variable(tmp_path):
    result = read_settings(["CLOCKIFY_API_KEY"],
                           CLOCKIFY_API_KEY_FILE=str(tmp_path / "missing"))
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in message and "CLOCKIFY_API_KEY_FILE" in message


def test_secrets_from_the_environment_are_taken_exactly(tmp_path):
    result = read_settings(["CLOCKIFY_WEBHOOK_TOKENS", "SECRET_KEY"],
                           CLOCKIFY_WEBHOOK_TOKENS="tok-1, tok-2 ",
                           SECRET_KEY="$starts-with-a-dollar ")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "CLOCKIFY_WEBHOOK_TOKENS": ["tok-1", " tok-2 "],
        "SECRET_KEY": "$starts-with-a-dollar "}


@pytest.mark.parametrize("name,value", [
    ("NOTION_TOKEN", "ntn_value "), ("CLOCKIFY_API_KEY", "\tkey"),
    ("NOTION_WEBHOOK_SECRET", ["ok-secret", " padded"]), ("SECRET_KEY", "key\n"),
])
def test_check_warns_about_whitespace_around_a_secret_without_showing_it(settings, name, value):
    setattr(settings, name, value)
    found = [m for m in run_checks() if m.id == "syncapp.W004"]
    assert len(found) == 1 and name in found[0].msg
    shown = found[0].msg + (found[0].hint or "")
    for part in value if isinstance(value, list) else [value]:
        assert part.strip() not in shown


def test_no_whitespace_warning_for_exact_secrets():
    assert not [m for m in run_checks() if m.id == "syncapp.W004"]
