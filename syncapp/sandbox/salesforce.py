"""An in-memory emulator of the Salesforce REST API subset the product uses: Events.

Mounted at `<root>/salesforce` it receives `/services/oauth2/token` (client
credentials) and `/services/data/vXX.X/...`: Event create / get / patch /
delete and a SOQL query of Events by exact field values. Behaviour follows
Salesforce's documented REST answers:

- errors are JSON arrays `[{"message", "errorCode"}]` (404 NOT_FOUND for an
  unknown or deleted record, 401 INVALID_SESSION_ID for a bad or expired token);
  the OAuth endpoint answers `{"error", "error_description"}` instead;
- create answers 201 `{"id", "success", "errors"}`, PATCH and DELETE 204;
- API request limits answer 403 REQUEST_LIMIT_EXCEEDED (the base's "429" fault);
- an Event needs StartDateTime and EndDateTime, end not before start, at most
  14 days long, Subject up to 255 characters.

Fault injection (5xx, limits, timeouts, drops) comes from the base Emulator.
No Django imports: syncsite.settings reads the sandbox credentials from here.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from syncapp.sandbox.base import Emulator, JsonError, SandboxRequest, SandboxResponse

ACCESS_TOKEN = "00Dsandbox0000000!sandbox-salesforce-access-token"  # noqa: S105
CLIENT_ID = "3MVG9sandbox-salesforce-client-id"
CLIENT_SECRET = "sandbox-salesforce-client-secret"  # noqa: S105
ORG_ID = "00Dsandbox0000000AA"
USER_ID = "005sandbox0000000AA"

_DATA = r"^/services/data/(?P<version>v\d+\.\d)"
EVENT_FIELDS = frozenset({
    "Subject", "StartDateTime", "EndDateTime", "Description", "IsAllDayEvent", "Location",
    "OwnerId", "WhoId", "WhatId", "ShowAs", "Type", "IsPrivate",
})
DATETIME_FIELDS = ("StartDateTime", "EndDateTime")
READ_ONLY = ("Id", "CreatedDate", "LastModifiedDate", "DurationInMinutes", "ActivityDateTime",
             "IsDeleted")
MAX_EVENT = timedelta(days=14)
_SOQL = re.compile(r"^\s*SELECT\s+(?P<fields>[\w\s,]+?)\s+FROM\s+Event"
                   r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
                   re.IGNORECASE | re.DOTALL)
_CONDITION = re.compile(r"^\s*(?P<field>\w+)\s*=\s*(?P<value>'(?:[^'\\]|\\.)*'|\S+)\s*$")


def _sf_error(status: int, message: str, code: str, fields: list[str] | None = None):
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    return JsonError(SandboxResponse(status, [item]))


def parse_datetime(value: Any, field: str) -> datetime:
    text = value if isinstance(value, str) else ""
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text.strip().replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _sf_error(400, f"Cannot deserialize instance of datetime from VALUE_STRING "
                             f"value {value!r} for field {field}", "JSON_PARSER_ERROR") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class SalesforceEmulator(Emulator):
    name = "salesforce"
    routes = [
        ("POST", r"^/services/oauth2/token$", "_token"),
        ("POST", _DATA + r"/sobjects/Event/?$", "_create_event"),
        ("GET", _DATA + r"/sobjects/Event/(?P<event_id>[A-Za-z0-9]+)/?$", "_get_event"),
        ("PATCH", _DATA + r"/sobjects/Event/(?P<event_id>[A-Za-z0-9]+)/?$", "_patch_event"),
        ("DELETE", _DATA + r"/sobjects/Event/(?P<event_id>[A-Za-z0-9]+)/?$", "_delete_event"),
        ("GET", _DATA + r"/query/?$", "_query"),
    ]

    def __init__(self, *, seed: int = 0, clock: Callable[[], float] = time.time) -> None:
        super().__init__(seed=seed, clock=clock)
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self._reset()

    def _reset(self) -> None:
        self._counter = 0
        self._tokens: set[str] = {ACCESS_TOKEN}
        self._events: dict[str, dict] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC).replace(microsecond=0)

    def _new_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}Sbx{self._counter:012d}"  # 18 characters, like a real id

    # -- the request cycle hooks ------------------------------------------------------------
    def authenticate(self, request: SandboxRequest) -> SandboxResponse | None:
        if request.path.startswith("/services/oauth2/"):
            return None
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self._tokens:
            return self.error(401, "Session expired or invalid", "INVALID_SESSION_ID")
        return None

    def error(self, status: int, message: str, code: Any = None) -> SandboxResponse:
        code = code or {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                        503: "SERVER_UNAVAILABLE"}.get(status, "UNKNOWN_EXCEPTION")
        return SandboxResponse(status, [{"message": message, "errorCode": code}])

    def rate_limited(self, retry_after: float) -> SandboxResponse:
        return self.error(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")

    def invalid_json(self) -> SandboxResponse:
        return self.error(400, "Unexpected character: was expecting a JSON value",
                          "JSON_PARSER_ERROR")

    def unknown_route(self, request: SandboxRequest) -> SandboxResponse:
        return self.error(404, "The requested resource does not exist", "NOT_FOUND")

    # -- OAuth ------------------------------------------------------------------------------
    def _token(self, request: SandboxRequest) -> SandboxResponse:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return SandboxResponse(400, {"error": "unsupported_grant_type",
                                         "error_description": "grant type not supported"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id,
                                                                   self.client_secret):
            return SandboxResponse(400, {"error": "invalid_client",
                                         "error_description": "invalid client credentials"})
        token = f"{ORG_ID[:15]}!{self._new_id('tok')}"
        self._tokens.add(token)
        return SandboxResponse(200, {
            "access_token": token, "signature": "sandbox", "scope": "api",
            "instance_url": "https://sandbox.my.salesforce.com",
            "id": f"https://login.salesforce.com/id/{ORG_ID}/{USER_ID}",
            "token_type": "Bearer", "issued_at": str(int(self.clock() * 1000)),
        })

    # -- Events -----------------------------------------------------------------------------
    def _event(self, event_id: str) -> dict:
        event = self._events.get(event_id)
        if event is None:
            raise _sf_error(404, "The requested resource does not exist", "NOT_FOUND")
        return event

    def _fields(self, request: SandboxRequest) -> dict:
        body = request.json()
        if not isinstance(body, dict):
            raise _sf_error(400, "Can not deserialize SObject out of START_ARRAY token",
                            "JSON_PARSER_ERROR")
        for name in body:
            if name in READ_ONLY:
                raise _sf_error(400, f"Unable to create/update fields: {name}. Please check "
                                     "the security settings of this field and verify that "
                                     "it is read/write for your profile or permission set.",
                                "INVALID_FIELD_FOR_INSERT_UPDATE", [name])
            if name not in EVENT_FIELDS:
                raise _sf_error(400, f"No such column '{name}' on sobject of type Event",
                                "INVALID_FIELD")
        return body

    def _validated(self, values: dict) -> dict:
        missing = [f for f in DATETIME_FIELDS if not values.get(f)]
        if missing:
            raise _sf_error(400, f"Required fields are missing: [{', '.join(missing)}]",
                            "REQUIRED_FIELD_MISSING", missing)
        start = parse_datetime(values["StartDateTime"], "StartDateTime")
        end = parse_datetime(values["EndDateTime"], "EndDateTime")
        if end < start:
            raise _sf_error(400, "End Date Time: End time can't be before start time",
                            "FIELD_INTEGRITY_EXCEPTION", ["EndDateTime"])
        if end - start > MAX_EVENT:
            raise _sf_error(400, "Event duration cannot exceed 14 days",
                            "FIELD_INTEGRITY_EXCEPTION", ["EndDateTime"])
        for field, limit in (("Subject", 255), ("Description", 32000)):
            text = values.get(field) or ""
            if not isinstance(text, str):
                raise _sf_error(400, f"{field}: value not of required type: {text}",
                                "INVALID_TYPE_ON_FIELD_IN_RECORD", [field])
            if len(text) > limit:
                raise _sf_error(400, f"{field}: data value too large: {text[:20]}... "
                                     f"(max length={limit})", "STRING_TOO_LONG", [field])
        values = dict(values, StartDateTime=format_datetime(start),
                      EndDateTime=format_datetime(end))
        values["DurationInMinutes"] = int((end - start).total_seconds() // 60)
        values["ActivityDateTime"] = values["StartDateTime"]
        return values

    def _render(self, event: dict, version: str, fields: list[str] | None = None) -> dict:
        url = f"/services/data/{version}/sobjects/Event/{event['Id']}"
        record = event if fields is None else {f: event.get(f) for f in fields}
        return {"attributes": {"type": "Event", "url": url}, **copy.deepcopy(record)}

    def _create_event(self, request: SandboxRequest, version: str) -> SandboxResponse:
        values = self._validated(self._fields(request))
        now = format_datetime(self._now())
        event = {"Id": self._new_id("00U"), "Subject": None, "Description": None,
                 "IsAllDayEvent": False, **values, "CreatedDate": now, "LastModifiedDate": now,
                 "IsDeleted": False}
        self._events[event["Id"]] = event
        return SandboxResponse(201, {"id": event["Id"], "success": True, "errors": []})

    def _get_event(self, request: SandboxRequest, version: str, event_id: str):
        return SandboxResponse(200, self._render(self._event(event_id), version))

    def _patch_event(self, request: SandboxRequest, version: str, event_id: str):
        event = self._event(event_id)
        merged = self._validated({**event, **self._fields(request)})
        event.update(merged, LastModifiedDate=format_datetime(self._now()))
        return SandboxResponse(204)

    def _delete_event(self, request: SandboxRequest, version: str, event_id: str):
        self._event(event_id)
        del self._events[event_id]
        return SandboxResponse(204)

    def _query(self, request: SandboxRequest, version: str) -> SandboxResponse:
        match = _SOQL.match(request.arg("q") or "")
        if not match:
            raise _sf_error(400, "unexpected token: the sandbox understands SELECT fields "
                                 "FROM Event [WHERE a = x AND b = y] [LIMIT n]",
                            "MALFORMED_QUERY")
        fields = [f.strip() for f in match["fields"].split(",") if f.strip()]
        conditions = []
        for part in re.split(r"\s+AND\s+", match["where"] or "", flags=re.IGNORECASE):
            if not part.strip():
                continue
            condition = _CONDITION.match(part)
            if not condition:
                raise _sf_error(400, f"unexpected token: {part.strip()}", "MALFORMED_QUERY")
            field, value = condition["field"], condition["value"]
            if field in DATETIME_FIELDS:
                expected: Any = format_datetime(parse_datetime(value, field))
            else:
                expected = value[1:-1].replace("\\'", "'") if value.startswith("'") else value
            conditions.append((field, expected))
        rows = [event for event in self._events.values()
                if all(event.get(field) == value for field, value in conditions)]
        if match["limit"]:
            rows = rows[:int(match["limit"])]
        records = [self._render(event, version, fields) for event in rows]
        return SandboxResponse(200, {"totalSize": len(records), "done": True,
                                     "records": records})

    # -- Python API (inspection, no HTTP) ------------------------------------------------------
    def events(self) -> list[dict]:
        with self.lock:
            return copy.deepcopy(list(self._events.values()))

    def event(self, event_id: str) -> dict | None:
        with self.lock:
            return copy.deepcopy(self._events.get(event_id))

    def expire_sessions(self) -> None:
        """Every issued token stops working (as when a session times out)."""
        with self.lock:
            self._tokens.clear()

    def dump_state(self) -> dict:
        with self.lock:
            return copy.deepcopy({"version": 1, "counter": self._counter,
                                  "events": list(self._events.values())})

    def load_state(self, state: dict) -> None:
        with self.lock:
            self._reset()
            self._counter = state.get("counter", 0)
            self._events = {e["Id"]: copy.deepcopy(e) for e in state.get("events", [])}
