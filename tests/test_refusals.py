"""No call without a reason (issue 13): a write Clockify refused is not sent again until
something it depends on changed, and it stays a pending validation item meanwhile."""

from __future__ import annotations

import pytest

from syncapp.models import ChangeRecord, EntityMapping, Outcome, PendingChange, ReviewStatus
from syncapp.sandbox import ids
from tests.syncing import as_if_an_hour_ago, cid, reset_calls, sync, writes

pytestmark = pytest.mark.django_db
C = ids.CLIENTS_DATA_SOURCE_ID


def clockify_posts(box, path: str = "/clients") -> int:
    return sum(1 for method, p in box.clockify.calls if method == "POST" and p.endswith(path))


def validation_items(page: str):
    return PendingChange.objects.filter(notion_page_id=page, reason="validation")


def test_a_refused_create_is_not_sent_again_until_its_page_changes(sandbox):
    good = sandbox.notion.create_page(C, {"Name": "Acme"})
    bad = sandbox.notion.create_page(C, {"Name": "Globex", "Email": "billing at globex"})
    first = sync()
    assert clockify_posts(sandbox) == 2  # both sent; Clockify refused one (400)
    assert [c["name"] for c in sandbox.clockify.clients()] == ["Acme"]
    refused = ChangeRecord.objects.get(run=first, notion_page_id=bad)
    assert refused.outcome == Outcome.FAILED
    assert "Clockify refused it" in refused.error and "email" in refused.error
    item = validation_items(bad).get()
    assert item.status == ReviewStatus.PENDING

    reset_calls(sandbox)
    second = sync()
    assert writes(sandbox)["clockify"] == 0  # not sent again: nothing changed
    assert second.counts["client"]["flagged"] == 1
    again = ChangeRecord.objects.get(run=second, notion_page_id=bad)
    assert again.outcome == Outcome.FLAGGED and "not sent again" in again.error
    assert validation_items(bad).get().status == ReviewStatus.PENDING  # still visible

    reset_calls(sandbox)
    sandbox.notion.update_page(bad, {"Email": "billing@globex.example"})
    third = sync()
    assert clockify_posts(sandbox) == 1
    assert third.counts["client"]["created"] == 1
    assert sandbox.clockify.client(cid(bad))["email"] == "billing@globex.example"
    assert validation_items(bad).get().status == ReviewStatus.RESOLVED
    assert cid(good)


def test_a_refused_rename_is_sent_again_once_the_clockify_record_it_collided_with_changes(
        sandbox):
    initech = sandbox.clockify.create_client("Initech")["id"]  # only in Clockify
    other = sandbox.notion.create_page(C, {"Name": "Globex"})
    sync()
    as_if_an_hour_ago(sandbox)  # the change feed's window no longer holds the set-up
    sandbox.notion.update_page(other, {"Name": "INITECH"})  # a clash Clockify refuses
    sync()
    assert sandbox.clockify.client(cid(other))["name"] == "Globex"
    assert validation_items(other).get().status == ReviewStatus.PENDING
    reset_calls(sandbox)
    sync()
    assert writes(sandbox)["clockify"] == 0  # neither side changed: not sent
    sandbox.clockify.update_client(initech, name="Initech Ltd")  # the clash is gone
    reset_calls(sandbox)
    sync()
    assert writes(sandbox)["clockify"] == 1
    assert sandbox.clockify.client(cid(other))["name"] == "INITECH"
    assert validation_items(other).get().status == ReviewStatus.RESOLVED
    assert EntityMapping.objects.count() == 1


def test_a_retry_in_the_review_queue_always_sends(sandbox, django_user_model):
    from syncapp.services import review
    from syncapp.services.review_apply import apply_pending

    bad = sandbox.notion.create_page(C, {"Name": "Globex", "Email": "billing at globex"})
    sync()
    item = validation_items(bad).get()
    review.decide(item.pk, django_user_model.objects.create_user("boss"), "approve")
    reset_calls(sandbox)
    assert apply_pending(item.pk).endswith(": failed")  # Clockify still refuses it...
    assert clockify_posts(sandbox) == 1  # ...but a person asked, so it was sent
