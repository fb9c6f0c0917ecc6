"""Serve the Notion and Clockify emulators on loopback for the demo."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from syncapp.sandbox.demo import seed_demo
from syncapp.sandbox.server import serve
from syncapp.sandbox.workspace import Sandbox


class Command(BaseCommand):
    help = "Serve the sandbox emulators of Notion and Clockify (state kept in var/)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--state", default=str(Path(settings.VAR_DIR) / "sandbox.json"))
        parser.add_argument("--fresh", action="store_true", help="Discard saved state and reseed.")
        parser.add_argument("--save-every", type=float, default=5.0,
                            help="Seconds between state saves.")

    def handle(self, *args, port: int, state: str, fresh: bool, save_every: float, **options):
        path = Path(state)
        sandbox = Sandbox()
        if fresh or not sandbox.load(path):
            counts = seed_demo(sandbox)
            sandbox.save(path)
            self.stdout.write(f"Seeded the demo workspace: {counts}")
        server = serve(sandbox, port=port)
        stop = sandbox.autosave(path, save_every)
        self.stdout.write(f"Sandbox serving on http://127.0.0.1:{port} (state: {path})")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            server.server_close()
            sandbox.save(path)
            self.stdout.write("Sandbox stopped; state saved.")
