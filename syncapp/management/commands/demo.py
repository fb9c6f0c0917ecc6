"""`make demo`: migrate, seed, create a login, and run everything until Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
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
        children = [
            subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env),
            subprocess.Popen([*manage, "qcluster"], env=env),
        ]
        self.stdout.write(self.style.SUCCESS(
            f"\nDashboard: http://127.0.0.1:{port}/   login: admin / {password}\n"
            f"Sandbox emulators: http://127.0.0.1:{sandbox_port}/   Ctrl-C stops everything.\n"
            "Nothing is written until you start syncing: the overview walks you through "
            "Check configuration, Dry run, Start syncing.\n"
        ))
        try:
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
            server.shutdown()
            sandbox.save(state)
            self.stdout.write("Stopped.")

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
