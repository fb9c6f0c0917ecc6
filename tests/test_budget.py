"""The Clockify request budget (issue 13): a Free workspace allows 30 requests an hour.

Both clocks are injected: the emulator's (its hourly budget) and the product's
(services.budget.clock). Nothing waits for real.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_q.models import Schedule

from syncapp.clients.errors import BudgetExhausted
from syncapp.models import ChangeRecord, EntityMapping, RequestSlot, RunStatus, SyncRun
from syncapp.sandbox import ids
from syncapp.services import budget
from syncapp.services.budget import HourlyBudget
from syncapp.tasks import poll, resume_after_budget
from tests.syncing import assert_mirror, sync

pytestmark = pytest.mark.django_db
C, P, T = ids.CLIENTS_DATA_SOURCE_ID, ids.PROJECTS_DATA_SOURCE_ID, ids.TASKS_DATA_SOURCE_ID
START = datetime(2031, 3, 4, 9, 12, tzinfo=UTC)


class FakeClock:
    """One clock for the product and the emulator, moved by the test."""

    def __init__(self, start: datetime = START) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def timestamp(self) -> float:
        return self.moment.timestamp()

    def advance(self, **delta) -> None:
        self.moment += timedelta(**delta)

    def to(self, moment: datetime) -> None:
        self.moment = max(self.moment, moment)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(budget, "clock", fake)
    return fake


@pytest.fixture
def free_workspace(sandbox, settings, clock):
    """30 requests an hour on both sides: the product's budget and the emulator's."""
    settings.CLOCKIFY_REQUESTS_PER_HOUR = 30
    sandbox.clockify.clock = clock.timestamp
    sandbox.clockify.limit_per_hour(30)
    return sandbox


def seed(box, clients=10, projects=20, tasks=30) -> list[str]:
    client_pages = [box.notion.create_page(C, {"Name": f"Client {i:02}"}) for i in range(clients)]
    project_pages = [box.notion.create_page(P, {"Name": f"Project {i:02}", "Status": "In progress",
                                                "Client": [client_pages[i % clients]]})
                     for i in range(projects)]
    task_pages = [box.notion.create_page(T, {"Name": f"Task {i:02}", "Status": "Not started",
                                             "Project": [project_pages[i % projects]]})
                  for i in range(tasks)]
    return client_pages + project_pages + task_pages


def one_entity_per_page(box) -> None:
    entities = {"client": box.clockify.clients(), "project": box.clockify.projects(),
                "task": box.clockify.tasks()}
    for kind, items in entities.items():
        rows = EntityMapping.objects.filter(kind=kind)
        linked = set(rows.exclude(clockify_id=None).values_list("clockify_id", flat=True))
        assert linked <= {i["id"] for i in items}, kind
        # One per page: the linked ones, plus a create whose answer was lost (read back later)
        assert len(items) == rows.count(), kind


def test_an_initial_sync_of_60_entities_finishes_over_several_windows_without_a_429(
        free_workspace, clock):
    box = free_workspace
    pages = seed(box)
    # One create's answer is lost on the way back: the follow-up reads it back, never re-sends.
    box.clockify.faults.schedule("commit_then_drop", method="POST", path_contains="/projects")
    finished, windows = None, 0
    while finished is None:
        windows += 1
        assert windows < 15, "the initial sync does not converge"
        run = sync()
        assert run.api_calls["clockify"]["total"] <= 30
        assert run.api_calls["clockify"]["rate_limited"] == 0
        if run.status == RunStatus.WAITING:
            assert run.resumes_at > clock()
            assert "Waiting for the Clockify budget, resumes at" in run.error_summary
            assert run.watermark is None  # incomplete: the next run reads everything
            one_entity_per_page(box)  # no duplicates at any safe point
            clock.to(run.resumes_at)
        else:
            finished = run
    assert finished.status == RunStatus.SUCCEEDED, finished.error_summary
    assert windows >= 3
    assert box.clockify.refused_over_budget == 0  # the emulator never answered a 429
    assert EntityMapping.objects.filter(clockify_id__isnull=False).count() == len(pages) == 60
    assert len(box.clockify.projects()) == 20
    assert ChangeRecord.objects.filter(error__contains="may have been applied").count() == 1
    one_entity_per_page(box)
    assert_mirror(box)


def test_a_waiting_run_schedules_one_follow_up_and_the_follow_up_merges(free_workspace, clock):
    seed(free_workspace)
    first = sync()
    assert first.status == RunStatus.WAITING
    schedule = Schedule.objects.get(name=budget.RESUME_SCHEDULE)
    assert (schedule.func, schedule.repeats, schedule.next_run) == (
        budget.RESUME_FUNC, 1, first.resumes_at)
    poll_run = sync(mode="incremental", trigger="poll")  # budget spent: it waits, no failure
    assert poll_run.status == RunStatus.WAITING
    assert poll_run.api_calls["clockify"]["total"] == 0
    assert Schedule.objects.filter(func=budget.RESUME_FUNC).count() == 1
    queued = [resume_after_budget(), resume_after_budget(), poll()]
    assert len(set(queued)) == 1  # one follow-up run, whoever asks
    assert SyncRun.objects.get(pk=queued[0]).mode == "full"


def test_the_poll_makes_no_clockify_call_when_nothing_changed_even_with_the_budget_spent(
        free_workspace, clock):
    box = free_workspace
    box.notion.create_page(C, {"Name": "Only client"})
    assert sync().status == RunStatus.SUCCEEDED
    spender = HourlyBudget(30)
    while True:  # something else (time-entry reconciliation, say) spends the rest
        try:
            spender.claim()
        except BudgetExhausted:
            break
    clock.advance(minutes=1)
    run = sync(mode="incremental", trigger="poll")
    assert run.status == RunStatus.SUCCEEDED
    assert run.api_calls["clockify"]["total"] == 0


def test_the_overview_health_and_command_say_it_waits(free_workspace, clock, admin_client,
                                                       capsys):
    seed(free_workspace)
    with pytest.raises(SystemExit) as exit_:
        call_command("sync")
    assert exit_.value.code == 75  # EX_TEMPFAIL: try again later, nothing failed
    run = SyncRun.objects.get()
    assert run.status == RunStatus.WAITING
    resumes = budget.hhmm(run.resumes_at)
    assert f"resumes at {resumes}" in capsys.readouterr().err
    health = Client().get("/health/")
    assert health.status_code == 200
    assert health.json()["status"] == "waiting"
    assert f"resumes at {resumes}" in health.json()["reason"]
    page = admin_client.get("/").content.decode()
    assert "30 of 30" in page and "Clockify requests this hour" in page
    assert f"resumes at {resumes}" in page
    assert budget.RESUME_SCHEDULE in page  # among the next scheduled runs
    detail = admin_client.get(f"/runs/{run.pk}/").content.decode()
    assert f"resumes at {resumes}" in detail
    shown = admin_client.get("/settings/").content.decode()
    assert "CLOCKIFY_REQUESTS_PER_HOUR" in shown


# -- the compare-and-set claim ----------------------------------------------------------------
def test_the_claim_is_a_compare_and_set_on_the_slot(db, clock):
    budget_ = HourlyBudget(2)
    budget_.claim()
    slot = RequestSlot.objects.get(used_at=clock())
    # Another process took the free slot between our read and our write: our UPDATE finds
    # its used_at changed and moves on; the budget is then spent, not exceeded.
    original = RequestSlot.objects.filter

    def stale_read(*args, **kwargs):
        queryset = original(*args, **kwargs)
        if kwargs.get("pk") is not None and "used_at" in kwargs:
            RequestSlot.objects.exclude(pk=slot.pk).update(used_at=clock())
        return queryset

    RequestSlot.objects.filter = stale_read
    try:
        with pytest.raises(BudgetExhausted) as exhausted:
            budget_.claim()
    finally:
        RequestSlot.objects.filter = original
    assert budget_.used() == 2
    assert exhausted.value.resumes_at == clock() + timedelta(hours=1)
    clock.advance(minutes=59, seconds=59)
    with pytest.raises(BudgetExhausted):
        budget_.claim()
    clock.advance(seconds=1)
    budget_.claim()  # a rolling hour: both requests are an hour old now
    assert budget_.used() == 1


def test_a_lowered_or_raised_limit_uses_its_own_number_of_slots(db, clock):
    HourlyBudget(3).claim()
    assert HourlyBudget(1).used() == 1
    with pytest.raises(BudgetExhausted):
        HourlyBudget(1).claim()
    HourlyBudget(5).claim()
    assert HourlyBudget(5).used() == 2


def test_without_a_setting_there_is_no_budget(settings):
    settings.CLOCKIFY_REQUESTS_PER_HOUR = None
    assert budget.for_clockify() is None
    assert budget.state() is None


def test_the_emulator_enforces_an_hourly_budget_by_its_own_clock(sandbox, clock):
    from syncapp.services import connections

    sandbox.clockify.clock = clock.timestamp
    sandbox.clockify.limit_per_hour(2)
    client = connections.clockify_client(max_retries=0)
    list(client.clients())
    list(client.clients())
    from syncapp.clients.errors import RateLimited

    with pytest.raises(RateLimited) as refused:
        list(client.clients())
    assert refused.value.retry_after is None  # like the CDN: no Retry-After
    assert sandbox.clockify.refused_over_budget == 1
    clock.advance(hours=1)
    list(client.clients())
    sandbox.clockify.limit_per_hour(None)


def test_the_sandbox_control_endpoint_switches_the_budget(served):
    import requests

    box, root = served
    answer = requests.post(f"{root}/_sandbox/clockify/budget", json={"per_hour": 30}, timeout=5)
    assert answer.json() == {"ok": True, "per_hour": 30}
    assert box.clockify.hourly_budget.limit == 30
    assert requests.post(f"{root}/_sandbox/clockify/budget", json={"per_hour": 0},
                         timeout=5).status_code == 400
    requests.post(f"{root}/_sandbox/clockify/budget", json={"per_hour": None}, timeout=5)
    assert box.clockify.hourly_budget is None


def test_time_entry_reconciliation_respects_the_budget(free_workspace, clock):
    from syncapp.tasks_webhooks import reconcile_time_entries

    spender = HourlyBudget(30)
    for _ in range(30):
        spender.claim()
    calls = len(free_workspace.clockify.calls)
    result = reconcile_time_entries()
    assert result["skipped"].startswith("Waiting for the Clockify budget, resumes at")
    assert len(free_workspace.clockify.calls) == calls  # nothing was sent
    with pytest.raises(CommandError) as refused:
        call_command("reconcile_time")
    assert refused.value.returncode == 75
    assert len(free_workspace.clockify.calls) == calls


def test_a_task_moved_to_another_project_is_never_closed_without_its_replacement(
        sandbox, settings, clock):
    client = sandbox.notion.create_page(C, {"Name": "Acme"})
    first, second = (sandbox.notion.create_page(P, {"Name": name, "Client": [client],
                                                    "Status": "In progress"})
                     for name in ("Website", "Shop"))
    task = sandbox.notion.create_page(T, {"Name": "Design", "Project": [first],
                                          "Status": "Not started"})
    assert sync().status == RunStatus.SUCCEEDED
    old_task = EntityMapping.objects.get(notion_page_id=task).clockify_id
    sandbox.notion.update_page(task, {"Project": [second]})
    settings.CLOCKIFY_REQUESTS_PER_HOUR = 10
    settings.CLOCKIFY_CHANGE_FEED = False  # a complete read: its calls are counted below
    spender = HourlyBudget(10)
    for _ in range(5):  # leaves 5: the 4 list reads and one request of the two a move needs
        spender.claim()
    waiting = sync()
    assert waiting.status == RunStatus.WAITING
    assert waiting.api_calls["clockify"]["total"] == 4
    assert sandbox.clockify.task(old_task)["status"] == "ACTIVE"  # not closed half-way
    clock.to(waiting.resumes_at)
    moved = sync()
    assert moved.status == RunStatus.SUCCEEDED, moved.error_summary
    assert sandbox.clockify.task(old_task)["status"] == "DONE"
    new_task = EntityMapping.objects.get(notion_page_id=task).clockify_id
    assert sandbox.clockify.task(new_task)["projectId"] == cid_of(second)
    assert sandbox.notion.values(task)["Status"] == "Not started"


def cid_of(page: str) -> str:
    return EntityMapping.objects.get(notion_page_id=page).clockify_id


def test_an_approved_decision_waits_for_the_budget_and_stays_approved(
        sandbox, settings, clock, django_user_model):
    from syncapp.models import PendingChange, ReviewStatus
    from syncapp.services import review
    from syncapp.services.review_apply import apply_pending

    page = sandbox.notion.create_page(C, {"Name": "Acme"})
    sync()
    sandbox.notion.update_page(page, {"Name": "Acme (Notion)"})
    sandbox.clockify.update_client(cid_of(page), name="Acme (Clockify)")
    sync()
    pending = PendingChange.objects.get(status=ReviewStatus.PENDING)
    review.decide(pending.pk, django_user_model.objects.create_user("boss"), "approve")
    settings.CLOCKIFY_REQUESTS_PER_HOUR = 5
    spender = HourlyBudget(5)
    for _ in range(5):
        spender.claim()
    answer = apply_pending(pending.pk)
    assert "Waiting for the Clockify budget, resumes at" in answer
    pending.refresh_from_db()
    assert (pending.status, pending.apply_started_at) == (ReviewStatus.APPROVED, None)
    run = SyncRun.objects.get(trigger="review")
    assert run.status == RunStatus.WAITING
    retry = Schedule.objects.get(func="syncapp.tasks.apply_pending")
    assert retry.next_run == run.resumes_at
    clock.to(run.resumes_at)
    assert apply_pending(pending.pk).endswith(": applied")
    assert sandbox.clockify.client(cid_of(page))["name"] == "Acme (Notion)"


def test_the_connection_check_spends_no_budget_by_itself_and_says_when_it_is_spent(
        free_workspace, clock):
    from syncapp.services import config_check

    calls = len(free_workspace.clockify.calls)
    quick = config_check.quick_check()
    assert len(free_workspace.clockify.calls) == calls  # the overview's check: no request
    assert any("hourly request budget" in f.message for f in quick.findings)
    spender = HourlyBudget(30)
    for _ in range(30):
        spender.claim()
    full = config_check.full_check()
    assert len(free_workspace.clockify.calls) == calls
    assert any(f.message.startswith("Not checked: Waiting for the Clockify budget")
               for f in full.findings)


def test_a_webhook_read_back_waits_quietly_when_the_budget_is_spent(free_workspace, clock):
    from syncapp.services import timeentries

    spender = HourlyBudget(30)
    for _ in range(30):
        spender.claim()
    calls = len(free_workspace.clockify.calls)
    assert timeentries.read_back("65d82c07c2629f6fbe000001") == \
        "waiting for the Clockify budget"
    assert len(free_workspace.clockify.calls) == calls
