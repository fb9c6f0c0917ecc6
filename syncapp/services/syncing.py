"""Whether a person has started syncing: the one check schedules and webhooks consult.

A fresh install has its schedules in place, but nothing writes to Clockify or Notion until
someone starts syncing: Sync now, Start syncing, or `manage.py sync` (a dry run never
starts it). Until then, and while paused, the schedules (daily sync, poll, time
reconciliation, rollups, Salesforce Events) do nothing and webhook deliveries are stored
with their run left queued until syncing starts.
"""

from __future__ import annotations

from django.utils import timezone

from syncapp.models import SyncingState, Trigger

AUTOMATIC = (Trigger.SCHEDULE, Trigger.POLL, Trigger.WEBHOOK)


def state() -> SyncingState:
    """The singleton row (created by migration 0009; recreated if someone deleted it)."""
    row, _ = SyncingState.objects.get_or_create(pk=1)
    return row


def syncing_started() -> bool:
    return bool(SyncingState.objects.filter(pk=1, started=True).exists())


def may_run(trigger: str) -> bool:
    """A person's trigger always runs; the automatic ones wait until syncing started."""
    return trigger not in AUTOMATIC or syncing_started()


def _set(started: bool, by: str) -> bool:
    """Store the state; True when it changed."""
    changed = SyncingState.objects.filter(pk=1).exclude(started=started).update(
        started=started, changed_at=timezone.now(), changed_by=by[:200])
    if not changed and not SyncingState.objects.filter(pk=1).exists():
        SyncingState.objects.create(pk=1, started=started, changed_at=timezone.now(),
                                    changed_by=by[:200])
        return True
    return bool(changed)


def start_syncing(by: str) -> bool:
    """Turn the schedules and webhooks on. True when syncing was not started before.

    A webhook's run that waited while syncing was off is sent to the worker now.
    """
    changed = _set(True, by)
    if changed:
        from syncapp.services.runs import hand_over  # runs imports this module

        hand_over()
    return changed


def pause_syncing(by: str) -> bool:
    """Schedules and webhooks stop writing (Sync now starts syncing again). True if changed."""
    return _set(False, by)
