"""The Clockify request budget under real concurrency (PostgreSQL; skipped on SQLite).

Several workers (threads, each with its own connection: separate processes as far as the
database can tell) spend one budget at once: together they never take more than it allows.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncapp.clients.errors import BudgetExhausted
from syncapp.models import RequestSlot
from syncapp.services import budget
from syncapp.services.budget import HourlyBudget
from tests.test_triggers_postgres import at_once, postgres_only  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
MOMENT = datetime(2031, 3, 4, 9, 12, tzinfo=UTC)


def spend_until_refused(_: int) -> int:
    mine = HourlyBudget(30, clock=lambda: MOMENT)
    taken = 0
    while True:
        try:
            mine.claim()
        except BudgetExhausted:
            return taken
        taken += 1


def test_eight_workers_together_take_exactly_the_budget(monkeypatch):
    monkeypatch.setattr(budget, "clock", lambda: MOMENT)
    taken = at_once(8, spend_until_refused)
    assert sum(taken) == 30, taken
    assert RequestSlot.objects.filter(used_at=MOMENT).count() == 30
    assert HourlyBudget(30).used() == 30


def test_two_workers_racing_for_the_last_slot_take_it_once(monkeypatch):
    monkeypatch.setattr(budget, "clock", lambda: MOMENT)
    first = HourlyBudget(30, clock=lambda: MOMENT)
    for _ in range(29):
        first.claim()

    def last(_: int) -> bool:
        try:
            HourlyBudget(30, clock=lambda: MOMENT).claim()
        except BudgetExhausted:
            return False
        return True

    assert at_once(2, last).count(True) == 1
