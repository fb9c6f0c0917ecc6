"""Template context shared by the dashboard and the admin."""

from __future__ import annotations

from functools import cache

from django.http import HttpRequest


def review(request: HttpRequest) -> dict:
    """The pending review count, queried only where a template shows it, for staff only."""
    @cache
    def count() -> int:
        from syncapp.services.review import pending_count

        user = getattr(request, "user", None)
        if user is None or not user.is_staff:
            return 0
        known = getattr(request, "pending_review_count", None)  # a view counted already
        return pending_count() if known is None else known

    return {"pending_reviews": count}  # templates call it; cached for this request
