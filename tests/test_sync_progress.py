"""manage.py sync as an operator runs it: live progress on a terminal, plain lines in cron,
one JSON object with --json, and Ctrl-C that stops at a safe point and says so.

Each test runs the real command in a subprocess against the sandbox served on loopback,
throttled so that the run lasts a few seconds.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.syncing import assert_mirror
from tests.test_run_liveness import ROOT, environment, manage, runs_in, seed

pytestmark = pytest.mark.slow


@pytest.fixture
def world(served, tmp_path):
    box, root = served
    seed(box)
    env = environment(tmp_path, root, dead_after="30")
    assert manage(env, "migrate", "--no-input").returncode == 0
    return box, env


def test_on_a_terminal_the_sync_redraws_a_progress_line_before_it_ends(world):
    box, env = world
    leader, follower = pty.openpty()
    sync = subprocess.Popen([sys.executable, "manage.py", "sync"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    screen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        assert ready, "no output for a minute"
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    sync.wait(timeout=30)
    os.close(leader)
    text = screen.decode(errors="replace")
    assert sync.returncode == 0, text
    summary = text.index("Run 1: succeeded")
    redraws = [i for i in range(len(text)) if text.startswith("\r\x1b[K", i)]
    live = [text[i + 4:i + 200] for i in redraws if i < summary]
    assert any(line.startswith("Syncing clients") or line.startswith("Syncing projects")
               for line in live), live
    assert any("API calls: notion" in line for line in live)
    assert len(box.clockify.clients()) == 12


def test_without_a_terminal_progress_is_a_plain_line_per_phase_and_period(world):
    box, env = world
    done = manage(env, "sync", "--progress-every", "0.5")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "\r" not in done.stderr and "\x1b" not in done.stderr
    assert any(line.startswith("Reading Notion clients") for line in lines)
    assert any(line.startswith("Syncing projects") and "API calls:" in line for line in lines)
    assert len(lines) >= 4
    assert done.stdout.startswith("Run 1: succeeded")


def test_with_json_the_output_is_exactly_one_json_object(world):
    _, env = world
    done = manage(env, "sync", "--json", "--progress-every", "0.1")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)  # one object, nothing around it
    assert answer["status"] == "succeeded" and answer["run"] == 1
    assert done.stdout.strip().count("\n") == 0
    assert "Syncing clients" not in done.stderr and "API calls" not in done.stderr


def test_ctrl_c_stops_at_a_safe_point_says_so_and_the_rerun_converges(world, tmp_path):
    box, env = world
    sync = subprocess.Popen([sys.executable, "manage.py", "sync"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(box.clockify.clients()) < 3:
        assert sync.poll() is None, sync.communicate()
        assert time.monotonic() < deadline, "the sync never got going"
        time.sleep(0.05)
    sync.send_signal(signal.SIGINT)
    out, err = sync.communicate(timeout=60)
    assert sync.returncode == 130, err
    assert "Stopping at the next safe point" in err
    assert "Stopped on request (Ctrl-C); the next run continues." in err
    [(run_id, status, summary)] = runs_in(tmp_path)
    assert status == "failed" and summary.startswith("Stopped on request between two changes")
    assert len(box.clockify.clients()) < 12  # it stopped part-way

    rerun = manage(env, "sync")
    assert rerun.returncode == 0, rerun.stderr
    assert len(box.clockify.clients()) == 12 and len(box.clockify.projects()) == 12
    assert_mirror(box)  # nothing created twice


def test_the_estimate_of_time_left_follows_the_pace_of_the_kind():
    from syncapp.management.progress import describe, estimate_left
    from syncapp.services.sync import Progress

    progress = Progress("Syncing tasks", {"task": {"created": 25}},
                        {"notion": {"total": 40, "waited_seconds": 12.0, "rate_limited": 2},
                         "clockify": {"total": 30}}, done=25, total=100)
    assert estimate_left(progress, phase_elapsed=10.0) == " · about 30 s left for this kind"
    assert describe(progress, elapsed=64.0) == (
        "Syncing tasks · tasks 25 · API calls: notion 40 clockify 30 · waited 12 s for rate "
        "limits (2× 429) · 64 s · 25/100 changes")
