"""What the sync remembers: entity mappings with baselines, runs, and the audit trail."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from syncapp.engine import kinds
from syncapp.engine.records import MappingConfig, SyncFilter


class Kind(models.TextChoices):
    CLIENT = "client", "Client"
    PROJECT = "project", "Project"
    TASK = "task", "Task"


KIND_ORDER = kinds.KIND_NAMES  # parents first: client, project, task


def default_properties(kind: str) -> dict:
    """The property names a fresh install expects in each Notion database."""
    return dict(kinds.get(kind).default_properties)


DEFAULT_CLOSED_VALUES = {spec.name: spec.default_closed_values for spec in kinds.KINDS}


class DatabaseMapping(models.Model):
    """How one Notion database maps onto one Clockify entity kind."""

    kind = models.CharField(max_length=10, choices=Kind.choices, unique=True)
    properties = models.JSONField(
        default=dict,
        help_text=(
            "Notion property name for each synced field, e.g. "
            '{"clockify_id": "Clockify ID", "closed": "Status", "parent": "Client"}. '
            "The title property is found by type, so the name needs no entry. Leave a field "
            "out to stop syncing it. Use “Check configuration” to validate against Notion."
        ),
    )
    closed_values = models.CharField(
        max_length=500,
        blank=True,
        help_text=(
            "Comma-separated status or select values that mean closed (archived in Clockify, "
            "DONE for tasks). Ignored when the closed property is a checkbox."
        ),
    )
    sync_filter = models.JSONField(
        default=dict,
        blank=True,
        help_text=(
            "Selective sync: only pages inside this filter are synced. "
            '{"property": "Sync to Clockify"} (a checkbox that must be ticked) or '
            '{"property": "Status", "values": ["In progress", "Planned"]} (a status or select '
            "with one of these values). {} syncs every page. A synced page that leaves the "
            "filter is archived in Clockify like a close, never deleted. Easiest set in the "
            "mapping editor, which offers only the database's real properties and options."
        ),
    )
    data_source_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="Resolved from the database ID and cached so each run spends no call on it.",
    )
    data_source_for = models.CharField(
        max_length=64, blank=True, help_text="The database ID the cached data sources belong to."
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} database mapping"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        known = {key for spec in kinds.KINDS for key in spec.default_properties} | {"estimate"}
        if not isinstance(self.properties, dict):
            raise ValidationError({"properties": "A JSON object: field name → property name."})
        unknown = sorted(set(self.properties) - known)
        if unknown:
            raise ValidationError({"properties": f"Unknown field(s): {', '.join(unknown)}. "
                                                 f"Known: {', '.join(sorted(known))}."})
        blank = sorted(k for k, v in self.properties.items() if not isinstance(v, str) or not v)
        if blank:
            raise ValidationError({"properties": f"Give a Notion property name for: "
                                                 f"{', '.join(blank)}."})
        self._clean_filter()

    def _clean_filter(self) -> None:
        from django.core.exceptions import ValidationError

        data = self.sync_filter
        if data in ({}, None):
            self.sync_filter = {}
            return
        values = data.get("values", []) if isinstance(data, dict) else None
        if not isinstance(data, dict) or set(data) - {"property", "values"} \
                or not isinstance(data.get("property"), str) or not data["property"] \
                or not isinstance(values, list) \
                or not all(isinstance(v, str) and v for v in values):
            raise ValidationError({"sync_filter": 'Either {} (sync every page), '
                                   '{"property": "<checkbox name>"} or {"property": "<status '
                                   'or select name>", "values": ["<option>", ...]}.'})

    @property
    def filter_rule(self) -> SyncFilter | None:
        """The selective-sync filter as the engine reads it (None: every page is synced)."""
        return SyncFilter.from_json(self.sync_filter)

    def config(self) -> MappingConfig:
        """The mapping as plain values for the engine (what a sync reads)."""
        return MappingConfig(self.kind, dict(self.properties or {}), self.closed_value_list,
                             self.filter_rule)

    @property
    def closed_value_list(self) -> list[str]:
        return [v.strip() for v in self.closed_values.split(",") if v.strip()]

    @classmethod
    def for_kind(cls, kind: str) -> DatabaseMapping:
        mapping, _ = cls.objects.get_or_create(
            kind=kind,
            defaults={"properties": default_properties(kind),
                      "closed_values": DEFAULT_CLOSED_VALUES[kind]},
        )
        return mapping


class MappingState(models.TextChoices):
    LINKED = "linked", "Linked"
    CREATING = "creating", "Creating (outcome pending)"
    ARCHIVED = "archived", "Archived"
    ORPHANED = "orphaned", "Orphaned (Notion page unreachable)"


class EntityMapping(models.Model):
    """One Notion page and its Clockify entity, with the last synced values of both."""

    kind = models.CharField(max_length=10, choices=Kind.choices)
    notion_page_id = models.CharField(max_length=36)
    # NULL while a create is in flight: the unique constraint ignores NULLs.
    clockify_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    name = models.CharField(max_length=2000, blank=True)
    state = models.CharField(max_length=10, choices=MappingState.choices,
                             default=MappingState.CREATING)
    baseline = models.JSONField(
        default=dict,
        blank=True,
        help_text='Last synced values, {"notion": {...}, "clockify": {...}}: the third side '
                  "of the three-way diff.",
    )
    clockify_state = models.JSONField(
        default=dict, blank=True,
        help_text='Clockify\'s side as last read or written ({"fields": {...}, "parent": id}): '
                  "what a change-feed run assumes for an entity the feed does not name. "
                  "Empty: the next run reads the entity.")
    notion_last_edited = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "notion_page_id"],
                                    name="unique_notion_page_per_kind"),
            models.UniqueConstraint(fields=["kind", "clockify_id"],
                                    condition=models.Q(clockify_id__isnull=False),
                                    name="unique_clockify_id_per_kind"),
        ]
        indexes = [models.Index(fields=["kind", "state"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.name or self.notion_page_id}"


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    POLL = "poll", "Poll"
    MANUAL = "manual", "Manual (Sync now)"
    WEBHOOK = "webhook", "Webhook"
    COMMAND = "command", "Command"
    REVIEW = "review", "Review decision"
    UNDO = "undo", "Undo of a run"


class Mode(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"
    AUDIT = "audit", "Full audit"  # a full sync that reads Clockify completely, feed or not


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial (some records failed or need review)"
    FAILED = "failed", "Failed"
    HELD = "held", "Held for review"
    WAITING = "waiting", "Waiting for the Clockify budget"


class SyncRunQuerySet(models.QuerySet):
    def fail_running(self, reason: str, now=None) -> int:
        """Fail the runs of these that are still running (their process is gone).

        Compare-and-set on the status: a run that finished meanwhile keeps its outcome.
        """
        return self.filter(status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, finished_at=now or timezone.now(), phase="Stopped",
            error_summary=reason, watermark=None)


class SyncRun(models.Model):
    """One sync, from queued to finished. Each change of state is one method below."""

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.FULL)
    dry_run = models.BooleanField(default=False)
    kinds = models.JSONField(default=list, blank=True, help_text="Kinds synced; empty = all.")
    page_ids = models.JSONField(default=list, blank=True,
                                help_text="Notion pages a webhook or button asked to sync.")
    targeted = models.BooleanField(default=False,
                                   help_text="Only the listed pages (no query of the databases).")
    coalesced = models.PositiveIntegerField(
        default=0, help_text="Triggers merged into this run while another run was active.")
    last_coalesced_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices,
                              default=RunStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True,
                              help_text="Per kind, per action: how many records.")
    api_calls = models.JSONField(default=dict, blank=True,
                                 help_text="Per service: HTTP calls by endpoint and in total.")
    phase = models.CharField(max_length=100, blank=True)
    error_summary = models.TextField(blank=True)
    triggered_by = models.CharField(max_length=200, blank=True)
    watermark = models.DateTimeField(
        null=True, blank=True,
        help_text="Start of the Notion read: the next incremental run reads from here.",
    )
    undo_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="undos",
        help_text="The run this run undoes (services/undo.py); empty for every other run.")

    clockify_read = models.CharField(
        max_length=10, blank=True, choices=[("feed", "Change feed"), ("complete", "Complete")],
        help_text="How a full run read Clockify: through the change feed, or completely.")
    feed_note = models.TextField(
        blank=True, help_text="Why the run read Clockify completely instead of through the "
                              "change feed (the fallback), or what the feed said.")
    clockify_state_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Clockify's state was stored as of here: the next full run asks the change "
                  "feed for what changed since (minus CLOCKIFY_FEED_OVERLAP_SECONDS).")
    drift = models.JSONField(
        default=list, blank=True,
        help_text="Full audit: entities whose Clockify state differed from what the change "
                  "feed let the sync assume (drift the feed missed).")

    resumes_at = models.DateTimeField(
        null=True, blank=True,
        help_text="A run waiting for the Clockify request budget: when a follow-up continues.",
    )

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-started_at"]),
            # The runs list, the recent runs, the admin's run list (their keyset and
            # ORDER BY -started_at, -id) and the chart's started_at range of today.
            models.Index(fields=["-started_at", "-id"], name="syncrun_newest_first"),
            # The overview's last finished run (ORDER BY -finished_at, -id LIMIT 1).
            models.Index(fields=["-finished_at", "-id"], name="syncrun_last_finished"),
        ]
        constraints = [
            # At most one queued real run: every further trigger is merged into it. An undo
            # waits apart: nothing may be merged into it.
            models.UniqueConstraint(fields=["status"], name="one_queued_run",
                                    condition=models.Q(status="queued", dry_run=False,
                                                       undo_of__isnull=True)),
            # One undo per run; only an undo that failed may be followed by another attempt.
            models.UniqueConstraint(fields=["undo_of"], name="one_undo_per_run",
                                    condition=models.Q(undo_of__isnull=False)
                                    & ~models.Q(status="failed")),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.mode}, {self.status})"

    @property
    def trigger_label(self) -> str:
        """What lists and cards show: a dry run says so, whoever asked for it."""
        return "Dry run" if self.dry_run else self.get_trigger_display()

    @property
    def full_read(self) -> bool:
        """Whole databases are read (a full sync or an audit), not a poll's few pages."""
        return self.mode != Mode.INCREMENTAL

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None

    # -- the lifecycle: queued -> running -> succeeded / partial / held / failed ----------------
    def start(self, now=None) -> bool:
        """Move a queued run to running, by compare-and-set: of two workers, one starts it."""
        now = now or timezone.now()
        started = SyncRun.objects.filter(pk=self.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING, started_at=now)
        if started:  # what it covers may have grown while it waited (merged triggers)
            self.refresh_from_db()
        return bool(started)

    def record_progress(self, phase: str, counts: dict, api_calls: dict) -> None:
        """Save where a running run is, so the dashboard shows it live."""
        self.phase, self.counts, self.api_calls = phase[:100], counts, api_calls
        self.save(update_fields=["phase", "counts", "api_calls"])

    def finish(self, status: str, *, counts: dict | None = None, errors: str = "",
               api_calls: dict | None = None, phase: str | None = "Finished",
               complete: bool = True, now=None) -> None:
        """Record the outcome. An incomplete run (failed, or a read that failed) never moves
        the watermark: the next incremental run must read what this one missed."""
        self.status = status
        if counts is not None:
            self.counts = counts
        if api_calls is not None:
            self.api_calls = api_calls
        if phase is not None:
            self.phase = phase[:100]
        self.error_summary = errors
        self.finished_at = now or timezone.now()
        if status == RunStatus.FAILED or not complete:
            self.watermark = None
        self.save()

    def fail(self, reason: str, **outcome) -> None:
        """A failed run, with its reason (what people read in the run, /health/, the mail)."""
        self.finish(RunStatus.FAILED, errors=reason, **outcome)

    def hold(self, reason: str, **outcome) -> None:
        """Held for review: something waits for a person before it may be applied."""
        self.finish(RunStatus.HELD, errors=reason, **outcome)


