"""Keep the tables from growing forever, without touching the audit trail.

An every-minute poll that found nothing to do (or waited for the Clockify
budget) leaves a run with no change record: about 1,440 a day. Those, and old
webhook deliveries that were handled, are pruned; runs that changed or flagged
anything, and failed deliveries, stay.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from syncapp.models import DeliveryStatus, RunStatus, SyncRun, Trigger, WebhookDelivery


def prune(now=None) -> dict[str, int]:
    now = now or timezone.now()
    idle_before = now - timedelta(days=settings.IDLE_POLL_RETENTION_DAYS)
    idle = SyncRun.objects.filter(
        trigger=Trigger.POLL, status__in=[RunStatus.SUCCEEDED, RunStatus.WAITING], dry_run=False,
        finished_at__lt=idle_before, changes__isnull=True, pending_changes__isnull=True)
    runs, _ = SyncRun.objects.filter(pk__in=list(idle.values_list("pk", flat=True))).delete()
    deliveries_before = now - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    deliveries, _ = WebhookDelivery.objects.filter(received_at__lt=deliveries_before) \
        .exclude(status=DeliveryStatus.FAILED).delete()
    return {"idle_polls": runs, "deliveries": deliveries}
