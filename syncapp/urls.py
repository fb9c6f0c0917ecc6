"""The dashboard's URLs (included at "" by syncsite/urls.py)."""

from __future__ import annotations

from django.conf import settings
from django.urls import path, re_path

from syncapp.views import (
    export,
    favicon,
    health,
    mapping_editor,
    mappings,
    metrics,
    overview,
    review,
    runs,
    settings_page,
    time_report,
    undo,
)
from syncapp.views.webhook_tokens import activate_notion_token

urlpatterns = [
    path("", overview.overview_page, name="overview"),
    path("sync/", overview.sync_now, name="sync-now"),
    path("sync/audit/", overview.full_audit, name="sync-audit"),
    path("sync/dry-run/", overview.dry_run, name="sync-dry-run"),
    path("sync/release-lock/", overview.release_lock, name="sync-release-lock"),
    path("syncing/start/", overview.start_syncing, name="syncing-start"),
    path("syncing/pause/", overview.pause_syncing, name="syncing-pause"),
    path("runs/", runs.run_list, name="run-list"),
    path("runs/<int:run_id>/", runs.run_detail, name="run-detail"),
    path("runs/<int:run_id>/undo/", undo.undo_plan, name="run-undo"),
    path("runs/<int:run_id>/undo/confirm/", undo.undo_confirm, name="run-undo-confirm"),
    path("runs/<int:run_id>/progress/", overview.run_progress, name="run-progress"),
    re_path(r"^runs/(?P<run_id>[0-9]+)/export\.(?P<fmt>csv|json)$", export.run_export,
            name="run-export"),
    re_path(r"^export/changes\.(?P<fmt>csv|json)$", export.range_export, name="range-export"),
    path("mappings/", mappings.mapping_list, name="mapping-list"),
    path("mappings/edit/<str:kind>/", mapping_editor.edit_mapping, name="mapping-edit"),
    path("time/", time_report.time_report_page, name="time-report"),
    path("time/report.csv", time_report.time_report_csv, name="time-report-csv"),
    path("time/backfill/", time_report.time_backfill_start, name="time-backfill"),
    path("settings/", settings_page.settings_page, name="settings-page"),
    path("settings/check/", settings_page.check_configuration, name="settings-check"),
    path("settings/notion-tokens/<int:token_id>/activate/", activate_notion_token,
         name="notion-token-activate"),
    path("health/", health.health, name="health"),
    path("favicon.ico", favicon.favicon, name="favicon"),
    path("metrics", metrics.metrics, name="metrics"),
    path("review/", review.review_list, name="review-list"),
    path("review/<int:pk>/", review.review_detail, name="review-detail"),
    path("review/<int:pk>/status/", review.review_status, name="review-status"),
    path("review/<int:pk>/decide/", review.review_decide, name="review-decide"),
    path("review/runs/<int:run_id>/decide/", review.review_decide_run,
         name="review-decide-run"),
]

if settings.SANDBOX:  # "open in Notion / Clockify" lead here in the sandbox (views/links.py)
    from syncapp.views import sandbox_records

    urlpatterns += [
        path("sandbox/notion/<str:page_id>/", sandbox_records.notion_record,
             name="sandbox-notion-record"),
        re_path(r"^sandbox/clockify/(?P<kind>client|project|task)/(?P<clockify_id>[^/]+)/$",
                sandbox_records.clockify_record, name="sandbox-clockify-record"),
    ]
