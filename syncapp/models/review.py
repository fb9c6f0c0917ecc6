"""What needs a human: pending changes, and the policy that decides what does."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from syncapp.models.sync import EntityMapping, Kind, SyncRun


class Reason(models.TextChoices):
    CONFLICT = "conflict", "Changed on both sides"
    AMBIGUOUS_MATCH = "ambiguous_match", "Ambiguous first match"
    UNREACHABLE = "unreachable", "Notion page unreachable"
    DESTRUCTIVE = "destructive", "Archive needs review"
    MASS_CHANGE = "mass_change", "Mass change held"
    VALIDATION = "validation", "Clockify refuses the value"
    UNDO = "undo", "Undo would overwrite a later change"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    SUPERSEDED = "superseded", "Superseded"
    RESOLVED = "resolved", "Resolved by a later run"


class Decision(models.TextChoices):
    APPROVE = "approve", "Apply the proposed change"
    KEEP_CLOCKIFY = "keep_clockify", "Keep Clockify's value"
    TAKE_NOTION = "take_notion", "Take Notion's value"
    REJECT = "reject", "Reject"


class PendingChange(models.Model):
    """A diff the engine would not apply alone. Approve or reject it in the admin."""

    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="pending_changes", help_text="The run that flagged it.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    mapping = models.ForeignKey(EntityMapping, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="pending_changes")
    name = models.CharField(max_length=2000, blank=True)
    notion_page_id = models.CharField(max_length=36, blank=True)
    clockify_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=12, help_text="What approving does.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    explanation = models.TextField(blank=True)
    diff = models.JSONField(default=dict, blank=True, help_text=(
        "Per field: baseline, Notion value, Clockify value and the proposed value."))
    candidates = models.JSONField(default=list, blank=True,
                                  help_text="Clockify entities an ambiguous match could link.")
    fingerprint = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=12, choices=ReviewStatus.choices,
                              default=ReviewStatus.PENDING)
    decision = models.CharField(max_length=14, choices=Decision.choices, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)
    apply_started_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    result = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="resolved_reviews",
        help_text="The later run that found the difference gone (pages restored, sides agree).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "review item"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "kind", "reason"]),
                   models.Index(fields=["kind", "notion_page_id", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} “{self.name or '(no name)'}”: " \
               f"{self.get_reason_display().lower()}"


class SyncPolicy(models.Model):
    """The one policy row: what the sync may do alone."""

    archives_need_review = models.BooleanField(
        default=False, help_text="Hold every archive in Clockify for approval.")
    name_matching = models.CharField(
        max_length=12, default="link_exact",
        choices=[("link_exact", "Link exact, unique name matches"),
                 ("review", "Always review name matches"),
                 ("never", "Never link by name (always create)")],
        help_text="On a first sync, what to do with a Clockify entity of the same name.")
    mass_change_percent = models.FloatField(
        default=20.0, help_text="Hold all archives of a kind when a run would archive more "
                                "than this share of it (applies from 5 archives up).")
    mass_change_count = models.PositiveIntegerField(
        default=25, help_text="… or more than this many records of a kind.")

    class Meta:
        verbose_name = "sync policy"
        verbose_name_plural = "sync policy"

    def __str__(self) -> str:
        return "Sync policy"

    @classmethod
    def current(cls) -> SyncPolicy:
        return cls.objects.order_by("pk").first() or cls.objects.create()


class FieldPolicy(models.Model):
    """Per kind and field: which side owns it and what a conflict does."""

    kind = models.CharField(max_length=10, choices=Kind.choices)
    field = models.CharField(max_length=20, help_text="name, parent, closed, email, address, "
                                                      "note, billable, color or estimate.")
    direction = models.CharField(max_length=4, choices=[
        ("n2c", "Notion → Clockify"), ("c2n", "Clockify → Notion"), ("both", "Both ways")])
    on_conflict = models.CharField(max_length=10, default="review", choices=[
        ("notion", "Notion wins"), ("clockify", "Clockify wins"), ("review", "Review")])

    class Meta:
        verbose_name = "field policy"
        verbose_name_plural = "field policies"
        constraints = [models.UniqueConstraint(fields=["kind", "field"],
                                               name="one_policy_per_field")]
        ordering = ["kind", "field"]

    def __str__(self) -> str:
        return f"{self.kind}.{self.field}: {self.get_direction_display()}"


__all__ = ["Decision", "FieldPolicy", "PendingChange", "Reason", "ReviewStatus", "SyncPolicy"]
