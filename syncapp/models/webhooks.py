"""Inbound webhooks and what they feed: deliveries, time entries, rollups, Salesforce Events.

Deliveries are stored before anything else is done with them (the dj-stripe /
django-anymail pattern), so a bad signature, a malformed body or a crash while
processing always leaves a row to look at, and a verified delivery can be
processed again from the admin.
"""

from __future__ import annotations

from django.db import models, transaction
from django.utils import timezone


class WebhookSource(models.TextChoices):
    CLOCKIFY = "clockify", "Clockify"
    NOTION_TRIGGER = "notion_trigger", "Notion button / automation"
    NOTION_EVENTS = "notion_events", "Notion integration webhook"


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    INVALID = "invalid", "Invalid signature or secret (401)"
    MALFORMED = "malformed", "Invalid body (400)"
    TOO_LARGE = "too_large", "Body too large (413)"
    IGNORED = "ignored", "Ignored (irrelevant or our own echo)"
    DUPLICATE = "duplicate", "Duplicate (already processed)"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Processing failed (500)"
    RATE_LIMITED = "rate_limited", "Rate limited (429)"


# Deliveries nobody verified, or whose body can never be processed: kept only up to a cap
# per source (the newest), so a flood cannot outgrow the retention between prunes.
BOUNDED_STATUSES = (DeliveryStatus.INVALID, DeliveryStatus.MALFORMED, DeliveryStatus.TOO_LARGE,
                    DeliveryStatus.RATE_LIMITED)


class WebhookDelivery(models.Model):
    """One HTTP delivery to /hooks/..., exactly as received (secrets removed)."""

    source = models.CharField(max_length=20, choices=WebhookSource.choices)
    received_at = models.DateTimeField(default=timezone.now)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True,
                               help_text="Request headers; secrets and signatures redacted.")
    body = models.TextField(blank=True, help_text="The raw body (UTF-8), or a marker when "
                                                  "it was too large or held a secret.")
    body_size = models.PositiveIntegerField(default=0)
    body_stored = models.BooleanField(
        default=True, help_text="False when the body was too large or redacted: such a "
                                "delivery cannot be processed again.")
    event_type = models.CharField(max_length=100, blank=True)
    event_id = models.CharField(max_length=200, blank=True,
                                help_text="The sender's event id (or the entity id).")
    # Set inside the processing transaction: a second delivery of the same event
    # collides on the constraint and is recorded as a duplicate.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    verified = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.RECEIVED)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True, help_text="Traceback of the last processing failure.")
    attempts = models.PositiveIntegerField(default=0, help_text="Processing attempts.")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["source", "-received_at"]),
            models.Index(fields=["status"]),
            models.Index(fields=["event_id"]),  # the admin's search
            # The admin's list in its ORDER BY -received_at, -id, deep pages included.
            models.Index(fields=["-received_at", "-id"], name="delivery_newest_first"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "dedupe_key"],
                                    condition=models.Q(dedupe_key__isnull=False),
                                    name="one_processing_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} delivery {self.pk} ({self.status})"

    @property
    def reprocessable(self) -> bool:
        return self.verified and self.body_stored


class NotionWebhookSubscription(models.Model):
    """A verification token received at /hooks/notion/events/ (Notion's handshake).

    The handshake is unsigned, so anyone can send one: a token is always stored
    pending, and only staff make it active (the key of the X-Notion-Signature
    HMAC), after checking when and from where it came. Only the newest few
    pending tokens are kept.
    """

    verification_token = models.CharField(max_length=200, unique=True)
    active = models.BooleanField(default=False,
                                 help_text="Used as a signing key for incoming events.")
    received_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"Notion webhook token {self.masked} ({'active' if self.active else 'pending'})"

    @property
    def masked(self) -> str:
        token = self.verification_token
        return f"{token[:7]}…{token[-4:]}" if len(token) > 14 else "…"


class DroppedDeliveries(models.Model):
    """How many refused or invalid deliveries of a source were deleted to respect the cap."""

    source = models.CharField(max_length=20, choices=WebhookSource.choices, unique=True)
    dropped = models.PositiveBigIntegerField(default=0)
    last_dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "dropped deliveries"

    def __str__(self) -> str:
        return f"{self.get_source_display()}: {self.dropped} dropped"


