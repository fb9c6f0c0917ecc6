"""Admin pages: mappings and configuration are editable; runs and the audit trail are not."""

from __future__ import annotations

from django.contrib import admin, messages

from syncapp.admin.large import LargeTableAdmin
from syncapp.models import ChangeRecord, DatabaseMapping, EntityMapping, SyncRun
from syncapp.services import config_check


class ReadOnlyAdmin(LargeTableAdmin):
    """Runs, the audit trail and webhook data: the big tables, read only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DatabaseMapping)
class DatabaseMappingAdmin(admin.ModelAdmin):
    list_display = ("kind", "properties", "closed_values")
    readonly_fields = ("data_source_ids", "data_source_for")
    actions = ("check_configuration",)

    @admin.action(description="Check configuration against the live Notion schemas")
    def check_configuration(self, request, queryset):
        result = config_check.full_check()
        config_check.remember(result)
        for finding in result.findings:
            level = {"error": messages.ERROR, "warning": messages.WARNING}.get(
                finding.level, messages.INFO)
            text = f"{finding.area}: {finding.message}"
            self.message_user(request, text + (f" Fix: {finding.fix}" if finding.fix else ""),
                              level)
        if result.ok:
            self.message_user(request, "The configuration matches Notion and Clockify.",
                              messages.SUCCESS)


@admin.register(EntityMapping)
class EntityMappingAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "state", "notion_page_id", "clockify_id", "parent",
                    "last_synced_at")
    list_filter = ("kind", "state")
    search_fields = ("name", "notion_page_id", "clockify_id")
    list_select_related = ("parent",)
    raw_id_fields = ("parent",)
    readonly_fields = ("created_at", "updated_at", "last_synced_at", "notion_last_edited")


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "started_at", "trigger", "mode", "dry_run", "status", "finished_at",
                    "triggered_by")
    list_filter = ("status", "trigger", "mode", "dry_run",
                   ("started_at", admin.DateFieldListFilter))
    exact_search = {"id": "number", "triggered_by": "id"}
    search_help_text = "A run number, or who triggered it exactly as shown."


@admin.register(ChangeRecord)
class ChangeRecordAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "run", "kind", "action", "outcome", "name", "reason")
    list_filter = ("outcome", "kind", "action", ("created_at", admin.DateFieldListFilter))
    exact_search = {"notion_page_id": "notion", "clockify_id": "id", "run_id": "number"}
    search_help_text = ("A Notion page ID (with or without dashes), a Clockify ID or a run "
                        "number. To search by name, open the run on the dashboard.")
    list_select_related = ("run",)
