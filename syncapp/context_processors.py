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
        return pending_count() if user is not None and user.is_staff else 0

    return {"pending_reviews": count}  # templates call it; cached for this request
