"""The dashboard's URLs (included at "" by syncsite/urls.py)."""

from __future__ import annotations

from django.urls import path, re_path

from syncapp.views import export, health, mappings, overview, review, runs, settings_page

urlpatterns = [
    path("", overview.overview_page, name="overview"),
    path("sync/", overview.sync_now, name="sync-now"),
    path("sync/dry-run/", overview.dry_run, name="sync-dry-run"),
    path("runs/", runs.run_list, name="run-list"),
    path("runs/<int:run_id>/", runs.run_detail, name="run-detail"),
    path("runs/<int:run_id>/progress/", overview.run_progress, name="run-progress"),
    re_path(r"^runs/(?P<run_id>[0-9]+)/export\.(?P<fmt>csv|json)$", export.run_export,
            name="run-export"),
    re_path(r"^export/changes\.(?P<fmt>csv|json)$", export.range_export, name="range-export"),
    path("mappings/", mappings.mapping_list, name="mapping-list"),
    path("settings/", settings_page.settings_page, name="settings-page"),
    path("settings/check/", settings_page.check_configuration, name="settings-check"),
    path("health/", health.health, name="health"),
    path("review/", review.review_list, name="review-list"),
    path("review/<int:pk>/", review.review_detail, name="review-detail"),
    path("review/<int:pk>/status/", review.review_status, name="review-status"),
    path("review/<int:pk>/decide/", review.review_decide, name="review-decide"),
    path("review/runs/<int:run_id>/decide/", review.review_decide_run,
         name="review-decide-run"),
]
