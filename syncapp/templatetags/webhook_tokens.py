"""{% notion_webhook_tokens as tokens %}: the Notion verification tokens, for the Settings page.

A tag rather than view context, so the Settings view stays as it is (one include line).
"""

from __future__ import annotations

from django import template

from syncapp.models import NotionWebhookSubscription

register = template.Library()


@register.simple_tag
def notion_webhook_tokens() -> list[NotionWebhookSubscription]:
    return list(NotionWebhookSubscription.objects.order_by("-active", "-received_at", "-id"))
