"""The time report's kept sums under real concurrency (PostgreSQL; skipped on SQLite): a month
summed while entries are written ends equal to its entries, and nobody deadlocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from syncapp.models import TimeEntry, TimeReportSum
from syncapp.services import time_sums
from tests.test_triggers_postgres import at_once, postgres_only  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
NOVEMBER = date(2026, 11, 1)


def kept_rows() -> list:
    return sorted(TimeReportSum.objects.filter(month=NOVEMBER).values_list(
        "time_zone", "level", "project_id", "task_id", "user_id", "user_name", "seconds",
        "billable_seconds", "entries"))


def test_a_month_summed_while_entries_are_written_equals_its_entries():
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)

    def work(i: int) -> None:
        if i == 0:  # a view summing the month again and again
            for _ in range(15):
                time_sums.forget_all()
                time_sums.ensure([NOVEMBER])
            return
        for n in range(25):  # webhooks: entries created, moved, stopped and deleted
            entry = TimeEntry.objects.create(
                clockify_id=f"w{i}-{n}", project_id=f"p{n % 3}", task_id=f"t{n % 5}",
                user_id=f"u{i}", billable=n % 2 == 0, start=start + timedelta(hours=n),
                end=start + timedelta(hours=n, minutes=20), duration_seconds=1200,
                raw={"user": {"name": f"Worker {i}"}})
            entry.project_id, entry.duration_seconds = "p9", 600 + n
            entry.save()
            if n % 4 == 0:
                entry.deleted = True
                entry.save()
            elif n % 4 == 1:
                entry.delete()

    at_once(3, work)
    time_sums.ensure([NOVEMBER])
    kept = kept_rows()
    assert kept and sum(row[-1] for row in kept if row[1] == "task") == \
        TimeEntry.objects.filter(deleted=False).count() == 2 * 12
    time_sums._build(timezone.get_current_timezone_name(), NOVEMBER)  # summed afresh
    assert kept_rows() == kept
