"""`make demo` brings up a dashboard that asks for login, and the printed login works."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def running(fragment: str) -> bool:
    """Whether any process's command line contains `fragment` (arguments NUL-separated)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if fragment in cmdline.read_text():
                return True
        except OSError:
            continue
    return False


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2, allow_redirects=False)
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not come up")


@pytest.mark.slow
def test_demo_serves_login_and_admin(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "SANDBOX": "true", "DEBUG": "true", "VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", f"--port={port}", f"--sandbox-port={sandbox_port}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        output = ""
        while "login:" not in output:
            line = demo.stdout.readline()
            assert line, f"demo exited early:\n{output}"
            output += line
        password = re.search(r"login: admin / (\S+)", output).group(1)
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/")
        first = requests.get(base + "/", allow_redirects=False, timeout=5)
        assert first.status_code == 302 and "/admin/login/" in first.headers["Location"]

        browser = requests.Session()
        login = browser.get(base + "/admin/login/", timeout=5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        answer = browser.post(base + "/admin/login/?next=/admin/", timeout=10, data={
            "csrfmiddlewaretoken": token, "username": "admin", "password": password,
            "next": "/admin/"}, headers={"Referer": base + "/admin/login/"})
        assert answer.status_code == 200 and "Site administration" in answer.text
        overview = browser.get(base + "/", timeout=5).text
        assert "Overview" in overview
        assert "Start syncing in three steps" in overview  # nothing written before that
        # the sandbox answers too, with Notion's and Clockify's own error shapes
        notion = requests.get(f"http://127.0.0.1:{sandbox_port}/notion/v1/users/me", timeout=5)
        assert notion.status_code == 401 and notion.json()["object"] == "error"
    finally:
        demo.send_signal(signal.SIGTERM)  # a plain `kill`; Ctrl-C (SIGINT) takes the same path
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    assert (tmp_path / "sandbox.json").exists()
    assert "Stopped." in demo.stdout.read()
    assert not running(f"runserver\x00127.0.0.1:{port}"), "the web server outlived the demo"


STARTUP_LINES = ("Starting development server", "Quit the server with", "Q Cluster",
                 "ready for work")


@pytest.mark.slow
def test_demo_prints_the_login_line_last_and_at_once(tmp_path):
    """After the web server's and the worker's start-up lines, not lost among them; and
    flushed: stdout here is a pipe without PYTHONUNBUFFERED, so an unflushed line would only
    arrive when the demo exits."""
    import queue
    import threading

    port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "SANDBOX": "true", "DEBUG": "true", "VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    env.pop("PYTHONUNBUFFERED", None)
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", f"--port={port}", f"--sandbox-port={sandbox_port}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout] + [lines.put(None)],
                     daemon=True).start()
    before: list[str] = []
    try:
        while True:
            line = lines.get(timeout=90)  # a buffered login line never comes while it runs
            assert line is not None, "demo exited early:\n" + "".join(before)
            if "login: admin /" in line:
                break
            before.append(line)
        assert demo.poll() is None  # it came while the demo runs: flushed
        text = "".join(before)
        assert "Quit the server with" in text and re.search(r"Q Cluster .* running\.", text)
        # the web server is already up when the line is printed
        first = requests.get(f"http://127.0.0.1:{port}/", allow_redirects=False, timeout=5)
        assert first.status_code == 302
        assert "Sandbox emulators:" in lines.get(timeout=10)
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    after = []
    while (line := lines.get(timeout=10)) is not None:
        after.append(line)
    assert after[-1].strip() == "Stopped."
    started_late = [line for line in after if any(s in line for s in STARTUP_LINES)
                    and "stop" not in line]
    assert not started_late, started_late