class RequestSlot(models.Model):
    """One request of an hourly budget (CLOCKIFY_REQUESTS_PER_HOUR slots per service).

    A request takes a slot last used over an hour ago, by compare-and-set on `used_at`:
    two processes can never both take the last one (services/budget.py).
    """

    service = models.CharField(max_length=20)
    slot = models.PositiveIntegerField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service", "slot"]
        constraints = [models.UniqueConstraint(fields=["service", "slot"],
                                               name="one_row_per_budget_slot")]

    def __str__(self) -> str:
        return f"{self.service} request slot {self.slot}"


class SyncLock(models.Model):
    """The single row that says which worker is running a sync, claimed by compare-and-set.

    A worker that dies stops its heartbeat; after SYNC_DEAD_AFTER_SECONDS another may take
    over. Host and pid let `sync --force` see at once that a holder on this machine is gone.
    """

    name = models.CharField(max_length=20, unique=True, default="sync")
    holder = models.CharField(max_length=64, blank=True)
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    host = models.CharField(max_length=255, blank=True, help_text="Hostname of the holder.")
    pid = models.PositiveIntegerField(null=True, blank=True, help_text="Process id of the holder.")

    def __str__(self) -> str:
        return f"lock {self.name} held by {self.holder or 'nobody'}"


class SyncingState(models.Model):
    """Whether a person has started syncing (one row, pk=1).

    A fresh install has its schedules in place but nothing writes to Clockify or Notion
    until someone presses Start syncing / Sync now or runs `manage.py sync`.
    """

    started = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return "syncing started" if self.started else "syncing not started (or paused)"


