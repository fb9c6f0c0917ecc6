"""The Clockify emulator's change feed: `GET /v1/workspaces/{ws}/entities/created|updated|deleted`.

Follows ../shared/reference/clockify-openapi.json, tag "Entity changes (Experimental)":

- `type` (repeatable or comma separated; at least one; CLIENTS, PROJECTS, TASKS... as
  documented: the types the emulator does not hold answer nothing), `start` and `end` in
  `yyyy-MM-ddThh:mm:ssZ` (one missing: 30 days from the other; both: the 30 days up to
  now), `page` (default 0) and `limit` (default 50);
- an entity created and updated in the range is left out of /updated;
- a deletion shows in /deleted about a minute after it happened (DELETION_LAG of the
  emulator's clock), and an entity created and deleted in the range never does;
- /deleted answers the documented `PageableCollectionLogBinDocumentDto`
  (`{"response": [{id, deletedAt, document, documentCode}]}`).

Where the sources say nothing the emulator picks one answer: the created/updated schema is
untyped, so they answer the same pageable wrapper with the entity's current document
(`{"response": [{id, documentCode, document}]}`, an entity once per answer); `page` counts
from 0; the range includes both ends; only CLIENTS, PROJECTS and TASKS are recorded.

Every change made through the API or the Python helpers (the "person in the Clockify UI")
is recorded. `unrecorded()` changes an entity behind the feed's back (the drift an audit must
find); `feed` switches the endpoints off ("off": an unknown path, as a service without
them answers) or makes them fail ("failing": 500).
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from syncapp.sandbox.base import SandboxResponse
from syncapp.sandbox.clockify_dto import fail, format_instant, instant_arg, int_arg, parse_instant

DOCUMENTED_TYPES = (
    "CLIENTS", "PROJECTS", "TAGS", "TASKS", "SCHEDULED_ASSIGNMENT", "TIME_ENTRY",
    "TIME_ENTRY_RATE", "TIME_ENTRY_CUSTOM_FIELD_VALUE", "CUSTOM_FIELDS", "USER",
    "USER_GROUPS", "INVOICES", "APPROVAL_REQUESTS", "BALANCE", "HOLIDAYS", "PTO_POLICY",
    "TIME_OFF_REQUEST")
DELETION_LAG = timedelta(minutes=1)
DEFAULT_RANGE = timedelta(days=30)
FEED_MODES = ("on", "off", "failing")
FEED_ROUTE = ("GET", r"^/v1/workspaces/(?P<ws>[^/]+)/entities/(?P<op>created|updated|deleted)$",
              "_get_entity_changes")


class ChangeFeed:
    """Mixed into ClockifyEmulator: it records changes and serves them."""

    feed: str = "on"

    def _reset_feed(self) -> None:
        self._changes: list[dict] = []
        self._recording = True

    @contextmanager
    def unrecorded(self):
        """Changes made inside leave no trace in the feed (planted drift for audit tests)."""
        with self.lock:
            self._recording = False
        try:
            yield self
        finally:
            with self.lock:
                self._recording = True

    def set_feed(self, mode: str) -> None:
        if mode not in FEED_MODES:
            raise ValueError(f"feed mode must be one of {', '.join(FEED_MODES)}")
        self.feed = mode

    def _record(self, doc_type: str, raw: dict, op: str) -> None:
        if not self._recording:
            return
        entry = {"type": doc_type, "id": raw["id"], "op": op, "at": self._now()}
        if op == "deleted":
            entry["document"] = self._feed_document(doc_type, raw)
        self._changes.append(entry)

    def _feed_document(self, doc_type: str, raw: dict) -> dict:
        render = {"CLIENTS": self._client_out, "PROJECTS": self._project_out,
                  "TASKS": self._task_out}[doc_type]
        return copy.deepcopy(render(raw))

    def _live(self, doc_type: str, entity_id: str) -> dict | None:
        table = {"CLIENTS": self._clients, "PROJECTS": self._projects, "TASKS": self._tasks}
        return table[doc_type].get(entity_id)

    # -- the endpoints ------------------------------------------------------------------
    def _get_entity_changes(self, request, ws, op):
        if self.feed == "off":
            return self.unknown_route(request)
        if self.feed == "failing":
            return self.error(500, "Internal server error")
        types = [t.strip().upper() for value in request.args("type") for t in value.split(",")
                 if t.strip()]
        if not types:
            fail("Required request parameter 'type' for method parameter type List is not "
                 "present", code=3000)
        unknown = [t for t in types if t not in DOCUMENTED_TYPES]
        if unknown:
            fail(f"No enum constant for type: {unknown[0]}", code=3000)
        start, end = self._feed_range(request)
        page = max(int_arg(request, "page", 0), 0)
        limit = int_arg(request, "limit", 50)
        if limit < 1:
            fail("limit must be greater than 0")
        items = getattr(self, f"_feed_{op}")(set(types), start, end)
        return SandboxResponse(200, {"response": items[page * limit:(page + 1) * limit]})

    def _feed_range(self, request) -> tuple[datetime, datetime]:
        start, end = instant_arg(request, "start"), instant_arg(request, "end")
        if start is None and end is None:
            end = self._now()
        if start is None:
            start = end - DEFAULT_RANGE
        if end is None:
            end = start + DEFAULT_RANGE
        return start, end

    def _in_range(self, types, start, end, op: str) -> list[dict]:
        return [c for c in self._changes
                if c["op"] == op and c["type"] in types and start <= c["at"] <= end]

    def _created_in(self, types, start, end) -> set[str]:
        return {c["id"] for c in self._in_range(types, start, end, "created")}

    def _current(self, changes: list[dict]) -> list[dict]:
        """Each still existing entity once, with its document as it is now."""
        seen: dict[str, dict] = {}
        for change in changes:
            raw = self._live(change["type"], change["id"])
            if raw is not None and change["id"] not in seen:
                seen[change["id"]] = {"id": change["id"], "documentCode": change["type"],
                                      "document": self._feed_document(change["type"], raw)}
        return list(seen.values())

    def _feed_created(self, types, start, end) -> list[dict]:
        return self._current(self._in_range(types, start, end, "created"))

    def _feed_updated(self, types, start, end) -> list[dict]:
        created = self._created_in(types, start, end)  # documented: left out of /updated
        return self._current([c for c in self._in_range(types, start, end, "updated")
                              if c["id"] not in created])

    def _feed_deleted(self, types, start, end) -> list[dict]:
        created = self._created_in(types, start, end)  # documented: never in /deleted
        visible_until = self._now() - DELETION_LAG  # documented: about a minute late
        return [{"id": c["id"], "deletedAt": format_instant(c["at"]),
                 "document": copy.deepcopy(c["document"]), "documentCode": c["type"]}
                for c in self._in_range(types, start, end, "deleted")
                if c["id"] not in created and c["at"] <= visible_until]

    # -- persistence ----------------------------------------------------------------------
    def _dump_feed(self) -> list[dict[str, Any]]:
        return [{**c, "at": format_instant(c["at"])} for c in self._changes]

    def _load_feed(self, changes: list[dict]) -> None:
        self._changes = [{**copy.deepcopy(c), "at": parse_instant(c["at"])} for c in changes]
