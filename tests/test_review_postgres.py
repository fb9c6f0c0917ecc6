"""Review decisions under real concurrency (PostgreSQL; skipped on SQLite)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from syncapp.models import Decision, EntityMapping, PendingChange, ReviewStatus
from syncapp.sandbox import ids
from syncapp.services import review
from syncapp.services.review_apply import apply_pending
from tests.syncing import clockify_entity, reset_calls, sync
from tests.test_triggers_postgres import at_once, postgres_only  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_admins_and_two_workers_apply_a_decision_once(sandbox):
    page = sandbox.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Acme"})
    sync()
    clockify_id = EntityMapping.objects.get(notion_page_id=page).clockify_id
    sandbox.notion.update_page(page, {"Name": "Acme (Notion)"})
    sandbox.clockify.update_client(clockify_id, name="Acme (Clockify)")
    sync()
    pending = PendingChange.objects.get(status=ReviewStatus.PENDING)
    users = [get_user_model().objects.create_user(f"admin{i}", is_staff=True) for i in range(2)]
    decided = at_once(2, lambda i: review.decide(pending.pk, users[i], Decision.APPROVE))
    assert decided.count(True) == 1
    reset_calls(sandbox)
    results = at_once(4, lambda i: apply_pending(pending.pk))
    assert sum(r.endswith(": applied") for r in results) == 1, results
    assert sandbox.clockify.call_count("PUT") == 1
    assert clockify_entity(sandbox, "client", clockify_id)["name"] == "Acme (Notion)"
    assert PendingChange.objects.get(pk=pending.pk).status == ReviewStatus.APPLIED
