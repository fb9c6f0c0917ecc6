"""Tell people when a sync fails or is held: e-mail (NOTIFY_EMAILS) and/or a webhook.

Called by services.runs after every run. One message when syncing starts failing (or
changes from failed to held and back), not one per minute while the poll keeps failing.
Never raises: a broken mail server must not break the sync. Never sends a secret: the
message holds the run's id, status, counts, error summary and a link, nothing from settings.
"""

from __future__ import annotations

import logging

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from syncapp.models import RunStatus, SyncRun
from syncapp.services.overview import FINISHED, totals

log = logging.getLogger(__name__)

NOTIFY_ON = (RunStatus.FAILED, RunStatus.HELD)
WEBHOOK_TIMEOUT = 10


def run_link(run: SyncRun) -> str:
    path = reverse("run-detail", args=[run.pk])
    return f"{settings.DASHBOARD_URL}{path}" if settings.DASHBOARD_URL else path


def should_notify(run: SyncRun) -> bool:
    """A failed or held real run, unless the previous finished run was already so."""
    if run.dry_run or run.status not in NOTIFY_ON:
        return False
    previous = (SyncRun.objects.filter(status__in=FINISHED, dry_run=False, pk__lt=run.pk)
                .order_by("-pk").values_list("status", flat=True).first())
    return previous != run.status


def summary(run: SyncRun) -> str:
    counted = totals(run)
    what = {RunStatus.FAILED: "failed", RunStatus.HELD: "is held for review"}.get(
        run.status, run.status)
    parts = [f"Sync run {run.pk} ({run.get_trigger_display().lower()}, {run.mode}) {what}."]
    numbers = ", ".join(f"{counted.get(k, 0)} {k}" for k in
                        ("created", "updated", "archived", "failed", "flagged"))
    parts.append(f"Records: {numbers}.")
    if run.error_summary:
        parts.append(run.error_summary.strip())
    return "\n".join(parts)


def payload(run: SyncRun) -> dict:
    text = summary(run)
    return {
        "text": f"Notion → Clockify sync: {text.splitlines()[0]} {run_link(run)}",
        "run_id": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "mode": run.mode,
        "summary": text,
        "counts": run.counts,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "link": run_link(run),
    }


def notify_run(run: SyncRun) -> dict[str, bool]:
    """Send what is configured for this run. Returns which channels were used."""
    sent = {"email": False, "webhook": False}
    try:
        if not should_notify(run):
            return sent
        body = payload(run)
        if settings.NOTIFY_EMAILS:
            sent["email"] = _email(run, body)
        if settings.NOTIFY_WEBHOOK_URL:
            sent["webhook"] = _webhook(body)
    except Exception:
        log.exception("Could not notify about sync run %s", run.pk)
    return sent


def _email(run: SyncRun, body: dict) -> bool:
    subject = f"[Notion → Clockify] Sync run {run.pk} {run.get_status_display().lower()}"
    text = f"{body['summary']}\n\nDetails: {body['link']}\n"
    try:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, list(settings.NOTIFY_EMAILS))
    except Exception as exc:
        log.warning("Sending the failure e-mail for run %s failed: %s", run.pk,
                    type(exc).__name__)
        return False
    return True


def _webhook(body: dict) -> bool:
    try:
        response = requests.post(settings.NOTIFY_WEBHOOK_URL, json=body,
                                 timeout=WEBHOOK_TIMEOUT)
        response.raise_for_status()
    except requests.RequestException as exc:
        # The URL itself is a secret (chat webhooks embed a token): never log it.
        status = getattr(getattr(exc, "response", None), "status_code", None)
        log.warning("The notification webhook failed (%s%s)", type(exc).__name__,
                    f", HTTP {status}" if status else "")
        return False
    return True
