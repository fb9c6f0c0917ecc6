"""Start or pause syncing from the command line, or show whether it is on."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from syncapp.services import syncing


class Command(BaseCommand):
    help = ("start: the schedules (poll, daily sync, time tracking) and webhooks write to "
            "Clockify and Notion; pause: they write nothing until started again; status: show "
            "which. A fresh install is not started; `manage.py sync` also starts syncing.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "pause", "status"])

    def handle(self, *args, action: str, **options):
        if action == "start":
            changed = syncing.start_syncing("manage.py syncing start")
            self.stdout.write("Syncing started." if changed else "Syncing was already on.")
        elif action == "pause":
            changed = syncing.pause_syncing("manage.py syncing pause")
            self.stdout.write("Syncing paused." if changed else "Syncing was already paused.")
        state = syncing.state()
        word = "on" if state.started else ("paused" if state.changed_at else "not started")
        by = f" (since {state.changed_at:%Y-%m-%d %H:%M} by {state.changed_by})" \
            if state.changed_at else ""
        self.stdout.write(f"Syncing: {word}{by}.")
