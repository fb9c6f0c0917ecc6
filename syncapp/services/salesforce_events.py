"""Completed Clockify time entries forwarded to Salesforce as Events (optional).

A changed entry is marked pending (`mark_pending`, in the same transaction as
the change); a django-q2 task every minute pushes what is due (`push_due`):
create the Event, PATCH it when the entry changed, DELETE it when the entry
was deleted. A failure is kept on the entry and retried with exponential
backoff; a permanent one (the values were refused) waits for the admin's
"retry" action. A create that got no trustworthy answer is read back before
it is tried again, so a lost response does not make a second Event.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from syncapp.clients.errors import ApiError, NotFound, OutcomeUnknown
from syncapp.clients.formats import utc_stamp
from syncapp.clients.salesforce import SalesforceClient
from syncapp.models import EntityMapping, SalesforceStatus, TimeEntry
from syncapp.services import connections

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)
MAX_ATTEMPTS = 10
LEASE = timedelta(minutes=5)  # a claimed entry is not pushed by another worker meanwhile
BATCH = 200
MARKER = "Clockify time entry: "


def enabled() -> bool:
    return bool(settings.SALESFORCE_INSTANCE_URL and (
        settings.SALESFORCE_ACCESS_TOKEN
        or (settings.SALESFORCE_CLIENT_ID and settings.SALESFORCE_CLIENT_SECRET)))


def backoff(attempts: int) -> timedelta:
    return min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempts - 1)))


# -- marking -----------------------------------------------------------------------------------
def mark_pending(entry: TimeEntry) -> None:
    """Called with the entry's new values, before it is saved."""
    if not enabled():
        return
    if entry.deleted:
        needed = bool(entry.sf_event_id or entry.sf_outcome_unknown)
    else:
        needed = not entry.running and entry.end is not None
    if needed:
        entry.sf_status = SalesforceStatus.PENDING
        entry.sf_attempts = 0
        entry.sf_next_attempt_at = timezone.now()
        entry.sf_error = ""
    elif entry.deleted and entry.sf_status == SalesforceStatus.PENDING:
        entry.sf_status = SalesforceStatus.NONE  # deleted before it was ever sent
        entry.sf_next_attempt_at = None


def retry_now(queryset) -> int:
    """The admin's action: push these entries again at the next run, attempts reset."""
    return queryset.exclude(sf_status=SalesforceStatus.NONE).update(
        sf_status=SalesforceStatus.PENDING, sf_attempts=0, sf_error="",
        sf_next_attempt_at=timezone.now())


# -- the Event ----------------------------------------------------------------------------------
def event_fields(entry: TimeEntry) -> dict:
    """Subject from client / project / task / description; the ids in the Description."""
    raw = entry.raw or {}
    project = raw.get("project") if isinstance(raw.get("project"), dict) else {}
    task = raw.get("task") if isinstance(raw.get("task"), dict) else {}
    wanted = Q(pk__in=[])
    for kind, clockify_id in (("project", entry.project_id), ("task", entry.task_id)):
        if clockify_id:
            wanted |= Q(kind=kind, clockify_id=clockify_id)
    mappings = {(m.kind, m.clockify_id): m
                for m in EntityMapping.objects.filter(wanted).select_related("parent")}
    project_map = mappings.get(("project", entry.project_id))
    task_map = mappings.get(("task", entry.task_id))
    client_name = project.get("clientName") or (
        project_map.parent.name if project_map and project_map.parent else "")
    project_name = project.get("name") or (project_map.name if project_map else "")
    task_name = task.get("name") or (task_map.name if task_map else "")
    head = " / ".join(part for part in (client_name, project_name, task_name) if part)
    text = entry.description.strip()
    subject = f"{head}: {text}" if head and text else (head or text or "Clockify time entry")
    lines = [text, ""] if text else []
    lines.append(f"{MARKER}{entry.clockify_id}")
    if entry.project_id:
        lines.append(f"Clockify project: {entry.project_id}")
    if entry.task_id:
        lines.append(f"Clockify task: {entry.task_id}")
    if project_map:
        lines.append(f"Notion project page: {project_map.notion_page_id}")
    if task_map:
        lines.append(f"Notion task page: {task_map.notion_page_id}")
    return {"Subject": subject[:255], "StartDateTime": utc_stamp(entry.start),
            "EndDateTime": utc_stamp(entry.end), "Description": "\n".join(lines)[:32000]}


