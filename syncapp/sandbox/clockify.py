"""A stateful in-memory emulator of the Clockify REST API v1 subset the product uses.

Mounted at `<root>/clockify/api` it receives paths starting with `/v1/...`.
Behaviour follows ../shared/reference/clockify-api-notes.md (live probes) and
the observed error bodies in clockify-samples; shapes are in `clockify_dto`.
The traps a real workspace sets are all here on purpose:

- errors are `{"message", "code"}`; a missing entity is 400/501 "... doesn't
  belong to ...", never 404; 404/3000 means an unknown path;
- lists are bare arrays with a `Last-Page` header, 50 per page by default,
  and include archived rows unless `archived` is given;
- archived entities keep their names (duplicates refused), clients and projects
  must be archived and tasks DONE before DELETE;
- PUT replaces: omitted client email/address/note become null; omitted project
  `isPublic`/`billable` reset to false (color, note, archived, client and rates
  are kept); omitted task fields reset, except `status` which is kept;
- task `billable:false` is ignored on create;
- a project's estimate is set only by PATCH …/estimate (`ProjectEstimateRequest`), where an
  omitted `active` is false (stored, not in effect); the DTO names the estimate in effect
  (`activeEstimate`) and gives `timeEstimate.estimate` in milliseconds, a JSON number as in
  the recorded sample (the request takes an ISO 8601 duration);
- a 429 comes from the CDN: empty body, no Retry-After;
- a new Free workspace's 30 requests an hour, when asked (`limit_per_hour(30)`, or POST
  `/_sandbox/clockify/budget` `{"per_hour": 30}` on the served sandbox): counted over any
  hour of the emulator's own clock (`clock`, which a test may replace), then that 429.

Where the sources say nothing the emulator picks one answer and documents it
at the place it does so (e.g. names compare case-insensitively).
"""

from __future__ import annotations

import copy
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from syncapp.sandbox import ids
from syncapp.sandbox.base import Emulator, SandboxRequest, SandboxResponse
from syncapp.sandbox.clockify_dto import (
    CURRENCY_ID,
    ESTIMATE_TYPES,
    RESET_OPTIONS,
    Body,
    as_value_error,
    bool_arg,
    camel,
    check_color,
    check_email,
    check_length,
    client_dto,
    duration_field,
    entry_dto,
    entry_type,
    enum_field,
    fail,
    format_instant,
    hydrate_entry,
    instant_arg,
    instant_field,
    int_arg,
    membership,
    name_key,
    parse_duration,
    parse_instant,
    project_dto,
    rate,
    rate_amount,
    required_name,
    task_dto,
    task_status,
    time_estimate,
    user_dto,
    workspace_dto,
)
from syncapp.sandbox.clockify_feed import FEED_ROUTE, ChangeFeed

MAX_PAGE_SIZE = 5000
MAX_IN_PROGRESS_PAGE_SIZE = 1000
DEFAULT_COLOR = "#03A9F4"

_WS = r"^/v1/workspaces/(?P<ws>[^/]+)"
_WS_PATH = re.compile(r"^/v1/workspaces/([^/]+)(?:/|$)")


