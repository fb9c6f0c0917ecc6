"""The overview's numbers. Each function costs a fixed number of queries, whatever the data.

A poll runs every minute, so most runs are idle polls (nothing to do). Lists that people
read hide those by default (`meaningful_runs`); counts and the chart still include them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull
from django.urls import reverse
from django.utils import timezone

from syncapp.models import (
    KIND_ORDER,
    ChangeRecord,
    EntityMapping,
    Kind,
    MappingState,
    RunStatus,
    SyncRun,
    Trigger,
)
from syncapp.services import activity as daily

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED = (RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.HELD,
            RunStatus.WAITING)
TROUBLE = (RunStatus.FAILED, RunStatus.HELD)
# Count keys the applier uses, in reading order; "processed" is their sum.
COUNT_KEYS = ("created", "updated", "archived", "linked", "written_back", "planned",
              "unchanged", "skipped", "flagged", "failed", "read_failed")
CHANGE_KEYS = ("created", "updated", "archived", "linked", "written_back")


# -- one run, as people read it -------------------------------------------------------------------
COUNT_LABELS = {"written_back": "written back to Notion", "planned": "planned",
                "read_failed": "read failed (see the errors)"}


def kind_progress(run: SyncRun) -> list[dict]:
    """Per kind: records processed so far and the non-zero counts, in KIND_ORDER."""
    rows = []
    for kind in KIND_ORDER:
        counts = {k: int(v) for k, v in (run.counts or {}).get(kind, {}).items() if v}
        ordered = [(k, counts[k]) for k in COUNT_KEYS if k in counts] \
            + [(k, v) for k, v in counts.items() if k not in COUNT_KEYS]
        rows.append({"kind": kind, "label": Kind(kind).label + "s",
                     "processed": sum(n for k, n in counts.items() if k != "read_failed"),
                     "counts": ordered,
                     "details": ", ".join(f"{n} {COUNT_LABELS.get(k, k.replace('_', ' '))}"
                                          for k, n in ordered)})
    return rows


def totals(run: SyncRun) -> dict[str, int]:
    """Counts summed over kinds, with "changes" (what was written) and "problems"."""
    summed: dict[str, int] = {}
    for counts in (run.counts or {}).values():
        for key, value in counts.items():
            summed[key] = summed.get(key, 0) + int(value or 0)
    summed["changes"] = sum(summed.get(k, 0) for k in CHANGE_KEYS)
    summed["problems"] = summed.get("failed", 0) + summed.get("flagged", 0) \
        + summed.get("read_failed", 0)
    return summed


def api_call_totals(run: SyncRun) -> dict[str, int]:
    return {service: int(data.get("total", 0))
            for service, data in (run.api_calls or {}).items()}


def progress(run: SyncRun) -> dict:
    """The JSON the Sync now button polls: status, phase and per-kind counts. No secrets."""
    finished = run.status in FINISHED
    return {
        "id": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "finished": finished,
        "dry_run": run.dry_run,
        "trigger_label": run.trigger_label,
        "mode": run.mode,
        "phase": run.phase or (_waiting_for(run) if run.status == RunStatus.QUEUED else ""),
        "coalesced": run.coalesced,
        "kinds": {row["kind"]: {"processed": row["processed"], "details": row["details"],
                                "counts": dict(row["counts"])}
                  for row in kind_progress(run)},
        "totals": totals(run),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": round(run.duration.total_seconds(), 1) if run.duration else None,
        "error_summary": run.error_summary if finished else "",
        "detail_url": reverse("run-detail", args=[run.pk]),
    }


def _waiting_for(run: SyncRun) -> str:
    from syncapp.services import syncing

    if not syncing.may_run(run.trigger):
        return "Waiting until syncing is started"
    return "Waiting for a worker"


# -- the page's blocks ------------------------------------------------------------------------
def active_and_last() -> tuple[list[SyncRun], SyncRun | None]:
    """The active runs, running first then the queued follow-up(s), and the last finished
    real run. One query."""
    last = (SyncRun.objects.filter(status__in=FINISHED, dry_run=False)
            .order_by("-finished_at", "-id").values("pk")[:1])
    found = list(SyncRun.objects.filter(Q(status__in=ACTIVE) | Q(pk__in=last))
                 .order_by("id")[:11])
    active = [run for run in found if run.status in ACTIVE][:10]
    finished = [run for run in found if run.status not in ACTIVE]
    return (sorted(active, key=lambda r: (r.status != RunStatus.RUNNING, r.pk)),
            finished[0] if finished else None)


def idle_poll_filter() -> Q:
    """Succeeded polls that recorded no change: the every-minute heartbeat."""
    # A correlated "first change's id IS NULL", not NOT EXISTS: inside the list's OR,
    # PostgreSQL hashes an EXISTS over every change record (100,000 rows read per page);
    # a LIMIT 1 subquery it cannot hash, so it probes the (run, id) index per run shown.
    first_change = ChangeRecord.objects.filter(run=OuterRef("pk")).order_by().values("pk")[:1]
    return Q(trigger=Trigger.POLL, status=RunStatus.SUCCEEDED) \
        & Q(IsNull(Subquery(first_change), True))


def meaningful_runs(queryset: QuerySet[SyncRun] | None = None) -> QuerySet[SyncRun]:
    queryset = SyncRun.objects.all() if queryset is None else queryset
    return queryset.filter(~idle_poll_filter())


def recent_runs(limit: int = 10) -> list[SyncRun]:
    return list(meaningful_runs().order_by("-started_at", "-id")[:limit])


def mapped_counts() -> list[dict]:
    """Per kind: total and per state. One query."""
    rows = {kind: {"kind": kind, "label": Kind(kind).label, "total": 0, "states": {}}
            for kind in KIND_ORDER}
    for row in EntityMapping.objects.values("kind", "state").annotate(n=Count("id")):
        entry = rows.get(row["kind"])
        if entry is None:
            continue
        entry["total"] += row["n"]
        entry["states"][MappingState(row["state"]).label] = row["n"]
    return list(rows.values())


@dataclass
class Reviews:
    count: int
    description: str
    url: str


def pending_reviews() -> Reviews:
    """What waits for a human: the review queue. The one place that decides the source."""
    from syncapp.services.review import pending_count

    count = pending_count()
    noun = "change is" if count == 1 else "changes are"
    return Reviews(count, f"{noun} waiting for a decision",
                   reverse("review-list"))


def next_schedules(limit: int = 5) -> list:
    from django_q.models import Schedule

    # repeats=0: spent or parked (the budget follow-up between two waits), never runs
    return list(Schedule.objects.exclude(next_run__isnull=True).exclude(repeats=0)
                .order_by("next_run")[:limit])


@dataclass
class DayBar:
    day: date
    runs: int
    failed_runs: int
    changes: int
    problems: int
    changes_pct: int = 0
    problems_pct: int = 0


def activity(days: int = 14) -> list[DayBar]:
    """Runs and changes per day over the last `days` days (local time). Finished days are
    read from DailyActivity, today is counted (services/activity.py): three queries."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    figures = daily.days(first, today, today)
    bars = {}
    for i in range(days):
        day = first + timedelta(days=i)
        found = figures.get(day) or daily.Day()
        bars[day] = DayBar(day, found.runs, found.failed_runs, found.changes, found.problems)
    result = list(bars.values())
    peak = max([b.changes + b.problems for b in result] + [1])
    for bar in result:
        bar.changes_pct = round(100 * bar.changes / peak)
        bar.problems_pct = round(100 * bar.problems / peak)
    return result


# -- the first-run journey ------------------------------------------------------------------------
def first_run_journey() -> dict:
    """What the overview walks a fresh install through: check, dry run, start syncing.

    The plan of the latest finished dry run, in the words people decide on: what would be
    created, linked to an existing Clockify record, and which matches need a decision.
    """
    ambiguous = ChangeRecord.objects.filter(run=OuterRef("pk"), reason="ambiguous_match") \
        .order_by().values("run").annotate(n=Count("id")).values("n")
    dry = (SyncRun.objects.filter(dry_run=True, status__in=FINISHED)
           .annotate(ambiguous=Subquery(ambiguous)).order_by("-finished_at", "-id").first())
    if dry is None:
        return {"dry_run": None}
    summed = totals(dry)
    return {"dry_run": dry, "creates": summed.get("created", 0),
            "links": summed.get("linked", 0), "ambiguous": dry.ambiguous or 0,
            "problems": summed["problems"]}
