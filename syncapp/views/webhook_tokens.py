"""Staff activate a Notion verification token from the Settings page (POST + CSRF)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from syncapp.models import NotionWebhookSubscription
from syncapp.views.access import staff_required
from syncapp.webhooks import notion


@require_POST
@staff_required
def activate_notion_token(request: HttpRequest, token_id: int) -> HttpResponse:
    subscription = get_object_or_404(NotionWebhookSubscription, pk=token_id)
    if notion.activate(subscription, request.user):
        messages.success(request, f"Notion webhook token {subscription.masked} is active: "
                                  "paste it into Notion's Verify dialog.")
    else:
        messages.info(request, f"Notion webhook token {subscription.masked} was already active.")
    return redirect(reverse("settings-page") + "#notion-webhook-tokens")
