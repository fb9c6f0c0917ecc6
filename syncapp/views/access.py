"""Who may use the dashboard: staff only.

Anonymous visitors are sent to the login page; a logged-in user who is not staff (or is
inactive) is refused with 403, not bounced to a login they already passed.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


def staff_required(view):
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The dashboard is for staff members.")
        return view(request, *args, **kwargs)

    wrapped.staff_required = True  # tests find every protected view by this mark
    return wrapped