class Action(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    ARCHIVE = "archive", "Archive"
    UNARCHIVE = "unarchive", "Unarchive"
    LINK = "link", "Link"
    WRITE_BACK = "write_back", "Write back to Notion"
    REPARENT = "reparent", "Reparent"
    SKIP = "skip", "Skip"


class Outcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    FLAGGED = "flagged", "Flagged"
    PLANNED = "planned", "Planned (dry run)"


class ChangeRecord(models.Model):
    """The audit trail: one planned or applied change to one entity."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    mapping = models.ForeignKey(EntityMapping, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="changes")
    name = models.CharField(max_length=2000, blank=True)
    notion_page_id = models.CharField(max_length=36, blank=True)
    clockify_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=12, choices=Action.choices)
    fields = models.JSONField(default=dict, blank=True,
                              help_text='Per field: {"before": ..., "after": ...}.')
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=50, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["run", "kind"]),  # a run's records of one kind
            # The chart's today (outcome and run read from the index alone) and the
            # date-range exports.
            models.Index(fields=["created_at", "outcome", "run"], name="changerecord_by_day"),
            models.Index(fields=["notion_page_id"]),  # search by Notion ID
            # A run's records in id order: run detail's keyset pages, the idle-poll EXISTS.
            models.Index(fields=["run", "id"], name="changerecord_run_pages"),
            # The admin's outcome filter, in its id order, without sorting.
            models.Index(fields=["outcome", "id"], name="changerecord_by_outcome"),
            models.Index(fields=["clockify_id"], name="changerecord_clockify_id"),  # search
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.name} ({self.outcome})"


__all__ = [
    "Action",
    "ChangeRecord",
    "DEFAULT_CLOSED_VALUES",
    "DatabaseMapping",
    "EntityMapping",
    "KIND_ORDER",
    "Kind",
    "MappingState",
    "Mode",
    "Outcome",
    "RequestSlot",
    "RunStatus",
    "SyncLock",
    "SyncRun",
    "SyncingState",
    "Trigger",
    "default_properties",
]
