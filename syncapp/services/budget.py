"""The hourly request budget of the Clockify workspace, shared by every process.

New Free workspaces allow 30 requests an hour for the whole workspace, and the 429 that
follows comes from the CDN without Retry-After (../shared/reference/clockify-api-notes.md,
rate limits). So the client never sends a request the budget does not allow: it claims
one of CLOCKIFY_REQUESTS_PER_HOUR slot rows first. A slot is free when its last use is an
hour old or more, and it is taken by compare-and-set on its `used_at` (one conditional
UPDATE): of two processes (django-q2 workers, web, webhook reconciliation) only one gets
the last slot, on SQLite and PostgreSQL alike. At most N requests in any rolling hour is
also at most N in any clock hour, whichever way Clockify counts.

The clock is `clock` (a module attribute tests replace), never read anywhere else here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Max, Q
from django.utils import timezone

from syncapp.clients.errors import BudgetExhausted
from syncapp.models import RequestSlot

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=1)
CLOCKIFY = "clockify"
RESUME_SCHEDULE = "Resume after the Clockify budget"
RESUME_FUNC = "syncapp.tasks.resume_after_budget"


def _now() -> datetime:
    return timezone.now()


clock: Callable[[], datetime] = _now


def now() -> datetime:
    return clock()


def hourly_limit() -> int | None:
    """CLOCKIFY_REQUESTS_PER_HOUR, or None when the workspace has no hourly budget."""
    return settings.CLOCKIFY_REQUESTS_PER_HOUR


class HourlyBudget:
    """At most `limit` requests to `service` in any hour, across processes."""

    def __init__(self, limit: int, *, service: str = CLOCKIFY,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.limit = limit
        self.service = service
        self._clock = clock
        self._slots_ready = False

    def __repr__(self) -> str:
        return f"<HourlyBudget {self.service} {self.limit}/h>"

    def now(self) -> datetime:
        return self._clock() if self._clock else now()

    def slots(self):
        return RequestSlot.objects.filter(service=self.service, slot__lt=self.limit)

    def _ensure_slots(self) -> None:
        """One row per slot; a raised limit adds rows, a lowered one ignores the rest."""
        if self._slots_ready:
            return
        if self.slots().count() < self.limit:
            RequestSlot.objects.bulk_create(
                [RequestSlot(service=self.service, slot=i) for i in range(self.limit)],
                ignore_conflicts=True)
        self._slots_ready = True

    def claim(self) -> None:
        """Take one request, or raise BudgetExhausted (then nothing may be sent)."""
        self._ensure_slots()
        # Each lost race means another process took a slot: at most `limit` of them.
        for _ in range(self.limit + 1):
            moment = self.now()
            free = (self.slots().filter(Q(used_at__isnull=True)
                                        | Q(used_at__lte=moment - WINDOW))
                    .order_by(F("used_at").asc(nulls_first=True), "slot")
                    .values_list("pk", "used_at").first())
            if free is None:
                break
            pk, used_at = free
            if RequestSlot.objects.filter(pk=pk, used_at=used_at).update(used_at=moment):
                return
        moment = self.now()
        raise BudgetExhausted(self.service, self.limit, self.full_again_at(moment))

    def used(self, moment: datetime | None = None) -> int:
        """Requests sent in the hour up to `moment` (now)."""
        moment = moment or self.now()
        return self.slots().filter(used_at__gt=moment - WINDOW).count()

    def full_again_at(self, moment: datetime | None = None) -> datetime:
        """When the whole budget is free again: an hour after its latest request.

        A follow-up resumes then rather than at the first free slot, so it has room to
        read what it needs and still write something.
        """
        moment = moment or self.now()
        latest = self.slots().aggregate(latest=Max("used_at"))["latest"]
        return max(moment, latest + WINDOW) if latest else moment


def for_clockify() -> HourlyBudget | None:
    """The budget every Clockify client built from settings shares (None: no budget)."""
    limit = hourly_limit()
    return HourlyBudget(limit) if limit else None


@dataclass(frozen=True)
class BudgetState:
    """What the overview shows: requests used in the last hour, of how many."""

    limit: int
    used: int
    full_again_at: datetime | None

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit


def state() -> BudgetState | None:
    budget = for_clockify()
    if budget is None:
        return None
    moment = budget.now()
    used = min(budget.used(moment), budget.limit)
    return BudgetState(budget.limit, used, budget.full_again_at(moment) if used else None)


def hhmm(moment: datetime) -> str:
    """The time of day people read, in TIME_ZONE."""
    return timezone.localtime(moment).strftime("%H:%M")


def waiting_message(resumes_at: datetime) -> str:
    return f"Waiting for the Clockify budget, resumes at {hhmm(resumes_at)}"


def schedule_resume(at: datetime) -> None:
    """One django-q2 schedule, by name, runs a sync when the budget is back.

    Idempotent: every waiting run moves the same schedule (to the latest time it was
    given), so two waiting runs never make two follow-ups; the follow-up itself goes
    through request_sync, which merges into a run already queued.
    """
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=RESUME_SCHEDULE,
        defaults={"func": RESUME_FUNC, "schedule_type": Schedule.ONCE, "repeats": 1,
                  "next_run": at})
    log.info("The Clockify budget is spent; a follow-up sync is scheduled for %s.",
             at.isoformat(timespec="minutes"))
