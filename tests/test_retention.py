from datetime import timedelta

import pytest
from django.utils import timezone

from syncapp.models import ChangeRecord, SyncRun, WebhookDelivery
from syncapp.tasks import prune

pytestmark = pytest.mark.django_db


def make_run(days_ago: int, trigger="poll", status="succeeded", changed=False) -> SyncRun:
    finished = timezone.now() - timedelta(days=days_ago)
    run = SyncRun.objects.create(trigger=trigger, mode="incremental", status=status,
                                 started_at=finished, finished_at=finished)
    if changed:
        ChangeRecord.objects.create(run=run, kind="client", action="create", outcome="applied")
    return run


def test_prunes_only_idle_old_polls_and_handled_old_deliveries():
    idle_old = make_run(5)
    keep = [make_run(0), make_run(5, changed=True), make_run(5, trigger="schedule"),
            make_run(5, status="failed")]
    old = timezone.now() - timedelta(days=40)
    WebhookDelivery.objects.create(source="clockify", status="processed", received_at=old)
    failed = WebhookDelivery.objects.create(source="clockify", status="failed", received_at=old)
    recent = WebhookDelivery.objects.create(source="clockify", status="processed")
    assert prune() == {"idle_polls": 1, "deliveries": 1}
    assert not SyncRun.objects.filter(pk=idle_old.pk).exists()
    assert set(SyncRun.objects.values_list("pk", flat=True)) == {r.pk for r in keep}
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {failed.pk, recent.pk}


def test_prune_schedule_exists_once():
    from django_q.models import Schedule

    assert Schedule.objects.filter(func="syncapp.tasks.prune").count() == 1
