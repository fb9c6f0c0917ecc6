"""Read the whole history of Clockify time entries (idempotent: reruns upsert)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from syncapp.clients.errors import ApiError, BudgetExhausted
from syncapp.services import budget, rollup, time_backfill


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = ("Read every Clockify time entry of every user of the workspace: the whole "
            "history, or from --since (a date, TIME_ZONE) until now or until --until "
            "(inclusive), and store them (upsert by Clockify id: a rerun changes nothing that "
            "is right). Then write the changed tracked hours to Notion. Without --until the "
            "read is recorded like the dashboard's (Time page, /health/).")

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_day,
                            help="First day, YYYY-MM-DD (default: the whole history).")
        parser.add_argument("--until", type=_day, help="Last day, YYYY-MM-DD (default: now).")

    def handle(self, *args, since: date | None, until: date | None, **options):
        scope = f"since {since}" if since else "(the whole history)"
        self.stderr.write(f"Reading Clockify time entries {scope}…")

        def progress(start, stop, counts):
            self.stderr.write(f"  {timezone.localdate(start)} – {timezone.localdate(stop)}: "
                              f"{dict(counts)}")

        try:
            found = self._read(since, until, progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except ApiError as exc:
            raise CommandError(f"Reading Clockify failed: {exc}. What was read is kept; "
                               f"run the command again to complete it.") from None
        except BudgetExhausted as exc:
            raise CommandError(f"{budget.waiting_message(exc.resumes_at)}. What was read is "
                               "kept; run the command again then to complete it.",
                               returncode=75) from None
        written = dict(rollup.flush())
        self.stdout.write(f"time entries: {dict(found)}\nNotion rollups: {written}")

    @staticmethod
    def _read(since: date | None, until: date | None, progress) -> dict:
        if until is not None:  # a slice of history: not the backfill the dashboard tracks
            if since is None:
                raise ValueError("--until needs --since.")
            end = timezone.make_aware(datetime.combine(until + timedelta(days=1), time.min))
            return time_backfill.backfill_window(since, until=end, progress=progress)
        backfill = time_backfill.request(since, queue=False)
        if backfill is None:
            raise ValueError("The same backfill is already queued or running in the worker; "
                             "see the Time page.")
        return time_backfill.execute(backfill.pk, progress=progress)
