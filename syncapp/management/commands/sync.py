"""Run one sync in the foreground and print what it did."""

from __future__ import annotations

import json
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError

from syncapp.clients.errors import ApiError
from syncapp.engine.kinds import KINDS
from syncapp.management.progress import ProgressReporter, stop_on_ctrl_c
from syncapp.models import ChangeRecord, Mode, Outcome, RunStatus, SyncRun
from syncapp.services import syncing
from syncapp.services.runs import SyncBusy, run_in_foreground
from syncapp.services.summary import summary_rows
from syncapp.services.sync import SyncOptions

KIND_ALIASES = {spec.database_label.lower(): spec.name for spec in KINDS}  # clients → client
EX_TEMPFAIL = 75  # sysexits.h: a temporary failure, the caller may retry later
COLUMNS = ("created", "updated", "archived", "linked", "unchanged", "flagged", "failed")


def read_failed(run: SyncRun) -> bool:
    """Whether a kind could not be read (a held run may have lost access to a database)."""
    return any(counts.get("read_failed") for counts in (run.counts or {}).values())


def record_errors(run: SyncRun) -> list[dict]:
    """Records that failed in this run, with their error (no values beyond the name)."""
    return [{"kind": r.kind, "name": r.name or r.notion_page_id,
             "notion_page_id": r.notion_page_id, "error": r.error}
            for r in ChangeRecord.objects.filter(run=run, outcome=Outcome.FAILED)
            .only("kind", "name", "notion_page_id", "error").order_by("id")]


class Command(BaseCommand):
    help = ("Sync Notion to Clockify now. Exit 0: everything applied; 1: some records failed "
            "or need review; 2: configuration error, another sync running, or Notion or "
            "Clockify could not be read (the run failed); 75: waiting for the Clockify "
            "request budget (CLOCKIFY_REQUESTS_PER_HOUR), a follow-up run is scheduled.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true",
                            help="Plan and record, write nothing to either API.")
        parser.add_argument("--incremental", action="store_true",
                            help="Only pages edited since the last run.")
        parser.add_argument("--audit", action="store_true",
                            help="A full audit: read Clockify completely (not through its "
                                 "change feed) and report drift the feed missed.")
        parser.add_argument("--kind", choices=sorted(KIND_ALIASES), action="append",
                            help="Limit to one kind (repeatable).")
        parser.add_argument("--json", action="store_true",
                            help="Print one JSON object, and nothing else.")
        parser.add_argument("--progress-every", type=float, default=30.0, metavar="SECONDS",
                            help="Without a terminal (cron, logs): seconds between progress "
                                 "lines on stderr (default 30; a terminal gets one live line).")
        parser.add_argument("--force", action="store_true",
                            help="Take over the sync lock when its holder is provably dead (no "
                                 "heartbeat for SYNC_DEAD_AFTER_SECONDS, or its process is gone "
                                 "from this host), e.g. after a kill -9. A live run's lock is "
                                 "never taken.")

    def handle(self, *args, dry_run: bool, incremental: bool, kind, json: bool, force: bool,
               progress_every: float, audit: bool = False, **options):
        if audit and incremental:
            raise CommandError("--audit reads everything: it cannot be --incremental.",
                               returncode=2)
        kinds = [KIND_ALIASES[k] for k in kind or []]
        mode = Mode.AUDIT if audit else Mode.INCREMENTAL if incremental else Mode.FULL
        sync_options = SyncOptions(trigger="command", dry_run=dry_run, kinds=kinds, mode=mode,
                                   triggered_by="manage.py sync")
        if not dry_run and syncing.start_syncing("manage.py sync"):
            self.stderr.write("Syncing started: the schedules and webhooks now write too "
                              "(`manage.py syncing pause` stops them).")
        with stop_on_ctrl_c(self.stderr.write) as stop:
            sync_options.should_stop = stop.is_set
            run = self._run(sync_options, force, json, progress_every)
        if json:
            self._print_json(run)
        else:
            self._print_table(run)
        if stop.is_set():
            raise CommandError("Stopped on request (Ctrl-C); the next run continues.",
                               returncode=130)
        if run.status == RunStatus.FAILED or read_failed(run):
            raise CommandError(run.error_summary or "The run failed.", returncode=2)
        if run.status == RunStatus.WAITING:
            raise SystemExit(EX_TEMPFAIL)  # nothing failed: try again later (it will)
        if run.status != RunStatus.SUCCEEDED:
            raise SystemExit(1)

    def _run(self, options: SyncOptions, force: bool, json: bool, every: float) -> SyncRun:
        # The wrapper's own stream: OutputWrapper would end the redrawn status line.
        reporter = nullcontext() if json else ProgressReporter(
            self.stderr._out, terminal=self.stderr.isatty(), every=every)
        with reporter:
            options.on_progress = reporter if not json else None
            try:
                return run_in_foreground(options, force=force, report=self.stderr.write)
            except SyncBusy as exc:
                raise CommandError(str(exc), returncode=2) from exc
            except ApiError as exc:
                raise CommandError(f"Connection error: {exc}", returncode=2) from exc

    def _print_json(self, run) -> None:
        records = record_errors(run)
        self.stdout.write(json.dumps({
            "run": run.pk, "status": run.status, "mode": run.mode, "dry_run": run.dry_run,
            "clockify_read": run.clockify_read, "drift": run.drift,
            "counts": {k: row for k, row in summary_rows(run, COLUMNS)},
            "api_calls": {s: c["total"] for s, c in run.api_calls.items()},
            "errors": run.error_summary.splitlines()
            + [f"{r['kind']} {r['name']}: {r['error']}" for r in records],
            "read_errors": run.error_summary.splitlines(),
            "record_errors": records,
        }))

    def _print_table(self, run) -> None:
        title = f"Run {run.pk}: {run.status}" + (" (dry run)" if run.dry_run else "")
        self.stdout.write(title)
        self.stdout.write(f"{'kind':<9}" + "".join(f"{c:>11}" for c in COLUMNS))
        for kind, row in summary_rows(run, COLUMNS):
            self.stdout.write(f"{kind:<9}" + "".join(f"{row[c]:>11}" for c in COLUMNS))
        calls = ", ".join(f"{s}: {c['total']}" for s, c in run.api_calls.items())
        self.stdout.write(f"API calls: {calls}")
        for line in run.feed_note.splitlines():
            self.stdout.write(line)
        for item in run.drift:
            what = "gone" if item.get("missing") else ", ".join(
                f"{f}: {v['assumed']!r} → {v['actual']!r}" for f, v in item["fields"].items())
            self.stdout.write(f"drift {item['kind']} {item['name']} ({item['clockify_id']}): "
                              f"{what}")
        for line in run.error_summary.splitlines():
            self.stderr.write(line)
        for record in record_errors(run):
            self.stderr.write(f"{record['kind']} {record['name']}: {record['error']}")



