"""`make demo`: migrate, seed, create a login, and run everything until Ctrl-C."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from syncapp.sandbox.demo import seed_demo
from syncapp.sandbox.server import serve
from syncapp.sandbox.workspace import Sandbox

START_SECONDS = 60
QUIET_SECONDS = 0.5  # the children's start-up lines come in bursts; let the last one land
QCLUSTER_RUNNING = re.compile(r"Q Cluster .* running\.")
OUTPUT_LOCK = threading.Lock()


def _listening(port: int) -> bool:
    """Whether the web server accepts connections (a bare connect: no request in its log)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Ctrl-C and a plain `kill` both stop everything cleanly, even when started in the
    background (where a shell hands SIGINT down as ignored)."""
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


class Command(BaseCommand):
    help = "Run the dashboard on the sandbox: web server, django-q2 worker and emulators."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8765)
        parser.add_argument("--fresh", action="store_true",
                            help="Reseed the sandbox, forgetting its saved state.")

    def handle(self, *args, port: int, sandbox_port: int, fresh: bool, **options):
        if not settings.SANDBOX:
            raise CommandError("The demo runs on the sandbox: set SANDBOX=true (make demo does).")
        _stop_on_signals()
        call_command("migrate", interactive=False, verbosity=0)
        password = self._admin_login()
        server, sandbox, state = self._start_sandbox(sandbox_port, fresh)
        env = {**os.environ, "SANDBOX": "true",
               "SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}"}
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        env["PYTHONUNBUFFERED"] = "1"  # their lines arrive as they happen, not at exit
        children = [self._start([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env),
                    self._start([*manage, "qcluster"], env)]
        try:
            # The login line comes last, once both have said their start-up lines, where a
            # person sees it; flushed, because stdout may be a pipe (tee, a log) that buffers.
            self._wait_until_up(children, port)
            self.stdout.write(self.style.SUCCESS(
                f"\nDashboard: http://127.0.0.1:{port}/   login: admin / {password}\n"
                f"Sandbox emulators: http://127.0.0.1:{sandbox_port}/   "
                f"Ctrl-C stops everything.\n"
                "Nothing is written until you start syncing: the overview walks you through "
                "Check configuration, Dry run, Start syncing.\n"))
            self.stdout.flush()
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
            for child in children:
                child.passer.join(timeout=5)  # their last lines before ours
            server.shutdown()
            sandbox.save(state)
            self.stdout.write("Stopped.")
            self.stdout.flush()

    def _start(self, command: list[str], env: dict) -> subprocess.Popen:
        """Start a child whose output we pass on line by line (see _wait_until_up)."""
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, bufsize=1)
        child.ready = threading.Event()  # type: ignore[attr-defined]
        child.last_output = time.monotonic()  # type: ignore[attr-defined]
        child.passer = threading.Thread(target=self._pass_on, args=(child,), daemon=True)
        child.passer.start()
        return child

    def _pass_on(self, child: subprocess.Popen) -> None:
        for line in child.stdout:
            child.last_output = time.monotonic()
            with OUTPUT_LOCK:
                self.stdout.write(line, ending="")
                self.stdout.flush()
            if QCLUSTER_RUNNING.search(line):
                child.ready.set()

    def _wait_until_up(self, children: list[subprocess.Popen], port: int) -> None:
        """Until the web server answers, the worker says it runs, and both fall quiet."""
        worker = children[1]
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if any(child.poll() is not None for child in children):
                raise CommandError("The web server or the worker stopped while starting; "
                                   "its output is above.")
            if worker.ready.is_set() and _listening(port) \
                    and time.monotonic() - max(c.last_output for c in children) > QUIET_SECONDS:
                return
            time.sleep(0.1)
        self.stderr.write(f"The demo did not come up within {START_SECONDS} s; "
                          "it may still be starting.")

    def _admin_login(self) -> str:
        # A fresh password each start: printed here, never stored in a file.
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"email": "admin@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password

    def _start_sandbox(self, port: int, fresh: bool):
        state = Path(settings.VAR_DIR) / "sandbox.json"
        sandbox = Sandbox()
        if fresh or not sandbox.load(state):
            seed_demo(sandbox)
            sandbox.save(state)
        server = serve(sandbox, port=port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        sandbox.autosave(state)  # a killed demo keeps what the sandbox held seconds before
        return server, sandbox, state
