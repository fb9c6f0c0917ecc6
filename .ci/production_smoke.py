"""Start the product the way the README's Production section says, and use it once.

gunicorn with DEBUG=false, a django-q2 cluster on the Redis broker, PostgreSQL, and the
sandbox emulators served on loopback in place of Notion and Clockify. Then, over HTTP as a
person would: log in, press Sync now, wait until the worker finished the run, fetch a
static file under its hashed name (compressed), and ask /health/. Everything started is
stopped at the end, whatever happened. Exit status 0 only when every step passed.

    python .ci/production_smoke.py   # needs PostgreSQL and Redis on 127.0.0.1
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DB = os.environ.get("SMOKE_DB", "syncapp_smoke")
PG = os.environ.get("SMOKE_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/14")
RUN_TIMEOUT = float(os.environ.get("SMOKE_RUN_TIMEOUT", "180"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def step(message: str) -> None:
    print(f"-- {message}", flush=True)


def fail(message: str) -> None:
    raise SystemExit(f"PRODUCTION SMOKE FAILED: {message}")


def environment(var: Path, sandbox_port: int, web_port: int) -> dict[str, str]:
    from syncapp.sandbox import ids  # the sandbox's own credentials, as a real account's

    sandbox = f"http://127.0.0.1:{sandbox_port}"
    env = {k: v for k, v in os.environ.items() if k not in {"SANDBOX", "DEBUG"}}
    env.update({
        "DEBUG": "false", "SANDBOX": "false", "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": f"{PG}/{DB}", "REDIS_URL": REDIS, "VAR_DIR": str(var),
        "STATIC_ROOT": str(var / "static"), "ALLOWED_HOSTS": "127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{web_port}",
        # Plain HTTP on loopback: in production a TLS proxy sits in front.
        "SECURE_SSL_REDIRECT": "false", "SECURE_COOKIES": "false", "SECURE_HSTS_SECONDS": "0",
        "NOTION_API_URL": f"{sandbox}/notion", "NOTION_TOKEN": ids.NOTION_TOKEN,
        "NOTION_CLIENTS_DATABASE_ID": ids.CLIENTS_DATABASE_ID,
        "NOTION_PROJECTS_DATABASE_ID": ids.PROJECTS_DATABASE_ID,
        "NOTION_TASKS_DATABASE_ID": ids.TASKS_DATABASE_ID,
        "CLOCKIFY_API_URL": f"{sandbox}/clockify/api/v1", "CLOCKIFY_API_KEY": ids.CLOCKIFY_API_KEY,
        "CLOCKIFY_WORKSPACE_ID": ids.CLOCKIFY_WORKSPACE_ID,
        "NOTION_REQUESTS_PER_SECOND": "50", "CLOCKIFY_REQUESTS_PER_SECOND": "50",
        "DJANGO_SUPERUSER_PASSWORD": "smoke-" + secrets.token_urlsafe(12),
    })
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def start(stack: ExitStack, name: str, env: dict, *args: str, log: Path) -> None:
    handle = log.open("w")
    process = subprocess.Popen(list(args), cwd=ROOT, env=env, stdout=handle,
                               stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        if process.poll() is None:
            # SIGTERM to the main process only, as a supervisor should (systemd
            # KillMode=mixed): a qcluster whose workers all get it too never exits.
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        handle.close()
        step(f"stopped {name} (exit {process.returncode})")
        if process.returncode not in (0, -signal.SIGTERM):
            fail(f"{name} did not stop cleanly on SIGTERM (exit {process.returncode})")

    stack.callback(stop)


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    fail(f"{url} did not answer within {timeout:.0f} s")


def log_in(base: str, password: str) -> requests.Session:
    http = requests.Session()
    login = f"{base}/admin/login/"
    http.get(login, timeout=10).raise_for_status()
    answer = http.post(login, data={"username": "admin", "password": password, "next": "/",
                                    "csrfmiddlewaretoken": http.cookies["csrftoken"]},
                       headers={"Referer": login}, timeout=10)
    if "sessionid" not in http.cookies:
        fail(f"logging in failed (HTTP {answer.status_code})")
    return http


def sync_now(base: str, http: requests.Session) -> int:
    page = http.get(f"{base}/", timeout=30)
    page.raise_for_status()
    answer = http.post(f"{base}/sync/", data={"csrfmiddlewaretoken": http.cookies["csrftoken"]},
                       headers={"Referer": f"{base}/"}, timeout=30)
    answer.raise_for_status()
    found = re.search(r"run #(\d+)", answer.text)
    if not found:
        fail("the overview did not say which run Sync now queued")
    return int(found.group(1))


def wait_for_run(base: str, http: requests.Session, run_id: int) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        progress = http.get(f"{base}/runs/{run_id}/progress/", timeout=10).json()
        if progress["finished"]:
            return progress
        time.sleep(1)
    fail(f"run #{run_id} was not finished by the worker within {RUN_TIMEOUT:.0f} s "
         f"(last seen: {progress['status']}, {progress['phase']!r})")
    raise AssertionError  # unreachable


def check_static(base: str, http: requests.Session) -> None:
    page = http.get(f"{base}/admin/login/", timeout=10).text
    found = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page)
    if not found:
        fail("the admin's stylesheet is not served under a content-hashed name")
    answer = http.get(base + found.group(1), headers={"Accept-Encoding": "gzip"}, timeout=10)
    if answer.status_code != 200 or "max-age=315360000" not in answer.headers.get(
            "Cache-Control", ""):
        fail(f"static file: HTTP {answer.status_code}, {answer.headers.get('Cache-Control')}")
    if answer.headers.get("Content-Encoding") != "gzip":
        fail("static file served uncompressed")
    step(f"static file {found.group(1)}: 200, compressed, cached for a year")


def main() -> int:
    sys.path.insert(0, str(ROOT))
    sandbox_port, web_port = free_port(), free_port()
    base = f"http://127.0.0.1:{web_port}"
    with tempfile.TemporaryDirectory(prefix="smoke-") as tmp, ExitStack() as stack:
        var = Path(tmp)
        env = environment(var, sandbox_port, web_port)
        step(f"database {DB} on {PG}, Redis {REDIS}")
        psql = ["psql", f"{PG}/postgres", "-v", "ON_ERROR_STOP=1", "-q"]
        subprocess.run([*psql, "-c", f"DROP DATABASE IF EXISTS {DB}", "-c",
                        f"CREATE DATABASE {DB}"], check=True)
        stack.callback(subprocess.run, [*psql, "-c", f"DROP DATABASE IF EXISTS {DB}"])
        step("migrate, collectstatic, createsuperuser (as the README says)")
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        manage(env, "createsuperuser", "--noinput", "--username", "admin",
               "--email", "admin@example.com")
        step("starting the sandbox APIs, gunicorn and a qcluster")
        start(stack, "sandbox", env, PYTHON, "manage.py", "sandbox", "--port",
              str(sandbox_port), "--state", str(var / "sandbox.json"), log=var / "sandbox.log")
        start(stack, "gunicorn", env, PYTHON, "-m", "gunicorn", "syncsite.wsgi", "--workers",
              "2", "--bind", f"127.0.0.1:{web_port}", log=var / "gunicorn.log")
        start(stack, "qcluster", env, PYTHON, "manage.py", "qcluster", log=var / "qcluster.log")
        wait_for(f"http://127.0.0.1:{sandbox_port}/")
        wait_for(f"{base}/health/")
        try:
            http = log_in(base, env["DJANGO_SUPERUSER_PASSWORD"])
            run_id = sync_now(base, http)
            step(f"Sync now queued run #{run_id}; waiting for the worker")
            progress = wait_for_run(base, http, run_id)
            step(f"run #{run_id}: {progress['status']} in {progress['duration_seconds']} s, "
                 f"totals {progress['totals']}")
            if progress["status"] not in {"succeeded", "partial"}:
                fail(f"run #{run_id} ended {progress['status']}: {progress['error_summary']}")
            if not progress["totals"].get("created"):
                fail("the first sync created nothing in the sandbox's Clockify")
            check_static(base, http)
            health = requests.get(f"{base}/health/", timeout=10)
            step(f"/health/: {health.status_code} {health.text[:200]}")
            if health.status_code != 200:
                fail("/health/ does not answer 200 after a completed run")
        except BaseException:
            for name in ("gunicorn", "qcluster", "sandbox"):
                print(f"== last lines of {name}.log", flush=True)
                lines = (var / f"{name}.log").read_text(errors="replace").splitlines()
                print("\n".join(lines[-40:]), flush=True)
            raise
    print("production smoke passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