class SalesforceStatus(models.TextChoices):
    NONE = "", "—"
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class TimeEntryQuerySet(models.QuerySet):
    """Bulk writes drop the time report's kept sums (services/time_sums.py): which months
    they touch is not known entry by entry. The services write entries one by one."""

    def bulk_create(self, objs, *args, **kwargs):
        from syncapp.services import time_sums

        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            time_sums.forget_all()
        return created

    def bulk_update(self, objs, fields, *args, **kwargs):
        from syncapp.services import time_sums

        with transaction.atomic(using=self.db):
            updated = super().bulk_update(objs, fields, *args, **kwargs)
            if time_sums.SUMMED_FIELDS & set(fields):
                time_sums.forget_all()
        return updated

    def update(self, **kwargs):
        from syncapp.services import time_sums

        with transaction.atomic(using=self.db):
            updated = super().update(**kwargs)
            if updated and time_sums.SUMMED_FIELDS & set(kwargs):
                time_sums.forget_all()
        return updated

    def delete(self):
        from syncapp.services import time_sums

        with transaction.atomic(using=self.db):
            deleted = super().delete()
            if deleted[0]:
                time_sums.forget_all()
        return deleted


class TimeEntry(models.Model):
    """A Clockify time entry as last seen (webhooks, repaired by reconciliation).

    save() and delete() keep the time report's monthly sums exact (services/time_sums.py):
    each write moves the entry's contribution from what it was when loaded to what it is."""

    clockify_id = models.CharField(max_length=64, unique=True)
    workspace_id = models.CharField(max_length=64, blank=True)
    user_id = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    project_id = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    billable = models.BooleanField(default=False)
    tags = models.JSONField(default=list, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The last applied payload.")
    running = models.BooleanField(default=False, help_text="A timer without an end yet.")
    deleted = models.BooleanField(default=False)
    # "<payload stamp>.<phase>.<delivery sequence>", compared as a string: an event
    # whose key is lower than the stored one is stale and changes nothing.
    order_key = models.CharField(max_length=40, blank=True)
    last_event = models.CharField(max_length=40, blank=True)
    last_delivery = models.ForeignKey(WebhookDelivery, null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Salesforce Event delivery (only when Salesforce is configured).
    sf_status = models.CharField("Salesforce", max_length=10, blank=True,
                                 choices=SalesforceStatus.choices, default=SalesforceStatus.NONE)
    sf_event_id = models.CharField("Salesforce Event id", max_length=18, blank=True)
    sf_sent_hash = models.CharField(max_length=64, blank=True,
                                    help_text="Hash of the Event body last sent.")
    sf_outcome_unknown = models.BooleanField(
        default=False, help_text="A create got no trustworthy answer: read back before "
                                 "creating again.")
    sf_attempts = models.PositiveIntegerField("Salesforce attempts", default=0)
    sf_next_attempt_at = models.DateTimeField("Salesforce next attempt", null=True, blank=True)
    sf_error = models.TextField("Salesforce error", blank=True)
    sf_synced_at = models.DateTimeField(null=True, blank=True)

    objects = TimeEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-start", "-id"]
        verbose_name_plural = "time entries"
        indexes = [
            models.Index(fields=["task_id"]),
            models.Index(fields=["project_id"]),
            models.Index(fields=["start"]),  # the time report's period
            models.Index(fields=["sf_status", "sf_next_attempt_at"]),
            # The admin's list in its ORDER BY -start, -id, deep pages included.
            models.Index(fields=["-start", "-id"], name="timeentry_newest_first"),
            # The time report's running timers: the few rows with running set, not a walk
            # through every entry's start.
            models.Index(fields=["start"], condition=models.Q(running=True),
                         name="timeentry_running"),
            # The time report's sums over a period, read from the index alone (completed,
            # non-deleted entries: the report's own filter; the filter's columns are listed
            # too, or the planners still visit every row to check them).
            models.Index(fields=["start", "project_id", "task_id", "billable",
                                 "duration_seconds", "user_id", "end", "deleted", "running"],
                         condition=models.Q(deleted=False, running=False, end__isnull=False,
                                            duration_seconds__isnull=False),
                         name="timeentry_report"),
        ]

    def __str__(self) -> str:
        return f"{self.description or '(no description)'} [{self.clockify_id}]"

    def save(self, *args, **kwargs):
        from syncapp.services import time_sums

        fields = kwargs.get("update_fields")
        if fields is not None and not time_sums.SUMMED_FIELDS & set(fields):
            return super().save(*args, **kwargs)
        with transaction.atomic(using=kwargs.get("using")):
            before = self._stored()
            super().save(*args, **kwargs)
            time_sums.entry_changed(before, time_sums.of_entry(self))  # after the write
        self._remember_sums()

    def delete(self, *args, **kwargs):
        from syncapp.services import time_sums

        with transaction.atomic(using=kwargs.get("using")):
            before = self._stored()
            deleted = super().delete(*args, **kwargs)
            time_sums.entry_changed(before, None)
        self._stored_sums = None
        return deleted

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._remember_sums()

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember_sums()
        return instance

    def _remember_sums(self) -> None:
        """What this entry adds to the time report as stored (None: nothing; missing:
        unknown, some columns were not loaded)."""
        from syncapp.services import time_sums

        loaded = not (self.get_deferred_fields() & set(time_sums.CONTRIBUTION_FIELDS))
        self._stored_sums = time_sums.of_entry(self) if loaded else _UNKNOWN

    def _stored(self):
        stored = getattr(self, "_stored_sums", None if self._state.adding else _UNKNOWN)
        if stored is _UNKNOWN and self.pk is not None:
            from syncapp.services import time_sums

            values = type(self).objects.filter(pk=self.pk).values(
                *time_sums.CONTRIBUTION_FIELDS).first()
            return time_sums.contribution(**values) if values else None
        return None if stored is _UNKNOWN else stored


_UNKNOWN = object()


class RollupState(models.Model):
    """Tracked hours of one Clockify task or project, and what was last written to Notion."""

    kind = models.CharField(max_length=10, choices=[("project", "Project"), ("task", "Task")])
    clockify_id = models.CharField(max_length=64)
    dirty = models.BooleanField(default=True)
    # Bumped by every change; the flush clears `dirty` only if it is unchanged.
    version = models.PositiveIntegerField(default=0)
    notion_page_id = models.CharField(max_length=36, blank=True)
    last_written = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    last_written_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "clockify_id"]
        constraints = [models.UniqueConstraint(fields=["kind", "clockify_id"],
                                               name="one_rollup_per_entity")]
        indexes = [models.Index(fields=["dirty"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.clockify_id}: {self.last_written} h"


class BackfillStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class TimeBackfill(models.Model):
    """One reading of Clockify's time-entry history: the first, automatic one, or a person's.

    `slot` is set while a backfill of the same scope is queued or running and cleared when it
    ends: the unique constraint lets exactly one claimant create it (compare-and-set, which
    works on SQLite too), so the automatic first backfill is enqueued once.
    """

    since = models.DateField(null=True, blank=True,
                             help_text="First day read; empty: the whole history.")
    automatic = models.BooleanField(default=False,
                                    help_text="The first backfill, started when time "
                                              "reporting was turned on.")
    status = models.CharField(max_length=10, choices=BackfillStatus.choices,
                              default=BackfillStatus.QUEUED)
    slot = models.CharField(max_length=40, null=True, blank=True, unique=True)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        scope = f"since {self.since}" if self.since else "whole history"
        return f"Time backfill ({scope}): {self.get_status_display()}"


__all__ = [
    "BOUNDED_STATUSES",
    "BackfillStatus",
    "DeliveryStatus",
    "DroppedDeliveries",
    "NotionWebhookSubscription",
    "RollupState",
    "SalesforceStatus",
    "TimeBackfill",
    "TimeEntry",
    "WebhookDelivery",
    "WebhookSource",
]
