"""Staff only: anonymous users go to login, other users are refused, POSTs need CSRF."""

# ruff: noqa: F811 - pytest fixtures imported from tests.dashboard by name

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from syncapp import urls as dashboard_urls
from tests.dashboard import broker, finished_run, fresh_cache, staff, staff_client  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    return finished_run()


def get_urls(run) -> list[str]:
    return [
        reverse("overview"), reverse("run-list"), reverse("run-detail", args=[run.pk]),
        reverse("run-progress", args=[run.pk]),
        reverse("run-export", kwargs={"run_id": run.pk, "fmt": "csv"}),
        reverse("run-export", kwargs={"run_id": run.pk, "fmt": "json"}),
        reverse("range-export", kwargs={"fmt": "csv"}) + "?start=2026-01-01&end=2026-01-31",
        reverse("range-export", kwargs={"fmt": "json"}) + "?start=2026-01-01&end=2026-01-31",
        reverse("mapping-list"), reverse("settings-page"),
    ]


POST_URLS = ["sync-now", "sync-dry-run", "settings-check"]


def test_every_dashboard_view_is_staff_only():
    """A new URL cannot slip in unprotected: all but /health/ (and the icon) carry the staff
    decorator."""
    open_views = {"health", "favicon", "metrics"}  # metrics: a token or a staff login
    for pattern in dashboard_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name in open_views:
            continue
        assert getattr(pattern.callback, "staff_required", False), pattern.name


def test_anonymous_user_is_redirected_to_login(client, run):
    for url in get_urls(run):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login") + "?next="), url
    for name in POST_URLS:
        response = client.post(reverse(name))
        assert response.status_code == 302 and "/admin/login/" in response["Location"], name


def test_logged_in_non_staff_user_is_refused(client, django_user_model, run, sandbox):
    user = django_user_model.objects.create_user("someone", password="x" * 20)
    client.force_login(user)
    for url in get_urls(run):
        assert client.get(url).status_code == 403, url
    for name in POST_URLS:
        assert client.post(reverse(name)).status_code == 403, name


def test_inactive_staff_user_is_refused(client, staff, run):
    staff.is_active = False
    staff.save()
    client.force_login(staff)
    # Django's ModelBackend refuses inactive users at login; a stale session lands here.
    assert client.get(reverse("overview")).status_code in (302, 403)


def test_staff_sees_every_page(staff_client, run, sandbox):
    for url in get_urls(run):
        response = staff_client.get(url)
        assert response.status_code == 200, url


def test_posts_without_csrf_token_are_refused(staff, broker, sandbox):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    for name in POST_URLS:
        assert browser.post(reverse(name)).status_code == 403, name
    assert broker.queue_size() == 0
    # with the token from the page, the same POST goes through
    browser.get(reverse("overview"))
    token = browser.cookies["csrftoken"].value
    response = browser.post(reverse("settings-check"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 200


def test_state_changing_urls_refuse_get(staff_client):
    for name in POST_URLS:
        assert staff_client.get(reverse(name)).status_code == 405, name


def test_logout_is_a_post_form_in_the_navigation(staff_client, sandbox):
    html = staff_client.get(reverse("overview")).content.decode()
    logout = reverse("admin:logout")
    assert f'<form method="post" action="{logout}">' in html
    for label in ("Overview", "Runs", "Mappings", "Settings", "Admin"):
        assert f">{label}</a>" in html
    assert 'name="viewport"' in html


def test_health_is_public(client):
    assert client.get(reverse("health")).status_code == 200
