"""Mounted at /hooks/ (syncsite/urls.py)."""

from django.urls import path

from syncapp.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("clockify/", views.clockify, name="clockify"),
    path("notion/trigger/", views.notion_trigger, name="notion-trigger"),
    path("notion/events/", views.notion_events, name="notion-events"),
]
