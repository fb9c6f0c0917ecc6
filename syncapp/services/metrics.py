"""What /metrics reports, read from the database at scrape time.

The database is the one source of truth: every web process answers the same figures, and
nothing is lost when a worker restarts. Runs pruned by retention (idle polls) leave the
run and API-call series, so those are gauges of what the history holds, not counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db.models import Count, FloatField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from syncapp.models import (
    ChangeRecord,
    PendingChange,
    ReviewStatus,
    RunStatus,
    SyncRun,
    WebhookDelivery,
)
from syncapp.services import runs

PREFIX = "notion_clockify_sync"
SERVICES = ("notion", "clockify")
API_FIELDS = {"total": "calls", "retries": "retries", "rate_limited": "rate_limited",
              "waited_seconds": "wait_seconds"}
COMPLETED = (RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.HELD,
             RunStatus.WAITING)


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=labels)


class SyncCollector(Collector):
    """Collects every series on each scrape; `now` is injectable for tests."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = self.now or timezone.now()
        yield from self._runs()
        yield from self._last_runs(now)
        yield self._records()
        yield self._reviews()
        yield from self._api_calls()
        yield self._api_calls_last_hour(now)
        yield self._webhooks()

    def _runs(self) -> Iterator[Metric]:
        family = _gauge("runs", "Runs in the history, by trigger and status (dry runs apart).",
                        ["trigger", "status", "dry_run"])
        rows = (SyncRun.objects.values("trigger", "status", "dry_run")
                .annotate(n=Count("id")).order_by())
        for row in rows:
            family.add_metric([row["trigger"], row["status"], str(row["dry_run"]).lower()],
                              row["n"])
        yield family
        active = _gauge("run_active", "1 while a sync holds the lock.")
        active.add_metric([], 1 if runs.current_holder() is not None else 0)
        yield active

    def _last_runs(self, now: datetime) -> Iterator[Metric]:
        real = SyncRun.objects.filter(dry_run=False, finished_at__isnull=False)
        success = real.filter(status__in=[RunStatus.SUCCEEDED, RunStatus.PARTIAL]) \
            .order_by("-finished_at").first()
        age = _gauge("last_success_age_seconds",
                     "Seconds since the last real run that completed its reads (-1: never).")
        age.add_metric([], (now - success.finished_at).total_seconds() if success else -1)
        yield age
        last = real.filter(status__in=COMPLETED).order_by("-finished_at").first()
        failed = _gauge("last_run_failed", "1 when the last real run failed or was held.")
        failed.add_metric([], 1 if last and last.status in (RunStatus.FAILED, RunStatus.HELD)
                          else 0)
        yield failed
        duration = _gauge("last_run_duration_seconds", "Duration of the last real run.")
        if last and last.duration is not None:
            duration.add_metric([], last.duration.total_seconds())
        yield duration

    def _records(self) -> Metric:
        family = _gauge("records", "Change records in the audit trail, by kind, action and "
                        "outcome (applied, failed, flagged, ...).", ["kind", "action", "outcome"])
        rows = (ChangeRecord.objects.filter(run__dry_run=False)
                .values("kind", "action", "outcome").annotate(n=Count("id")).order_by())
        for row in rows:
            family.add_metric([row["kind"], row["action"], row["outcome"]], row["n"])
        return family

    def _reviews(self) -> Metric:
        family = _gauge("pending_reviews", "Changes waiting for a decision, by reason.",
                        ["reason"])
        rows = (PendingChange.objects.filter(status=ReviewStatus.PENDING)
                .values("reason").annotate(n=Count("id")).order_by())
        for row in rows:
            family.add_metric([row["reason"]], row["n"])
        return family

    def _api_calls(self) -> Iterator[Metric]:
        sums = {f"{service}_{key}": Coalesce(Sum(Cast(KT(f"api_calls__{service}__{key}"),
                                                      FloatField())), 0.0)
                for service in SERVICES for key in API_FIELDS}
        totals = SyncRun.objects.aggregate(**sums)
        for key, name in API_FIELDS.items():
            family = _gauge(f"api_{name}", f"API {name.replace('_', ' ')} of the runs in the "
                            "history, per service.", ["service"])
            for service in SERVICES:
                family.add_metric([service], totals[f"{service}_{key}"])
            yield family

    def _api_calls_last_hour(self, now: datetime) -> Metric:
        """Against the hourly limits (30 requests an hour on new Free Clockify workspaces)."""
        recent = SyncRun.objects.filter(Q(finished_at__gte=now - timedelta(hours=1))
                                        | Q(finished_at__isnull=True))
        totals = recent.aggregate(**{service: Coalesce(Sum(Cast(
            KT(f"api_calls__{service}__total"), FloatField())), 0.0) for service in SERVICES})
        family = _gauge("api_calls_last_hour", "API calls of the runs finished in the last "
                        "hour or still running, per service.", ["service"])
        for service in SERVICES:
            family.add_metric([service], totals[service])
        return family

    def _webhooks(self) -> Metric:
        family = _gauge("webhook_deliveries", "Webhook deliveries kept, by source and outcome.",
                        ["source", "status"])
        rows = (WebhookDelivery.objects.values("source", "status")
                .annotate(n=Count("id")).order_by())
        for row in rows:
            family.add_metric([row["source"], row["status"]], row["n"])
        return family
