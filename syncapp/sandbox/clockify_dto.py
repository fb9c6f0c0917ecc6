"""The Clockify emulator's wire format: DTOs out, requests in.

Out: how stored entities render as API v1 DTOs.

Shapes follow the official OpenAPI schemas (ClientWithCurrencyDtoV1,
ProjectDtoImplV1, TaskDtoV1, TimeEntryWithRatesDtoV1, UserDtoV1,
WorkspaceDtoV1); where the recorded webhook samples in
../shared/reference/clockify-samples disagree with the spec, the sample wins:
project `duration` is an ISO-8601 duration (spec: "milliseconds"),
`timeEstimate.estimate` is a number, and a project without a client has
`clientId` and `clientName` "" rather than null.

In: error bodies, query parameters and request bodies read with the checks
Spring/Jackson make (bad types: 400/3002 or 400/3000), and the field
validation helpers the live API's messages come from.

Formats: instants `2025-06-16T07:05:00Z` (UTC, whole seconds)
and durations `PT11H48M` (java.time.Duration style, hours may exceed 24).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncapp.sandbox.base import JsonError, SandboxRequest, SandboxResponse

CURRENCY = "USD"
CURRENCY_ID = "64a0c0ffee0000000000c0de"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
TRUE_WORDS, FALSE_WORDS = {"true", "on", "yes", "1"}, {"false", "off", "no", "0"}


# -- formats ------------------------------------------------------------------------

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.\d+)?S)?)?$")


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant ('Z' or an offset; none means UTC), cut to whole seconds."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def iso_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds <= 0:
        return "PT0S"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}H" if hours else "", f"{minutes}M" if minutes else "",
             f"{secs}S" if secs else ""]
    return "PT" + "".join(parts)


def parse_duration(text: str) -> int:
    """Seconds in an ISO-8601 duration such as PT1H30M; ValueError when malformed."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not match or text.strip() in ("P", "PT"):
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    days, hours, minutes, secs = (int(group or 0) for group in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


def interval_seconds(interval: dict) -> int | None:
    if not interval.get("end"):
        return None
    start, end = parse_instant(interval["start"]), parse_instant(interval["end"])
    return int((end - start).total_seconds())


# -- entities -----------------------------------------------------------------------

def rate(amount: int | None) -> dict | None:
    return None if amount is None else {"amount": amount, "currency": CURRENCY}


def client_dto(raw: dict) -> dict:
    return {
        "id": raw["id"],
        "name": raw["name"],
        "email": raw["email"],
        "address": raw["address"],
        "note": raw["note"],
        "archived": raw["archived"],
        "workspaceId": raw["workspaceId"],
        "currencyId": raw["currencyId"],
        "currencyCode": CURRENCY,
        "ccEmails": list(raw["ccEmails"]),
    }


ESTIMATE_TYPES = ("AUTO", "MANUAL")
RESET_OPTIONS = ("WEEKLY", "MONTHLY", "YEARLY")


def time_estimate(raw: dict) -> dict:
    """A stored project's time estimate (seconds, type, active...), older states included."""
    stored = raw.get("timeEstimate")
    if stored is None:  # a state saved before estimates were modelled: the legacy field
        legacy = raw.get("estimate") or {}
        stored = {"seconds": parse_duration(legacy.get("estimate") or "PT0S"),
                  "type": legacy.get("type") or "AUTO", "active": False,
                  "resetOption": None, "includeNonBillable": True}
    return stored


def project_dto(raw: dict, *, client_name: str, tracked_seconds: int,
                task_estimate_seconds: int = 0) -> dict:
    """`ProjectDtoImplV1`. The estimate in effect: `activeEstimate` says which (NONE, TIME,
    BUDGET); `timeEstimate.estimate` is in milliseconds, a JSON number as in the recorded
    sample; a task-based (AUTO) time estimate is the sum of the tasks' estimates. The legacy
    `estimate` object repeats the time estimate as an ISO duration."""
    timed = time_estimate(raw)
    seconds = task_estimate_seconds if timed["type"] == "AUTO" else timed["seconds"]
    budget = raw.get("budgetEstimate")
    active = "TIME" if timed["active"] else "BUDGET" if budget and budget["active"] else "NONE"
    return {
        "id": raw["id"],
        "name": raw["name"],
        "clientId": raw["clientId"] or "",
        "clientName": client_name,
        "workspaceId": raw["workspaceId"],
        "billable": raw["billable"],
        "public": raw["public"],
        "color": raw["color"],
        "note": raw["note"],
        "archived": raw["archived"],
        "template": raw["template"],
        "hourlyRate": raw["hourlyRate"],
        "costRate": raw["costRate"],
        "estimate": {"estimate": iso_duration(seconds), "type": timed["type"]},
        "activeEstimate": active,
        "timeEstimate": {"estimate": seconds * 1000, "type": timed["type"],
                         "resetOption": timed["resetOption"], "active": timed["active"],
                         "includeNonBillable": timed["includeNonBillable"]},
        "budgetEstimate": dict(budget) if budget else None,
        "estimateReset": dict(raw["estimateReset"]) if raw.get("estimateReset") else None,
        "duration": iso_duration(tracked_seconds),
        "memberships": [dict(item) for item in raw["memberships"]],
    }


def task_dto(raw: dict, *, tracked_seconds: int) -> dict:
    assignees = list(raw["assigneeIds"])
    return {
        "id": raw["id"],
        "name": raw["name"],
        "projectId": raw["projectId"],
        "workspaceId": raw["workspaceId"],
        "assigneeIds": assignees,
        "assigneeId": assignees[0] if assignees else "",
        "userGroupIds": list(raw["userGroupIds"]),
        "estimate": raw["estimate"],
        "status": raw["status"],
        "budgetEstimate": raw["budgetEstimate"],
        "billable": raw["billable"],
        "hourlyRate": None,
        "costRate": None,
        "progress": None,
        "duration": iso_duration(tracked_seconds),
    }


def entry_dto(raw: dict, *, hourly_rate: dict | None = None) -> dict:
    interval = raw["timeInterval"]
    seconds = interval_seconds(interval)
    return {
        "id": raw["id"],
        "description": raw["description"],
        "tagIds": list(raw["tagIds"]),
        "userId": raw["userId"],
        "billable": raw["billable"],
        "taskId": raw["taskId"],
        "projectId": raw["projectId"],
        "workspaceId": raw["workspaceId"],
        "timeInterval": {
            "start": interval["start"],
            "end": interval["end"],
            "duration": None if seconds is None else iso_duration(seconds),
        },
        "customFieldValues": [],
        "type": raw["type"],
        "kioskId": None,
        "hourlyRate": hourly_rate,
        "costRate": None,
        "isLocked": False,
    }


def hydrate_entry(dto: dict, *, project: dict | None, task: dict | None, user: dict,
                  time_zone: str) -> dict:
    """The extra keys `hydrated=true` (and a webhook body) carries."""
    interval = dto["timeInterval"]
    dto["timeInterval"] = {**interval, **zoned_fields(interval, time_zone)}
    dto.update({
        "approvalStatus": None,
        "projectCurrency": None,
        "currentlyRunning": interval["end"] is None,
        "project": project,
        "task": task,
        "user": {"id": user["id"], "name": user["name"], "status": "ACTIVE"},
        "tags": [{"id": tag_id, "name": tag_id, "workspaceId": dto["workspaceId"],
                  "archived": False} for tag_id in dto["tagIds"]],
    })
    return dto


def zoned_fields(interval: dict, time_zone: str) -> dict[str, Any]:
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, time_zone = UTC, "UTC"

    def local(text: str | None) -> tuple[str | None, int | None]:
        if text is None:
            return None, None
        moment = parse_instant(text).astimezone(zone)
        offset = moment.utcoffset() or timedelta(0)
        return moment.strftime("%Y-%m-%dT%H:%M:%S"), int(offset.total_seconds())

    zoned_start, offset_start = local(interval["start"])
    zoned_end, offset_end = local(interval["end"])
    return {"timeZone": time_zone, "offsetStart": offset_start, "offsetEnd": offset_end,
            "zonedStart": zoned_start, "zonedEnd": zoned_end}


# -- the account --------------------------------------------------------------------

def membership(user_id: str, target_id: str, kind: str) -> dict:
    return {"userId": user_id, "hourlyRate": None, "costRate": None, "targetId": target_id,
            "membershipType": kind, "membershipStatus": "ACTIVE"}


def user_dto(user: dict, workspace_id: str, *, time_zone: str, memberships: bool) -> dict:
    return {
        "id": user["id"],
        "email": user["email"],
        "name": user["name"],
        "memberships": [membership(user["id"], workspace_id, "WORKSPACE")] if memberships else [],
        "profilePicture": "",
        "activeWorkspace": workspace_id,
        "defaultWorkspace": workspace_id,
        "settings": {"weekStart": "MONDAY", "timeZone": time_zone, "timeFormat": "HOUR24",
                     "dateFormat": "YYYY-MM-DD", "lang": "EN", "theme": "DEFAULT",
                     "timeTrackingManual": False, "isCompactViewOn": False},
        "status": "ACTIVE",
        "customFields": [],
    }


def workspace_dto(workspace_id: str, name: str, user_id: str) -> dict:
    return {
        "id": workspace_id,
        "name": name,
        "hourlyRate": {"amount": 0, "currency": CURRENCY},
        "costRate": {"amount": 0, "currency": CURRENCY},
        "memberships": [membership(user_id, workspace_id, "WORKSPACE")],
        "workspaceSettings": {"forceProjects": False, "forceTasks": False,
                              "forceDescription": False, "forceTags": False,
                              "onlyAdminsCreateProject": True,
                              "defaultBillableProjects": False},
        "imageUrl": "",
        "featureSubscriptionType": None,
        "features": None,  # spec: an object of flags; the wire shape is unverified
        "subdomain": {"enabled": False, "name": None},
        "currencies": [{"id": CURRENCY_ID, "code": CURRENCY, "isDefault": True}],
        "cakeOrganizationId": None,
    }


# -- reading requests: errors and parameters ---------------------------------------------------

def fail(message: str, *, code: int = 501, status: int = 400) -> NoReturn:
    raise JsonError(SandboxResponse(status, {"message": message, "code": code}))


def parse_error(detail: str) -> NoReturn:
    fail(f"JSON parse error: {detail}", code=3002)


def _kind(value: Any) -> str:
    return {bool: "Boolean", int: "Integer", float: "Float", str: "String", list: "Array",
            dict: "Object"}.get(type(value), "Null")


def bool_arg(request: SandboxRequest, name: str) -> bool | None:
    """A Boolean query parameter as Spring converts it (bad values: 400/3000)."""
    raw = request.arg(name)
    if raw is None or raw == "":
        return None
    if raw.strip().lower() in TRUE_WORDS:
        return True
    if raw.strip().lower() in FALSE_WORDS:
        return False
    fail(f"Method parameter '{name}': Failed to convert value of type 'java.lang.String' to "
         f"required type 'java.lang.Boolean'; Invalid boolean value [{raw}]", code=3000)


def int_arg(request: SandboxRequest, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        fail(f"Method parameter '{name}': Failed to convert value of type 'java.lang.String' to "
             f"required type 'int'; For input string: \"{raw}\"", code=3000)


def instant_arg(request: SandboxRequest, name: str) -> datetime | None:
    raw = request.arg(name)
    if not raw:
        return None
    try:
        return parse_instant(raw)
    except ValueError:
        fail(f"Invalid date format for '{name}': {raw}")


class Body:
    """A request body's fields, with the JSON type checks Jackson would make.

    `None` means omitted or null (Jackson does not tell them apart either).
    """

    def __init__(self, data: Any) -> None:
        if not isinstance(data, dict):
            parse_error(f"Cannot deserialize value of type `RequestDto` from {_kind(data)} value")
        self.data = data

    @classmethod
    def of(cls, request: SandboxRequest) -> Body:
        try:
            return cls(request.json())
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            parse_error("Unexpected character: was expecting a JSON value")

    def _typed(self, key: str, types: tuple, java: str) -> Any:
        value = self.data.get(key)
        if value is None or (isinstance(value, types) and not
                             (isinstance(value, bool) and bool not in types)):
            return value
        parse_error(f"Cannot deserialize value of type `{java}` from {_kind(value)} value")

    def string(self, key: str) -> str | None:
        value = self.data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # Jackson coerces numbers to strings
        return self._typed(key, (str,), "java.lang.String")

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return self._typed(key, (bool,), "java.lang.Boolean")

    def integer(self, key: str) -> int | None:
        return self._typed(key, (int,), "java.lang.Integer")

    def strings(self, key: str) -> list[str] | None:
        value = self._typed(key, (list,), "java.util.List")
        if value is not None and not all(isinstance(item, str) for item in value):
            parse_error("Cannot deserialize value of type `java.lang.String` from Object value")
        return value

    def obj(self, key: str) -> Body | None:
        value = self._typed(key, (dict,), "RequestDto")
        return None if value is None else Body(value)


# -- validation -------------------------------------------------------------------------

def name_key(name: str) -> str:
    """How names compare for uniqueness and sorting. The API's case sensitivity is
    undocumented; the emulator is strict: trimmed and case-insensitive."""
    return name.strip().casefold()


def check_length(value: str, label: str, low: int, high: int) -> None:
    if not low <= len(value) <= high:
        fail(f"{label} has to be between {low} and {high} characters")


def required_name(body: Body, message: str) -> str:
    name = body.string("name")
    if name is None or not name.strip():
        fail(message)
    return name


def check_email(value: str | None) -> None:
    if value and not EMAIL.match(value):
        fail("Please enter valid value for email")


def check_color(value: str) -> None:
    if not COLOR.match(value):
        fail("Please enter valid value for color")


def rate_amount(body: Body, key: str) -> int | None:
    nested = body.obj(key)
    if nested is None:
        return None
    amount = nested.integer("amount")
    if amount is None or amount < 0:
        fail(f"Please enter valid value for {key}")
    return amount


def duration_field(body: Body, key: str) -> str | None:
    text = body.string(key)
    if text is None:
        return None
    try:
        return iso_duration(parse_duration(text))
    except ValueError:
        parse_error(f"Cannot deserialize value of type `java.time.Duration` from String \"{text}\"")


def instant_field(body: Body, key: str) -> datetime | None:
    text = body.string(key)
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError:
        parse_error(f"Cannot deserialize value of type `java.time.Instant` from String \"{text}\"")


def enum_field(body: Body, key: str, values: tuple[str, ...], java: str) -> str | None:
    """An enum value as Jackson reads it: anything else is a parse error naming the values."""
    text = body.string(key)
    if text is None or text in values:
        return text
    parse_error(f"Cannot deserialize value of type `{java}` from String \"{text}\": not one "
                f"of the values accepted for Enum class: [{', '.join(values)}]")


def task_status(body: Body) -> str | None:
    status = body.string("status")
    if status is None or status in ("ACTIVE", "DONE"):
        return status
    if status == "ALL":  # in the schema's enum, but only a filter value
        fail("Task status has to be ACTIVE or DONE")
    parse_error(f"Cannot deserialize value of type `TaskStatus` from String \"{status}\": not one "
                "of the values accepted for Enum class: [ACTIVE, DONE, ALL]")


def entry_type(body: Body, allowed: tuple[str, ...]) -> str:
    kind = body.string("type") or "REGULAR"
    if kind not in allowed:
        parse_error(f"Cannot deserialize value of type `TimeEntryType` from String \"{kind}\"")
    return kind


def camel(fields: dict) -> dict:
    """snake_case keyword arguments of the Python API as the API's camelCase keys."""
    def convert(key: str) -> str:
        head, *rest = key.split("_")
        return head + "".join(part[:1].upper() + part[1:] for part in rest)
    return {convert(key): value for key, value in fields.items()}


@contextmanager
def as_value_error() -> Iterator[None]:
    """The Python API reports what the HTTP API would refuse as ValueError."""
    try:
        yield
    except JsonError as exc:
        raise ValueError(exc.response.payload["message"]) from None