def fields_hash(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def read_back(client: SalesforceClient, entry: TimeEntry) -> str:
    """The Event a create with an unknown outcome may have made, found by its times and marker."""
    if entry.start is None or entry.end is None:
        return ""
    # Only datetimes we format go into the query (SOQL datetime literals are unquoted).
    where = (f"StartDateTime = {utc_stamp(entry.start)} "
             f"AND EndDateTime = {utc_stamp(entry.end)}")
    soql = f"SELECT Id, Description FROM Event WHERE {where}"  # noqa: S608
    records = client.query(soql)
    marker = f"{MARKER}{entry.clockify_id}"
    for record in records:
        if marker in (record.get("Description") or "").splitlines():
            return record["Id"]
    return ""


# -- pushing -----------------------------------------------------------------------------------
def _due(now: datetime):
    return TimeEntry.objects.filter(sf_status=SalesforceStatus.PENDING).filter(
        Q(sf_next_attempt_at__isnull=True) | Q(sf_next_attempt_at__lte=now))


def push(entry_id: int, *, client: SalesforceClient | None = None,
         now: datetime | None = None) -> str:
    """Bring one entry's Event in line with the entry; returns what happened."""
    now = now or timezone.now()
    lease = now + LEASE
    if not _due(now).filter(pk=entry_id).update(sf_next_attempt_at=lease):
        return "not due"
    entry = TimeEntry.objects.get(pk=entry_id)
    client = client or connections.salesforce_client()
    try:
        event_id, sent_hash, action = _apply(client, entry)
    except ApiError as exc:
        return _failed(entry, exc, now, lease)
    mine = TimeEntry.objects.filter(pk=entry.pk)
    # What Salesforce now holds, recorded whatever happened to the entry meanwhile...
    mine.update(sf_event_id=event_id, sf_sent_hash=sent_hash, sf_outcome_unknown=False,
                sf_synced_at=timezone.now())
    # ...while "sent" only if no change arrived during the push (else it stays pending).
    mine.filter(sf_next_attempt_at=lease).update(
        sf_status=SalesforceStatus.SENT, sf_error="", sf_next_attempt_at=None,
        sf_attempts=entry.sf_attempts + 1)
    return action


def _apply(client: SalesforceClient, entry: TimeEntry) -> tuple[str, str, str]:
    event_id = entry.sf_event_id
    if not event_id and entry.sf_outcome_unknown:
        event_id = read_back(client, entry)
    if entry.deleted:
        if event_id:
            with contextlib.suppress(NotFound):  # already gone
                client.delete_event(event_id)
            return "", "", "deleted"
        return "", "", "nothing to delete"
    if entry.running or entry.start is None or entry.end is None:
        return event_id, entry.sf_sent_hash, "running: nothing to send"
    fields = event_fields(entry)
    digest = fields_hash(fields)
    if event_id:
        if digest == entry.sf_sent_hash:
            return event_id, digest, "unchanged"
        try:
            client.update_event(event_id, fields)
            return event_id, digest, "updated"
        except NotFound:
            pass  # deleted in Salesforce: create it again
    try:
        return client.create_event(fields), digest, "created"
    except OutcomeUnknown:
        TimeEntry.objects.filter(pk=entry.pk).update(sf_outcome_unknown=True)
        raise


def _failed(entry: TimeEntry, exc: ApiError, now: datetime, lease: datetime) -> str:
    attempts = entry.sf_attempts + 1
    give_up = exc.permanent or attempts >= MAX_ATTEMPTS
    log.warning("Salesforce Event of time entry %s: attempt %s failed%s: %s",
                entry.clockify_id, attempts, " (giving up)" if give_up else "", exc)
    TimeEntry.objects.filter(pk=entry.pk, sf_next_attempt_at=lease).update(
        sf_status=SalesforceStatus.FAILED if give_up else SalesforceStatus.PENDING,
        sf_attempts=attempts, sf_error=str(exc)[:2000],
        sf_next_attempt_at=None if give_up else now + backoff(attempts))
    return "failed" if give_up else "retrying"


def push_due(*, client: SalesforceClient | None = None, now: datetime | None = None) -> Counter:
    """Push every entry whose attempt is due (the every-minute task)."""
    counts: Counter = Counter()
    if not enabled():
        return counts
    now = now or timezone.now()
    ids = list(_due(now).order_by("sf_next_attempt_at", "id").values_list("pk", flat=True)[:BATCH])
    if ids:
        client = client or connections.salesforce_client()
    for entry_id in ids:
        counts[push(entry_id, client=client, now=now)] += 1
    return counts
