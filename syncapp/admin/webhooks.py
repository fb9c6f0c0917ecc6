"""Admin pages for webhooks: deliveries (reprocess), time entries (Salesforce status),
tracked-time rollups, and the Notion verification tokens staff paste into Notion."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from syncapp.admin.sync import ReadOnlyAdmin
from syncapp.models import (
    DroppedDeliveries,
    NotionWebhookSubscription,
    RollupState,
    SalesforceStatus,
    TimeBackfill,
    TimeEntry,
    WebhookDelivery,
)
from syncapp.services import salesforce_events
from syncapp.webhooks import notion, sources
from syncapp.webhooks.store import reprocess


def _pretty(value) -> str:
    return format_html("<pre style='white-space: pre-wrap'>{}</pre>", value)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "source", "event_type", "status", "response_status",
                    "remote_addr", "event_id", "attempts")
    list_filter = ("source", "status", "verified", ("received_at", admin.DateFieldListFilter))
    exact_search = {"event_id": "id", "id": "number"}
    search_help_text = "The sender's event id (or entity id), or the delivery number."
    actions = ["reprocess_deliveries"]
    fields = ("source", "received_at", "remote_addr", "status", "response_status", "message",
              "event_type", "event_id", "verified", "attempts", "processed_at", "body_size",
              "headers_pretty", "body_pretty", "error_pretty")
    readonly_fields = fields

    @admin.display(description="Headers (secrets redacted)")
    def headers_pretty(self, obj):
        return _pretty(json.dumps(obj.headers, indent=2, sort_keys=True))

    @admin.display(description="Body")
    def body_pretty(self, obj):
        try:
            return _pretty(json.dumps(json.loads(obj.body), indent=2))
        except ValueError:
            return _pretty(obj.body)

    @admin.display(description="Error")
    def error_pretty(self, obj):
        return _pretty(obj.error) if obj.error else "—"

    def has_reprocess_permission(self, request):
        return request.user.has_perm("syncapp.change_webhookdelivery")

    @admin.action(description="Process the selected deliveries again", permissions=["reprocess"])
    def reprocess_deliveries(self, request, queryset):
        done, skipped = [], 0
        for delivery in queryset.order_by("id"):
            if not delivery.reprocessable:
                skipped += 1
                continue
            done.append(reprocess(delivery, sources.get(delivery.source)).status)
        if done:
            summary = ", ".join(f"{done.count(s)} {s}" for s in sorted(set(done)))
            self.message_user(request, f"Processed again: {summary}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} skipped: only verified deliveries whose whole "
                                       "body was stored can be processed again.",
                              messages.WARNING)


@admin.register(TimeEntry)
class TimeEntryAdmin(ReadOnlyAdmin):
    list_display = ("clockify_id", "description", "start", "duration_seconds", "project_id",
                    "task_id", "running", "deleted", "last_event", "sf_status", "sf_attempts",
                    "sf_next_attempt_at")
    list_filter = ("running", "deleted", "billable", "sf_status",
                   ("start", admin.DateFieldListFilter))
    # Not sf_event_id: empty on most entries, so its index is useless and the OR a scan.
    exact_search = {"clockify_id": "id", "project_id": "id", "task_id": "id"}
    search_help_text = "A Clockify time entry, project or task ID."
    actions = ["retry_salesforce"]
    readonly_fields = [f.name for f in TimeEntry._meta.fields]

    def has_retry_permission(self, request):
        return request.user.has_perm("syncapp.change_timeentry")

    @admin.action(description="Retry the Salesforce delivery now", permissions=["retry"])
    def retry_salesforce(self, request, queryset):
        count = salesforce_events.retry_now(queryset.exclude(sf_status=SalesforceStatus.SENT))
        self.message_user(request, f"{count} time entries will be sent at the next run "
                                   "(within a minute).", messages.SUCCESS)


@admin.register(TimeBackfill)
class TimeBackfillAdmin(ReadOnlyAdmin):
    """Reads of Clockify's time history (the automatic first one, a person's, the command's):
    read-only; the Time page reads it again."""

    list_display = ("id", "since", "automatic", "status", "requested_at", "started_at",
                    "finished_at", "attempts", "error")
    list_filter = ("status", "automatic")
    readonly_fields = [f.name for f in TimeBackfill._meta.fields]


@admin.register(RollupState)
class RollupStateAdmin(ReadOnlyAdmin):
    list_display = ("kind", "clockify_id", "notion_page_id", "last_written", "last_written_at",
                    "dirty", "error")
    list_filter = ("kind", "dirty")
    search_fields = ("clockify_id", "notion_page_id")


@admin.register(NotionWebhookSubscription)
class NotionWebhookSubscriptionAdmin(admin.ModelAdmin):
    """Tokens from Notion's (unsigned) handshake: pending until staff activate one with the
    action (a changelist action, not a form inside the change form). The token is shown in
    full on the detail page only, for staff to paste into Notion."""

    list_display = ("masked", "active", "received_at", "last_seen_at", "remote_addr",
                    "activated_by", "activated_at")
    list_filter = ("active",)
    fields = ("verification_token", "active", "received_at", "last_seen_at", "remote_addr",
              "activated_by", "activated_at")
    readonly_fields = fields
    actions = ["activate", "deactivate"]

    @admin.display(description="Verification token")
    def masked(self, obj):
        return obj.masked

    def has_add_permission(self, request):
        return False

    @admin.action(description="Use as signing key (activate)", permissions=["change"])
    def activate(self, request, queryset):
        done = sum(notion.activate(token, request.user) for token in queryset)
        self.message_user(request, f"{done} token(s) activated: paste the token into Notion's "
                                   "Verify dialog.", messages.SUCCESS)

    @admin.action(description="Stop using as signing key (deactivate)", permissions=["change"])
    def deactivate(self, request, queryset):
        done = sum(notion.deactivate(token) for token in queryset)
        self.message_user(request, f"{done} token(s) deactivated.", messages.SUCCESS)


@admin.register(DroppedDeliveries)
class DroppedDeliveriesAdmin(ReadOnlyAdmin):
    """Refused or invalid deliveries deleted beyond WEBHOOK_REFUSED_KEPT, per source."""

    list_display = ("source", "dropped", "last_dropped_at")
