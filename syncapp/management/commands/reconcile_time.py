"""Re-read recent Clockify time entries now, and write the tracked hours to Notion."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from syncapp.clients.errors import BudgetExhausted
from syncapp.services import budget, rollup, salesforce_events, timeentries


class Command(BaseCommand):
    help = ("Repair missed Clockify webhooks from the last days of time entries, then write "
            "changed tracked hours to Notion and push due Salesforce Events (what the "
            "schedules do hourly and every minute).")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=timeentries.RECONCILE_DAYS)

    def handle(self, *args, days: int, **options):
        # Each step is idempotent: Ctrl-C at any point loses nothing, a rerun completes it.
        self.stderr.write(f"Reading the last {days} days of Clockify time entries…")
        try:
            found = dict(timeentries.reconcile(days))
        except BudgetExhausted as exc:  # nothing was changed: it reads before it writes
            raise CommandError(f"{budget.waiting_message(exc.resumes_at)}: nothing was "
                               "changed; run it again then.", returncode=75) from None
        self.stderr.write("Writing changed tracked hours to Notion…")
        written = dict(rollup.flush())
        self.stderr.write("Pushing due Salesforce Events…")
        pushed = dict(salesforce_events.push_due())
        self.stdout.write(f"time entries: {found}\nNotion rollups: {written}\n"
                          f"Salesforce: {pushed}")