class ClockifyEmulator(ChangeFeed, Emulator):
    name = "clockify"
    time_zone = "UTC"  # the sandbox user's profile time zone (hydrated entries, filters)
    workspace_name = "Sandbox Workspace"
    routes = [
        ("GET", r"^/v1/user$", "_get_me"),
        ("GET", r"^/v1/workspaces$", "_get_workspaces"),
        ("GET", _WS + r"$", "_get_workspace"),
        ("GET", _WS + r"/users$", "_get_users"),
        ("GET", _WS + r"/clients$", "_get_clients"),
        ("POST", _WS + r"/clients$", "_post_client"),
        ("GET", _WS + r"/clients/(?P<cid>[^/]+)$", "_get_client"),
        ("PUT", _WS + r"/clients/(?P<cid>[^/]+)$", "_put_client"),
        ("DELETE", _WS + r"/clients/(?P<cid>[^/]+)$", "_delete_client"),
        ("GET", _WS + r"/projects$", "_get_projects"),
        ("POST", _WS + r"/projects$", "_post_project"),
        ("GET", _WS + r"/projects/(?P<pid>[^/]+)$", "_get_project"),
        ("PUT", _WS + r"/projects/(?P<pid>[^/]+)$", "_put_project"),
        ("DELETE", _WS + r"/projects/(?P<pid>[^/]+)$", "_delete_project"),
        ("PATCH", _WS + r"/projects/(?P<pid>[^/]+)/estimate$", "_patch_project_estimate"),
        ("GET", _WS + r"/projects/(?P<pid>[^/]+)/tasks$", "_get_tasks"),
        ("POST", _WS + r"/projects/(?P<pid>[^/]+)/tasks$", "_post_task"),
        ("GET", _WS + r"/projects/(?P<pid>[^/]+)/tasks/(?P<tid>[^/]+)$", "_get_task"),
        ("PUT", _WS + r"/projects/(?P<pid>[^/]+)/tasks/(?P<tid>[^/]+)$", "_put_task"),
        ("DELETE", _WS + r"/projects/(?P<pid>[^/]+)/tasks/(?P<tid>[^/]+)$", "_delete_task"),
        ("GET", _WS + r"/user/(?P<uid>[^/]+)/time-entries$", "_get_user_entries"),
        ("GET", _WS + r"/time-entries/status/in-progress$", "_get_in_progress"),
        ("POST", _WS + r"/time-entries$", "_post_entry"),  # GET here: 405, as live
        ("GET", _WS + r"/time-entries/(?P<eid>[^/]+)$", "_get_entry"),
        ("PUT", _WS + r"/time-entries/(?P<eid>[^/]+)$", "_put_entry"),
        ("DELETE", _WS + r"/time-entries/(?P<eid>[^/]+)$", "_delete_entry"),
        FEED_ROUTE,
    ]

    def __init__(self, *, api_key: str = ids.CLOCKIFY_API_KEY,
                 workspace_id: str = ids.CLOCKIFY_WORKSPACE_ID,
                 user_id: str = ids.CLOCKIFY_USER_ID, seed: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(seed=seed, clock=clock)
        self.api_key = api_key
        self.workspace_id = workspace_id
        self.user = {"id": user_id, "name": "Sandbox User", "email": "sandbox@example.com"}
        self.addon_tokens: set[str] = set()  # X-Addon-Token values that authenticate
        # ObjectId-like: 4 bytes "time", 5 bytes "process", 3 bytes counter; by the seed.
        rng = random.Random(seed)
        self._id_prefix = f"{0x65000000 + rng.getrandbits(24):08x}{rng.getrandbits(40):010x}"
        self._reset()

    @property
    def user_id(self) -> str:
        return self.user["id"]

    def _reset(self) -> None:
        self._counter = 0
        self._clients: dict[str, dict] = {}
        self._projects: dict[str, dict] = {}
        self._tasks: dict[str, dict] = {}
        # Project id -> its tasks by id: listing one project's tasks must not scan them all.
        self._project_tasks: dict[str, dict[str, dict]] = {}
        self._entries: dict[str, dict] = {}
        self._reset_feed()

    def _new_id(self) -> str:
        self._counter += 1
        return f"{self._id_prefix}{self._counter:06x}"

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC).replace(microsecond=0)

    # -- the request cycle hooks --------------------------------------------------------
    def authenticate(self, request: SandboxRequest) -> SandboxResponse | None:
        key, token = request.headers.get("X-Api-Key"), request.headers.get("X-Addon-Token")
        if (key is None) == (token is None) or "Authorization" in request.headers:
            return self.error(401, "Multiple or none auth tokens present", 1000)
        if token is not None:
            return None if token in self.addon_tokens else self.error(401, "Token is not valid",
                                                                       4017)
        if key != self.api_key:
            return self.error(401, "Api key does not exist", 4003)
        return None

    def error(self, status: int, message: str, code: Any = None) -> SandboxResponse:
        if code is None:
            code = {404: 3000, 405: 3000}.get(status, status if status >= 500 else 501)
        return SandboxResponse(status, {"message": message, "code": code})

    def rate_limited(self, retry_after: float) -> SandboxResponse:
        return SandboxResponse(429)  # CloudFront: empty body, no Retry-After

    def invalid_json(self) -> SandboxResponse:
        return self.error(400, "JSON parse error: Unexpected character: was expecting a JSON value",
                          3002)

    def unknown_route(self, request: SandboxRequest) -> SandboxResponse:
        return self.error(404, f"No static resource {request.path.lstrip('/')}.", 3000)

    def dispatch(self, request: SandboxRequest) -> SandboxResponse:
        match = _WS_PATH.match(request.path)
        if match and match.group(1) != self.workspace_id:
            return self.error(403, "Access Denied", 501)
        return super().dispatch(request)

    # -- lookups (missing: 400/501, never 404) ------------------------------------------
    def _client_raw(self, client_id: str) -> dict:
        return self._clients.get(client_id) or fail("Client doesn't belong to Workspace")

    def _project_raw(self, project_id: str) -> dict:
        return self._projects.get(project_id) or fail("Project doesn't belong to Workspace")

    def _task_raw(self, project_id: str, task_id: str) -> dict:
        self._project_raw(project_id)
        task = self._tasks.get(task_id)
        if task is None or task["projectId"] != project_id:
            fail("Task doesn't belong to Project")
        return task

    def _entry_raw(self, entry_id: str) -> dict:
        return self._entries.get(entry_id) or fail("Time entry doesn't belong to Workspace")

    # -- rendering --------------------------------------------------------------------------
    def _tracked(self) -> tuple[Counter, Counter]:
        """Seconds of finished time per project and per task."""
        by_project, by_task = Counter(), Counter()
        for entry in self._entries.values():
            interval = entry["timeInterval"]
            if interval["end"]:
                seconds = (parse_instant(interval["end"]) - parse_instant(interval["start"]))
                by_project[entry["projectId"]] += int(seconds.total_seconds())
                by_task[entry["taskId"]] += int(seconds.total_seconds())
        return by_project, by_task

    def _task_estimates(self, project_id: str | None = None) -> Counter:
        """Seconds of the tasks' estimates per project: a task-based (AUTO) project estimate."""
        estimated = Counter()
        tasks = self._tasks.values() if project_id is None else self._tasks_of(project_id)
        for task in tasks:
            if task["estimate"] != "PT0S":
                estimated[task["projectId"]] += parse_duration(task["estimate"])
        return estimated

    def _client_out(self, raw: dict, tracked=None) -> dict:
        return client_dto(raw)

    def _project_out(self, raw: dict, tracked=None, estimates: Counter | None = None) -> dict:
        tracked = tracked or self._tracked()
        estimates = self._task_estimates(raw["id"]) if estimates is None else estimates
        client = self._clients.get(raw["clientId"] or "")
        return project_dto(raw, client_name=client["name"] if client else "",
                           tracked_seconds=tracked[0][raw["id"]],
                           task_estimate_seconds=estimates[raw["id"]])

    def _task_out(self, raw: dict, tracked=None) -> dict:
        tracked = tracked or self._tracked()
        return task_dto(raw, tracked_seconds=tracked[1][raw["id"]])

    def _entry_out(self, raw: dict, tracked=None, *, hydrated: bool = False,
                   estimates: Counter | None = None) -> dict:
        project = self._projects.get(raw["projectId"] or "")
        dto = entry_dto(raw, hourly_rate=project["hourlyRate"] if project else None)
        if not hydrated:
            return dto
        tracked = tracked or self._tracked()
        task = self._tasks.get(raw["taskId"] or "")
        return hydrate_entry(dto, project=project and self._project_out(project, tracked,
                                                                        estimates),
                             task=task and self._task_out(task, tracked), user=self.user,
                             time_zone=self.time_zone)

    # -- lists ----------------------------------------------------------------------------
    @staticmethod
    def _by_name(request: SandboxRequest, items: list[dict], strict: bool) -> list[dict]:
        name = request.arg("name")
        if not name:
            return items
        if strict and bool_arg(request, "strict-name-search"):
            return [item for item in items if name_key(item["name"]) == name_key(name)]
        return [item for item in items if name.casefold() in item["name"].casefold()]

    @staticmethod
    def _sorted(request: SandboxRequest, items: list[dict],
                columns: dict[str, Callable[[dict], Any]]) -> list[dict]:
        """Stable order (ties broken by id) so pages never overlap or skip."""
        key = columns.get((request.arg("sort-column") or "NAME").upper(), columns["NAME"])
        descending = (request.arg("sort-order") or "").upper() == "DESCENDING"
        return sorted(items, key=lambda item: (key(item), item["id"]), reverse=descending)

    def _page(self, request: SandboxRequest, items: list[dict], render: Callable, *,
              default_size: int = 50, max_size: int = MAX_PAGE_SIZE) -> SandboxResponse:
        page = max(int_arg(request, "page", 1), 1)  # 0 / negative: silently page 1
        size = int_arg(request, "page-size", default_size)
        if size > max_size:
            fail(f"Page size cannot be larger than {max_size:,}.")
        if size < 1:
            fail("Page size must be greater than 0.")
        start = (page - 1) * size
        last = start + size >= len(items)
        tracked = self._tracked()
        body = [render(item, tracked) for item in items[start:start + size]]
        return SandboxResponse(200, body, {"Last-Page": "true" if last else "false"})

    # -- clients ------------------------------------------------------------------------
    def _client_values(self, body: Body, *, full: bool) -> dict:
        """Fields a create (full=False) or a replacing PUT (full=True) sets."""
        name = required_name(body, "Client name is required")
        check_length(name, "Client name", 1, 100)
        values = {"name": name, "email": body.string("email"),
                  "address": body.string("address"), "note": body.string("note")}
        check_email(values["email"])
        for key in ("address", "note"):
            if values[key]:
                check_length(values[key], f"Client {key}", 0, 3000)
        if full:  # ccEmails, currencyId and archived are ignored on create (live)
            cc_emails = body.strings("ccEmails") or []
            if len(cc_emails) > 3:
                fail("Number of additional emails must be less than 3")
            for email in cc_emails:
                check_email(email)
            values.update(ccEmails=cc_emails, archived=bool(body.boolean("archived")))
            if body.string("currencyId"):  # omitted: kept
                values["currencyId"] = body.string("currencyId")
        return values

    def _check_client_name(self, name: str, exclude: str | None = None) -> None:
        for other in self._clients.values():
            if other["id"] != exclude and name_key(other["name"]) == name_key(name):
                fail(f"Client with name '{name}' already exists")

    def _insert_client(self, body: Body, *, full: bool = False) -> dict:
        values = self._client_values(body, full=full)
        self._check_client_name(values["name"])
        raw = {"id": self._new_id(), "name": "", "email": None, "address": None, "note": None,
               "archived": False, "workspaceId": self.workspace_id, "currencyId": CURRENCY_ID,
               "ccEmails": []}
        raw.update(values)
        self._clients[raw["id"]] = raw
        self._record("CLIENTS", raw, "created")
        return raw

    def _replace_client(self, raw: dict, body: Body) -> dict:
        values = self._client_values(body, full=True)
        self._check_client_name(values["name"], exclude=raw["id"])
        raw.update(values)
        self._record("CLIENTS", raw, "updated")
        return raw

    def _archive_client_projects(self, client_id: str, *, projects: bool, tasks: bool) -> None:
        for project in self._projects.values():
            if project["clientId"] != client_id:
                continue
            if projects:
                project["archived"] = True
                self._record("PROJECTS", project, "updated")
            if tasks:
                for task in self._tasks_of(project["id"]):
                    task["status"] = "DONE"
                    self._record("TASKS", task, "updated")

    def _get_clients(self, request, ws):
        items = self._by_name(request, list(self._clients.values()), strict=False)
        # `archived` is a plain string here (spec); omitted: active and archived alike
        archived = (request.arg("archived") or "").lower()
        if archived in ("true", "false"):
            items = [item for item in items if item["archived"] == (archived == "true")]
        items = self._sorted(request, items, {"NAME": lambda c: name_key(c["name"]),
                                              "ID": lambda c: c["id"]})
        return self._page(request, items, self._client_out)

    def _post_client(self, request, ws):
        return SandboxResponse(201, client_dto(self._insert_client(Body.of(request))))

    def _get_client(self, request, ws, cid):
        return SandboxResponse(200, client_dto(self._client_raw(cid)))

    def _put_client(self, request, ws, cid):
        raw = self._client_raw(cid)
        archive_projects = bool(bool_arg(request, "archive-projects"))
        mark_done = bool(bool_arg(request, "mark-tasks-as-done"))
        self._replace_client(raw, Body.of(request))
        if raw["archived"]:
            self._archive_client_projects(cid, projects=archive_projects, tasks=mark_done)
        return SandboxResponse(200, client_dto(raw))

    def _delete_client(self, request, ws, cid):
        raw = self._client_raw(cid)
        if not raw["archived"]:
            fail("Cannot delete an active client")
        self._record("CLIENTS", raw, "deleted")
        del self._clients[cid]
        for project in self._projects.values():  # its projects become client-less
            if project["clientId"] == cid:
                project["clientId"] = None
                self._record("PROJECTS", project, "updated")
        return SandboxResponse(200, client_dto(raw))

    # -- projects -----------------------------------------------------------------------
    def _project_values(self, body: Body, *, creating: bool, ui: bool = False) -> dict:
        """Fields a create or a PUT sets. PUT (live probe): omitted isPublic and billable
        reset to false; omitted name, color, note, archived, clientId and rates are kept."""
        values: dict[str, Any] = {}
        if creating or body.data.get("name") is not None:
            values["name"] = required_name(body, "Project name is required")
            check_length(values["name"], "Project name", 2, 250)
        if creating or body.data.get("clientId") is not None:
            values["clientId"] = body.string("clientId") or None  # "": no client
            if values["clientId"]:
                self._client_raw(values["clientId"])
        values["public"] = bool(body.boolean("isPublic"))
        values["billable"] = bool(body.boolean("billable"))
        if body.string("color") is not None:
            check_color(body.string("color"))
            values["color"] = body.string("color")
        if body.string("note") is not None:
            check_length(body.string("note"), "Project note", 0, 16384)
            values["note"] = body.string("note")
        if body.boolean("archived") is not None and (ui or not creating):
            values["archived"] = body.boolean("archived")
        for key in ("hourlyRate", "costRate"):
            amount = rate_amount(body, key)
            if amount is not None:
                values[key] = rate(amount)
        estimate = body.obj("estimate") if creating else None
        if estimate is not None:
            # ProjectRequest's legacy `estimate {estimate, type}` has no `active` flag, and
            # TimeEstimateRequest's `active` defaults to false: the emulator stores the value
            # and type but leaves the estimate inactive (the sources say nothing more); the
            # estimate in effect is set with PATCH …/projects/{id}/estimate.
            values["timeEstimate"] = {
                "seconds": parse_duration(duration_field(estimate, "estimate") or "PT0S"),
                "type": enum_field(estimate, "type", ESTIMATE_TYPES, "EstimateType") or "AUTO",
                "active": False, "resetOption": None, "includeNonBillable": True}
        return values

    def _check_project_name(self, name: str, client_id: str | None, exclude: str | None) -> None:
        """Unique per (name, client), archived projects included (HELP-PROJ)."""
        for other in self._projects.values():
            if (other["id"] != exclude and other["clientId"] == client_id
                    and name_key(other["name"]) == name_key(name)):
                fail("Project with this name already exists")

    def _insert_project(self, body: Body, *, ui: bool = False) -> dict:
        values = self._project_values(body, creating=True, ui=ui)
        self._check_project_name(values["name"], values["clientId"], None)
        tasks = [self._task_values(Body(item), creating=True, ui=ui)
                 for item in body.data.get("tasks") or []]
        project_id = self._new_id()
        raw = {"id": project_id, "name": "", "clientId": None, "workspaceId": self.workspace_id,
               "billable": False, "public": False, "color": DEFAULT_COLOR, "note": "",
               "archived": False, "template": False, "hourlyRate": None, "costRate": None,
               "timeEstimate": {"seconds": 0, "type": "AUTO", "active": False,
                                "resetOption": None, "includeNonBillable": True},
               "budgetEstimate": None, "estimateReset": None,
               "memberships": [membership(self.user_id, project_id, "PROJECT")]}
        raw.update(values)
        self._projects[project_id] = raw
        self._record("PROJECTS", raw, "created")
        for task_values in tasks:
            self._store_task(project_id, task_values)
        return raw

    def _replace_project(self, raw: dict, body: Body, *, ui: bool = False) -> dict:
        values = self._project_values(body, creating=False, ui=ui)
        merged = {**raw, **values}
        self._check_project_name(merged["name"], merged["clientId"], raw["id"])
        raw.update(values)
        self._record("PROJECTS", raw, "updated")
        return raw

    @staticmethod
    def _project_form(raw: dict) -> dict:
        """A stored project as the request body a GET-merge-PUT client would send."""
        return {**raw, "isPublic": raw["public"], "clientId": raw["clientId"] or ""}

    def _get_projects(self, request, ws):
        bool_arg(request, "hydrated")  # validated; the spec documents no extra fields
        items = self._by_name(request, list(self._projects.values()), strict=True)
        for flag in ("archived", "billable"):
            wanted = bool_arg(request, flag)
            if wanted is not None:
                items = [item for item in items if item[flag] == wanted]
        clients = {part for value in request.args("clients") for part in value.split(",") if part}
        if clients:
            inside = bool_arg(request, "contains-client") is not False
            items = [item for item in items if (item["clientId"] in clients) == inside]
        items = self._sorted(request, items, {
            "NAME": lambda p: name_key(p["name"]), "ID": lambda p: p["id"],
            "CLIENT_NAME": lambda p: name_key(self._clients.get(p["clientId"] or "",
                                                                {"name": ""})["name"])})
        estimates = self._task_estimates()
        return self._page(request, items,
                          lambda raw, tracked: self._project_out(raw, tracked, estimates))

    def _post_project(self, request, ws):
        return SandboxResponse(201, self._project_out(self._insert_project(Body.of(request))))

    def _get_project(self, request, ws, pid):
        bool_arg(request, "hydrated")
        return SandboxResponse(200, self._project_out(self._project_raw(pid)))

    def _put_project(self, request, ws, pid):
        raw = self._replace_project(self._project_raw(pid), Body.of(request))
        return SandboxResponse(200, self._project_out(raw))

    def _patch_project_estimate(self, request, ws, pid):
        raw = self._project_raw(pid)
        self._set_estimate(raw, Body.of(request))
        return SandboxResponse(200, self._project_out(raw))

    def _set_estimate(self, raw: dict, body: Body) -> None:
        """`ProjectEstimateRequest`: each part given replaces that estimate; a part left out
        keeps it. Booleans omitted take the schema's default (false), so an estimate sent
        without `active: true` is stored but not in effect. One estimate is in effect at a
        time (`activeEstimate`): activating one deactivates the other; activating both in
        one request is refused (the emulator's choice; the sources say nothing)."""
        timed, budget = body.obj("timeEstimate"), body.obj("budgetEstimate")
        reset = body.obj("estimateReset")
        new_time = new_budget = None
        if timed is not None:
            before = time_estimate(raw)
            given = duration_field(timed, "estimate")
            new_time = {
                "seconds": parse_duration(given) if given is not None else before["seconds"],
                "type": enum_field(timed, "type", ESTIMATE_TYPES, "EstimateType")
                or before["type"],
                "active": bool(timed.boolean("active")),
                "resetOption": enum_field(timed, "resetOption", RESET_OPTIONS,
                                          "ResetOption"),
                "includeNonBillable": bool(timed.boolean("includeNonBillable"))}
        if budget is not None:
            amount = budget.integer("estimate")
            if amount is not None and amount < 0:
                fail("Budget estimate must be greater than or equal to 0")
            new_budget = {
                "estimate": amount or 0,
                "type": enum_field(budget, "type", ESTIMATE_TYPES, "EstimateType") or "MANUAL",
                "active": bool(budget.boolean("active")),
                "resetOption": enum_field(budget, "resetOption", RESET_OPTIONS,
                                          "ResetOption"),
                "includeExpenses": bool(budget.boolean("includeExpenses"))}
        if new_time and new_budget and new_time["active"] and new_budget["active"]:
            fail("Only one estimate (time or budget) can be active")
        if new_time is not None:
            raw["timeEstimate"] = new_time
            if new_time["active"] and raw.get("budgetEstimate"):
                raw["budgetEstimate"] = {**raw["budgetEstimate"], "active": False}
        if new_budget is not None:
            raw["budgetEstimate"] = new_budget
            if new_budget["active"]:
                raw["timeEstimate"] = {**time_estimate(raw), "active": False}
        if reset is not None:
            raw["estimateReset"] = self._estimate_reset(reset)

    @staticmethod
    def _estimate_reset(reset: Body) -> dict | None:
        if not reset.boolean("active") and not reset.boolean("isActive"):
            return None
        return {"interval": enum_field(reset, "interval", RESET_OPTIONS, "ResetOption"),
                "month": reset.string("month"), "dayOfWeek": reset.string("dayOfWeek"),
                "dayOfMonth": reset.integer("dayOfMonth"), "hour": reset.integer("hour")}

    def _delete_project(self, request, ws, pid):
        raw = self._project_raw(pid)
        if not raw["archived"]:
            fail("Cannot delete an active project")
        dto = self._project_out(raw)
        self._record("PROJECTS", raw, "deleted")
        del self._projects[pid]
        for task_id in [t["id"] for t in self._tasks_of(pid)]:
            self._record("TASKS", self._tasks[task_id], "deleted")
            self._drop_task(task_id)
        return SandboxResponse(200, dto)

    # -- tasks --------------------------------------------------------------------------
    def _task_values(self, body: Body, *, creating: bool, ui: bool = False) -> dict:
        """A create, or a replacing PUT: omitted fields reset to their defaults except
        `status`, which is kept. `billable` is ignored on create (always true, live)."""
        name = body.string("name") or ""
        if not name.strip():
            fail("Task name has to be between 1 and 1000 characters")
        check_length(name, "Task name", 1, 1000)
        assignees = body.strings("assigneeIds")
        if assignees is None and body.string("assigneeId"):
            assignees = [body.string("assigneeId")]
        budget = body.integer("budgetEstimate")
        if budget is not None and budget < 0:
            fail("Please enter valid value for budgetEstimate")
        values = {"name": name, "assigneeIds": list(dict.fromkeys(assignees or [])),
                  "userGroupIds": list(dict.fromkeys(body.strings("userGroupIds") or [])),
                  "estimate": duration_field(body, "estimate") or "PT0S",
                  "budgetEstimate": budget or 0}
        status = task_status(body)
        if status or creating:
            values["status"] = status or "ACTIVE"
        billable = body.boolean("billable")
        if billable is None or (creating and not ui):
            billable = creating  # create: true; a PUT without it: false
        values["billable"] = billable
        return values

    def _store_task(self, project_id: str, values: dict) -> dict:
        raw = {"id": self._new_id(), "name": "", "projectId": project_id,
               "workspaceId": self.workspace_id, "status": "ACTIVE", "assigneeIds": [],
               "userGroupIds": [], "estimate": "PT0S", "budgetEstimate": 0, "billable": True}
        raw.update(values)
        self._tasks[raw["id"]] = raw
        self._record("TASKS", raw, "created")
        self._project_tasks.setdefault(project_id, {})[raw["id"]] = raw
        return raw

    def _tasks_of(self, project_id: str) -> list[dict]:
        return list(self._project_tasks.get(project_id, {}).values())

    def _drop_task(self, task_id: str) -> None:
        task = self._tasks.pop(task_id)
        self._project_tasks.get(task["projectId"], {}).pop(task_id, None)

    def _get_tasks(self, request, ws, pid):
        self._project_raw(pid)
        items = self._tasks_of(pid)
        items = self._by_name(request, items, strict=True)
        if bool_arg(request, "is-active"):
            items = [task for task in items if task["status"] == "ACTIVE"]
        items = self._sorted(request, items, {"NAME": lambda t: name_key(t["name"]),
                                              "ID": lambda t: t["id"]})
        return self._page(request, items, self._task_out)

    def _post_task(self, request, ws, pid):
        self._project_raw(pid)
        raw = self._store_task(pid, self._task_values(Body.of(request), creating=True))
        return SandboxResponse(201, self._task_out(raw))

    def _get_task(self, request, ws, pid, tid):
        return SandboxResponse(200, self._task_out(self._task_raw(pid, tid)))

    def _put_task(self, request, ws, pid, tid):
        raw = self._task_raw(pid, tid)
        raw.update(self._task_values(Body.of(request), creating=False))
        self._record("TASKS", raw, "updated")
        return SandboxResponse(200, self._task_out(raw))

    def _delete_task(self, request, ws, pid, tid):
        raw = self._task_raw(pid, tid)
        if raw["status"] != "DONE":
            fail("Cannot delete an active task")
        dto = self._task_out(raw)
        self._record("TASKS", raw, "deleted")
        self._drop_task(tid)
        return SandboxResponse(200, dto)

    # -- time entries ---------------------------------------------------------------------
    def _entry_values(self, body: Body, *, creating: bool,
                      types: tuple[str, ...] = ("REGULAR", "BREAK")) -> dict:
        """A create (`{}` starts a timer now) or a replacing PUT (`start` required)."""
        start = instant_field(body, "start")
        if start is None and not creating:
            fail("Time entry start is required")
        start = start or self._now()
        end = instant_field(body, "end")
        if end is not None and end < start:
            fail("Time entry end has to be after its start")
        project_id = body.string("projectId") or None
        project = self._project_raw(project_id) if project_id else None  # archived: accepted
        task_id = body.string("taskId") or None
        if task_id:
            task = self._tasks.get(task_id)
            if task is None or task["projectId"] != project_id:
                fail("Task doesn't belong to Project")
        description = body.string("description") or ""
        check_length(description, "Description", 0, 3000)
        billable = body.boolean("billable")
        if billable is None:  # omitted: the project's billability
            billable = bool(project and project["billable"])
        return {"description": description, "projectId": project_id, "taskId": task_id,
                "tagIds": body.strings("tagIds") or [], "type": entry_type(body, types),
                "billable": billable,
                "timeInterval": {"start": format_instant(start),
                                 "end": end and format_instant(end)}}

    def _save_entry(self, raw: dict) -> dict:
        """Store an entry; a running one stops the user's other timer (as the apps do)."""
        self._entries[raw["id"]] = raw
        started = raw["timeInterval"]["start"]
        if raw["timeInterval"]["end"] is None:
            for other in self._entries.values():
                if (other["id"] != raw["id"] and other["userId"] == raw["userId"]
                        and other["timeInterval"]["end"] is None):
                    other["timeInterval"]["end"] = max(started, other["timeInterval"]["start"])
        return raw

    def _insert_entry(self, body: Body, *, user_id: str | None = None,
                      types: tuple[str, ...] = ("REGULAR", "BREAK")) -> dict:
        values = self._entry_values(body, creating=True, types=types)
        raw = {"id": self._new_id(), "userId": user_id or self.user_id,
               "workspaceId": self.workspace_id, **values}
        return self._save_entry(raw)

    def _get_user_entries(self, request, ws, uid):
        if uid != self.user_id:
            fail("User doesn't belong to Workspace")
        entries = [e for e in self._entries.values() if e["userId"] == uid]
        entries = self._filter_entries(request, entries)
        hydrated = bool(bool_arg(request, "hydrated"))
        estimates = self._task_estimates() if hydrated else None  # once, not per entry
        return self._page(request, entries, lambda raw, tracked: self._entry_out(
            raw, tracked, hydrated=hydrated, estimates=estimates))

    def _filter_entries(self, request: SandboxRequest, entries: list[dict]) -> list[dict]:
        """`start`/`end` keep entries whose start lies in the window; newest first."""
        start, end = instant_arg(request, "start"), instant_arg(request, "end")
        text = (request.arg("description") or "").casefold()
        project, task, tags = request.arg("project"), request.arg("task"), request.args("tags")
        need_project = bool_arg(request, "project-required")
        need_task = bool_arg(request, "task-required")
        running_only = (request.arg("in-progress") or "").lower() == "true"

        def keep(entry: dict) -> bool:
            began = parse_instant(entry["timeInterval"]["start"])
            return ((start is None or began >= start) and (end is None or began <= end)
                    and text in entry["description"].casefold()
                    and (not project or entry["projectId"] == project)
                    and (not task or entry["taskId"] == task)
                    and (not tags or bool(set(tags) & set(entry["tagIds"])))
                    and (not need_project or bool(entry["projectId"]))
                    and (not need_task or bool(entry["taskId"]))
                    and (not running_only or entry["timeInterval"]["end"] is None))

        kept = [entry for entry in entries if keep(entry)]
        return sorted(kept, key=lambda e: (e["timeInterval"]["start"], e["id"]), reverse=True)

    def _get_in_progress(self, request, ws):
        running = [e for e in self._entries.values() if e["timeInterval"]["end"] is None]
        running.sort(key=lambda e: (e["timeInterval"]["start"], e["id"]), reverse=True)
        return self._page(request, running, self._entry_out, default_size=10,
                          max_size=MAX_IN_PROGRESS_PAGE_SIZE)

    def _post_entry(self, request, ws):
        return SandboxResponse(201, self._entry_out(self._insert_entry(Body.of(request))))

    def _get_entry(self, request, ws, eid):
        hydrated = bool(bool_arg(request, "hydrated"))
        return SandboxResponse(200, self._entry_out(self._entry_raw(eid), hydrated=hydrated))

    def _put_entry(self, request, ws, eid):
        raw = self._entry_raw(eid)
        raw.update(self._entry_values(Body.of(request), creating=False))
        return SandboxResponse(200, self._entry_out(self._save_entry(raw)))

    def _delete_entry(self, request, ws, eid):
        self._entry_raw(eid)
        del self._entries[eid]
        return SandboxResponse(204)

    # -- the account --------------------------------------------------------------------
    def _get_me(self, request):
        memberships = bool(bool_arg(request, "include-memberships"))
        return SandboxResponse(200, user_dto(self.user, self.workspace_id,
                                             time_zone=self.time_zone, memberships=memberships))

    def _get_workspaces(self, request):
        return SandboxResponse(200, [workspace_dto(self.workspace_id, self.workspace_name,
                                                   self.user_id)])

    def _get_workspace(self, request, ws):
        return SandboxResponse(200, workspace_dto(self.workspace_id, self.workspace_name,
                                                  self.user_id))

    def _get_users(self, request, ws):
        users = self._by_name(request, [self.user], strict=False)
        return self._page(request, users, lambda user, tracked: user_dto(
            user, self.workspace_id, time_zone=self.time_zone, memberships=False))

    # -- Python API: seeding and "a human edits in the Clockify UI" -----------------------
    # No HTTP, no faults, not counted in `calls`. Keyword fields use the API's keys,
    # camelCase or snake_case (client_id, is_public...). Refusals raise ValueError.
    def create_client(self, name: str, **fields) -> dict:
        with self.lock, as_value_error():
            body = Body({"name": name, **camel(fields)})
            return copy.deepcopy(self._insert_client(body, full=True))

    def create_project(self, name: str, client_id: str | None = None, **fields) -> dict:
        fields = camel(fields)
        if "public" in fields:
            fields["isPublic"] = fields.pop("public")
        with self.lock, as_value_error():
            body = Body({"name": name, "clientId": client_id, **fields})
            return copy.deepcopy(self._insert_project(body, ui=True))

    def create_task(self, project_id: str, name: str, **fields) -> dict:
        with self.lock, as_value_error():
            self._project_raw(project_id)
            values = self._task_values(Body({"name": name, **camel(fields)}), creating=True,
                                       ui=True)
            return copy.deepcopy(self._store_task(project_id, values))

    def update_client(self, client_id: str, **fields) -> dict:
        with self.lock, as_value_error():
            raw = self._client_raw(client_id)
            return copy.deepcopy(self._replace_client(raw, Body({**raw, **camel(fields)})))

    def update_project(self, project_id: str, **fields) -> dict:
        fields = camel(fields)
        if "public" in fields:
            fields["isPublic"] = fields.pop("public")
        with self.lock, as_value_error():
            raw = self._project_raw(project_id)
            body = Body({**self._project_form(raw), **fields})
            return copy.deepcopy(self._replace_project(raw, body, ui=True))

    def set_project_estimate(self, project_id: str, body: dict) -> dict:
        """A person sets the estimate in the project's Status tab: `body` as the PATCH's."""
        with self.lock, as_value_error():
            raw = self._project_raw(project_id)
            self._set_estimate(raw, Body(body))
            return copy.deepcopy(self._project_out(raw))

    def update_task(self, task_id: str, **fields) -> dict:
        with self.lock, as_value_error():
            raw = self._tasks.get(task_id) or fail("Task doesn't belong to Project")
            values = self._task_values(Body({**raw, **camel(fields)}), creating=False, ui=True)
            raw.update(values)
            self._record("TASKS", raw, "updated")
            return copy.deepcopy(raw)

    def client(self, client_id: str) -> dict | None:
        with self.lock:
            return copy.deepcopy(self._clients.get(client_id))

    def project(self, project_id: str) -> dict | None:
        with self.lock:
            return copy.deepcopy(self._projects.get(project_id))

    def task(self, task_id: str) -> dict | None:
        with self.lock:
            return copy.deepcopy(self._tasks.get(task_id))

    def clients(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(list(self._clients.values()))

    def projects(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(list(self._projects.values()))

    def tasks(self, project_id: str | None = None) -> list[dict]:
        with self.lock:
            tasks = self._tasks.values() if project_id is None else self._tasks_of(project_id)
            return copy.deepcopy(list(tasks))

    @staticmethod
    def _entry_fields(fields: dict) -> dict:
        fields = camel(fields)
        for key in ("start", "end"):
            if isinstance(fields.get(key), datetime):
                fields[key] = format_instant(fields[key])
        return fields

    def add_time_entry(self, **fields) -> dict:
        """A time entry as if tracked in the app: `start` (default now), `end` (omit for a
        running timer), `projectId`, `taskId`, `description`, `billable`, `userId`..."""
        fields = self._entry_fields(fields)
        with self.lock, as_value_error():
            raw = self._insert_entry(Body(fields), user_id=fields.get("userId"),
                                     types=("REGULAR", "BREAK", "HOLIDAY", "TIME_OFF"))
            return copy.deepcopy(raw)

    def update_time_entry(self, entry_id: str, **fields) -> dict:
        with self.lock, as_value_error():
            raw = self._entry_raw(entry_id)
            body = Body({**raw, **raw["timeInterval"], **self._entry_fields(fields)})
            raw.update(self._entry_values(body, creating=False,
                                          types=("REGULAR", "BREAK", "HOLIDAY", "TIME_OFF")))
            return copy.deepcopy(self._save_entry(raw))

    def delete_time_entry(self, entry_id: str) -> None:
        with self.lock, as_value_error():
            self._entry_raw(entry_id)
            del self._entries[entry_id]

    def time_entries(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(list(self._entries.values()))

    # -- persistence ----------------------------------------------------------------------
    def dump_state(self) -> dict:
        with self.lock:
            return copy.deepcopy({
                "version": 1, "counter": self._counter, "clients": list(self._clients.values()),
                "projects": list(self._projects.values()), "tasks": list(self._tasks.values()),
                "timeEntries": list(self._entries.values()), "changes": self._dump_feed(),
            })

    def load_state(self, state: dict) -> None:
        with self.lock:
            self._reset()
            self._counter = state.get("counter", 0)
            for key, table in (("clients", self._clients), ("projects", self._projects),
                               ("tasks", self._tasks), ("timeEntries", self._entries)):
                table.update({item["id"]: copy.deepcopy(item) for item in state.get(key, [])})
            self._load_feed(state.get("changes", []))
            for task in self._tasks.values():
                self._project_tasks.setdefault(task["projectId"], {})[task["id"]] = task
