"""An in-memory emulator of the part of the Notion public API the product uses.

State: databases, each a container of data sources (schema + rows), and pages
(rows). Answers follow the recorded payloads in ../shared/reference
(notion-samples): page objects with minute-truncated timestamps, relation
values cut at 25 items with ``has_more``, paginated property items, list
envelopes, error objects with ``request_id``.

Versions: ``2025-09-03`` and later use data sources (``/v1/data_sources/...``,
page parents ``data_source_id``); older ones (``2022-06-28``) use
``/v1/databases/{id}`` and ``/v1/databases/{id}/query`` and fail on databases
with several data sources. ``2026-03-11`` drops ``archived``.

The Python API (`add_database`, `create_page`, `update_page`, `trash_page`,
`revoke_access`, `values`, `dump_state`...) seeds and inspects state without
HTTP: no call log, no faults, no rate limit. Its edits act as a person; API
writes act as the integration's bot.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
import random
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from copy import deepcopy
from typing import Any
from urllib.parse import quote, unquote

from syncapp.sandbox import ids
from syncapp.sandbox.base import Emulator, JsonError, SandboxRequest, SandboxResponse
from syncapp.sandbox.notion_values import (
    INLINE_LIMIT,
    PAGINATED_TYPES,
    PERSON_ID,
    USERS,
    Invalid,
    build_property,
    compile_filter,
    default_value,
    find_property,
    from_simple,
    iso_millis,
    iso_minute,
    minute,
    normalize_uuid,
    parse_request_value,
    property_item,
    property_items,
    render_value,
    rich_text,
    sort_pages,
    to_simple,
)

__all__ = ["NotionEmulator", "PERSON_ID", "INLINE_LIMIT"]

DATA_SOURCES_VERSION = "2025-09-03"
NO_ARCHIVED_VERSION = "2026-03-11"
KNOWN_VERSIONS = ("2021-05-11", "2021-05-13", "2021-08-16", "2022-02-22", "2022-06-28",
                  "2025-09-03", "2026-03-11")
INTEGRATION_NAME = "Sandbox sync"
ROOT_PAGE_ID = "5f0c0000-0000-4000-8000-000000000001"
PUBLIC_BASE = "https://api.notion.com"
PROP_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<>{}|?[]@=:`~_;^"
ERROR_CODES = {400: "validation_error", 401: "unauthorized", 403: "restricted_resource",
               404: "object_not_found", 409: "conflict_error", 429: "rate_limited",
               500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable",
               504: "gateway_timeout", 529: "service_overload"}
QUERY_KEYS = {"filter", "sorts", "start_cursor", "page_size", "in_trash", "archived",
              "is_archived", "result_type"}
PATCH_KEYS = {"properties", "in_trash", "archived", "icon", "cover", "is_locked"}
CREATE_KEYS = {"parent", "properties", "icon", "cover", "children", "template", "position"}

QUERY_SESSIONS = 256  # open query listings kept for their cursors; older ones expire
_ID = r"(?P<{}>[^/]+)"


class NotionEmulator(Emulator):
    name = "notion"
    QUERY_RESULT_LIMIT = 10_000
    routes = [
        ("GET", r"^/v1/users/me/?$", "_route_me"),
        ("GET", rf"^/v1/databases/{_ID.format('database_id')}/?$", "_route_database"),
        ("POST", rf"^/v1/databases/{_ID.format('database_id')}/query/?$",
         "_route_query_database"),
        ("GET", rf"^/v1/data_sources/{_ID.format('data_source_id')}/?$", "_route_data_source"),
        ("POST", rf"^/v1/data_sources/{_ID.format('data_source_id')}/query/?$",
         "_route_query_data_source"),
        ("POST", r"^/v1/pages/?$", "_route_create_page"),
        ("GET", rf"^/v1/pages/{_ID.format('page_id')}/?$", "_route_page"),
        ("PATCH", rf"^/v1/pages/{_ID.format('page_id')}/?$", "_route_update_page"),
        ("GET", rf"^/v1/pages/{_ID.format('page_id')}/properties/{_ID.format('property_id')}/?$",
         "_route_page_property"),
    ]

    def __init__(self, *, token: str = ids.NOTION_TOKEN, seed: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(seed=seed, clock=clock)
        self.token = token
        self._rng = random.Random(seed)
        self._request_rng = random.Random(f"notion-requests-{seed}")
        self._databases: dict[str, dict] = {}
        self._sources: dict[str, dict] = {}
        self._pages: dict[str, dict] = {}
        self._rows: dict[str, list[str]] = {}
        self._revoked: set[str] = set()
        # Open query listings: session id -> (matching page ids up to the limit, total).
        self._sessions: OrderedDict[str, tuple[list[str], int]] = OrderedDict()
        self._session_numbers = itertools.count(1)

    # == Python API (seeding and inspection; no HTTP, no faults) =================================
    def add_database(self, title: str, properties_schema: dict, *, database_id: str | None = None,
                     data_source_id: str | None = None) -> tuple[str, str]:
        """A database with one data source; returns (database_id, data_source_id)."""
        with self.lock:
            schema = self._build_schema(properties_schema)
            db_id = self._claim_id(database_id)
            now = self.clock()
            self._databases[db_id] = {"id": db_id, "title": title, "data_sources": [],
                                      "created_time": now, "last_edited_time": now}
            try:
                return db_id, self._add_source(db_id, title, schema, data_source_id)
            except ValueError:
                del self._databases[db_id]
                raise

    def add_data_source(self, database_id: str, title: str, properties_schema: dict, *,
                        data_source_id: str | None = None) -> str:
        """Another data source (schema + rows) in an existing database."""
        with self.lock:
            schema = self._build_schema(properties_schema)
            return self._add_source(_known(database_id), title, schema, data_source_id)

    def create_page(self, data_source_id: str, values: dict, *, page_id: str | None = None) -> str:
        """A row from simple values ({"Name": "Acme", "Archived": False, ...}), as a person."""
        with self.lock:
            source = self._sources[_known(data_source_id)]
            stored = self._simple_values(source, values)
            return self._insert_page(source, stored, PERSON_ID, page_id)["id"]

    def update_page(self, page_id: str, values: dict) -> None:
        """A person's edit: sets simple values, bumps last_edited_time/by."""
        with self.lock:
            page = self._pages[_known(page_id)]
            page["values"].update(self._simple_values(self._source_of(page), values))
            self._touch(page, PERSON_ID)

    def trash_page(self, page_id: str) -> None:
        """Move to trash as a person would (timestamps untouched)."""
        with self.lock:
            self._pages[_known(page_id)]["in_trash"] = True

    def restore_page(self, page_id: str) -> None:
        with self.lock:
            self._pages[_known(page_id)]["in_trash"] = False

    def add_property(self, data_source_id: str, name: str, spec: Any) -> None:
        """Add a property to the schema ("checkbox", ("select", [options]) ...), as a person
        editing the database would; existing pages get its empty value."""
        with self.lock:
            source = self._sources[_known(data_source_id)]
            used = {prop["id"] for prop in source["properties"].values()}
            prop = build_property(name, spec, self._new_property_id(used), self._new_uuid)
            source["properties"][name] = prop
            for page_id in self._rows[source["id"]]:
                self._pages[page_id]["values"][prop["id"]] = default_value(prop)

    def remove_option(self, data_source_id: str, property_name: str, option_name: str) -> None:
        """Delete a select/status option from the schema, as a person editing it would."""
        with self.lock:
            prop = self._sources[_known(data_source_id)]["properties"][property_name]
            config = prop[prop["type"]]
            config["options"] = [o for o in config["options"] if o["name"] != option_name]
            for group in config.get("groups", []):
                group["option_ids"] = [i for i in group["option_ids"]
                                       if any(o["id"] == i for o in config["options"])]

    def revoke_access(self, object_id: str) -> None:
        """Unshare a page, data source or database: 404 everywhere it is touched."""
        with self.lock:
            self._revoked.add(self._any_known(object_id))

    def grant_access(self, object_id: str) -> None:
        with self.lock:
            self._revoked.discard(self._any_known(object_id))

    def page(self, page_id: str) -> dict:
        """The page as GET /v1/pages renders it on 2025-09-03 (trashed or revoked too)."""
        with self.lock:
            return self._render_page(self._pages[_known(page_id)], DATA_SOURCES_VERSION)

    def values(self, page_id: str) -> dict:
        """Simple Python values by property name (the inverse of `create_page`)."""
        with self.lock:
            page = self._pages[_known(page_id)]
            return {name: to_simple(prop, page)
                    for name, prop in self._source_of(page)["properties"].items()}

    def pages(self, data_source_id: str, include_trashed: bool = False) -> list[dict]:
        with self.lock:
            rows = (self._pages[pid] for pid in self._rows[_known(data_source_id)])
            return [self._render_page(page, DATA_SOURCES_VERSION) for page in rows
                    if include_trashed or not page["in_trash"]]

    def dump_state(self) -> dict:
        with self.lock:
            version, internal, gauss = self._rng.getstate()
            return deepcopy({"databases": self._databases, "data_sources": self._sources,
                             "pages": list(self._pages.values()),
                             "revoked": sorted(self._revoked),
                             "rng": [version, list(internal), gauss]})

    def load_state(self, state: dict) -> None:
        with self.lock:
            state = deepcopy(state)
            self._databases = state["databases"]
            self._sources = state["data_sources"]
            self._pages = {page["id"]: page for page in state["pages"]}
            self._revoked = set(state.get("revoked", []))
            if "rng" in state:  # continue the id sequence instead of replaying it
                version, internal, gauss = state["rng"]
                self._rng.setstate((version, tuple(internal), gauss))
            self._rows = {ds_id: [] for ds_id in self._sources}
            self._sessions.clear()
            for page in self._pages.values():
                self._rows[page["data_source_id"]].append(page["id"])

    # == Emulator hooks ==========================================================================
    def authenticate(self, request: SandboxRequest) -> SandboxResponse | None:
        if request.headers.get("Authorization", "") != f"Bearer {self.token}":
            return self.error(401, "API token is invalid.", "unauthorized")
        version = request.headers.get("Notion-Version")
        if not version:
            return self.error(400, "Notion-Version header failed validation: Notion-Version "
                              "header should be defined, instead was `undefined`.",
                              "missing_version")
        if version not in KNOWN_VERSIONS:
            return self.error(400, f"Notion-Version header failed validation: `{version}` "
                              "is not a supported API version.", "validation_error")
        return None

    def error(self, status: int, message: str, code: Any = None, *,
              additional_data: dict | None = None) -> SandboxResponse:
        if status == 405:  # Notion answers a wrong method like an unknown URL
            status, code, message = 400, "invalid_request_url", "Invalid request URL."
        request_id = self._request_id()
        payload: dict[str, Any] = {"object": "error", "status": status,
                                   "code": code or ERROR_CODES.get(status, "internal_server_error"),
                                   "message": message}
        if additional_data is not None:
            payload["additional_data"] = additional_data
        payload["request_id"] = request_id
        return SandboxResponse(status, payload, {"x-notion-request-id": request_id})

    def rate_limited(self, retry_after: float) -> SandboxResponse:
        response = self.error(429, "You have been rate limited. Please try again in a few "
                              "minutes.", "rate_limited")
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return response

    def invalid_json(self) -> SandboxResponse:
        return self.error(400, "Error parsing JSON body.", "invalid_json")

    def unknown_route(self, request: SandboxRequest) -> SandboxResponse:
        return self.error(400, "Invalid request URL.", "invalid_request_url")

    def dispatch(self, request: SandboxRequest) -> SandboxResponse:
        try:
            return super().dispatch(request)
        except Invalid as exc:
            return self.error(400, str(exc), "validation_error")

    # == routes ==================================================================================
    def _route_me(self, request: SandboxRequest) -> SandboxResponse:
        bot = {**USERS[ids.NOTION_BOT_ID], "bot": {
            "owner": {"type": "workspace", "workspace": True},
            "workspace_name": "Sandbox workspace"}}
        return self._ok(bot)

    def _route_database(self, request: SandboxRequest, database_id: str) -> SandboxResponse:
        db = self._database(database_id)
        if _legacy(request):
            return self._ok(self._render_legacy_database(db, self._single_source(db)))
        return self._ok(_versioned(self._render_database(db), request))

    def _route_query_database(self, request: SandboxRequest, database_id: str) -> SandboxResponse:
        if not _legacy(request):
            raise JsonError(self.unknown_route(request))
        source = self._single_source(self._database(database_id))
        return self._query(request, source, "page_or_database")

    def _route_data_source(self, request: SandboxRequest, data_source_id: str) -> SandboxResponse:
        if _legacy(request):
            raise JsonError(self.unknown_route(request))
        return self._ok(_versioned(self._render_data_source(self._source(data_source_id)),
                                   request))

    def _route_query_data_source(self, request: SandboxRequest,
                                 data_source_id: str) -> SandboxResponse:
        if _legacy(request):
            raise JsonError(self.unknown_route(request))
        return self._query(request, self._source(data_source_id), "page_or_data_source")

    def _route_page(self, request: SandboxRequest, page_id: str) -> SandboxResponse:
        page = self._page(page_id)
        only = self._filter_properties(request, self._source_of(page))
        return self._ok(self._render_page(page, _version(request), only))

    def _route_create_page(self, request: SandboxRequest) -> SandboxResponse:
        body = self._body(request, CREATE_KEYS)
        source = self._parent_source(body.get("parent", ...))
        stored = self._request_values(source, body.get("properties") or {})
        page = self._insert_page(source, stored, ids.NOTION_BOT_ID)
        page["icon"], page["cover"] = body.get("icon"), body.get("cover")
        return self._ok(self._render_page(page, _version(request)))

    def _route_update_page(self, request: SandboxRequest, page_id: str) -> SandboxResponse:
        page = self._page(page_id)
        body = self._body(request, PATCH_KEYS)
        if "archived" in body and _version(request) >= NO_ARCHIVED_VERSION:
            raise Invalid("body failed validation: body.archived should be not present.")
        trash = body.get("in_trash", body.get("archived"))
        if trash is not None and not isinstance(trash, bool):
            raise Invalid(f"body failed validation: body.in_trash should be a boolean, "
                          f"instead was `{trash!r}`.")
        if page["in_trash"] and trash is not False:
            raise Invalid("Can't edit block that is archived. You must unarchive the block "
                          "before editing.")
        stored = self._request_values(self._source_of(page), body.get("properties") or {})
        page["values"].update(stored)
        for key in ("icon", "cover"):
            if key in body:
                page[key] = body[key]
        if trash is not None:
            page["in_trash"] = trash
        self._touch(page, ids.NOTION_BOT_ID)
        return self._ok(self._render_page(page, _version(request)))

    def _route_page_property(self, request: SandboxRequest, page_id: str,
                             property_id: str) -> SandboxResponse:
        page = self._page(page_id)
        prop = find_property(self._source_of(page)["properties"], unquote(property_id))
        if prop is None:
            raise Invalid(f"{property_id} is not a property that exists.")
        if prop["type"] not in PAGINATED_TYPES:
            return self._ok(property_item(prop, page))
        items = property_items(prop, page)
        size = _page_size(request.arg("page_size"), "query.page_size")
        scope = f"{page['id']}/{prop['id']}"
        start = self._decode_cursor(request.arg("start_cursor"), scope)
        end = min(start + size, len(items))
        cursor = _encode_cursor(scope, end) if end < len(items) else None
        next_url = (f"{PUBLIC_BASE}/v1/pages/{page['id']}/properties/{prop['id']}"
                    f"?start_cursor={cursor}") if cursor else None
        return self._ok({
            "object": "list", "results": items[start:end], "next_cursor": cursor,
            "has_more": cursor is not None, "type": "property_item",
            "property_item": {"id": prop["id"], "next_url": next_url, "type": prop["type"],
                              prop["type"]: {}},
        })

    # == query ===================================================================================
    def _query(self, request: SandboxRequest, source: dict, list_type: str) -> SandboxResponse:
        """One page of a query. The first request filters and sorts the rows once and keeps
        the ids; its cursors (carrying a session id, as Notion's do) page through them, so a
        listing costs the rows it returns, not a scan of the data source per page."""
        body = self._body(request, QUERY_KEYS)
        size = _page_size(body.get("page_size"), "body.page_size")
        only = self._filter_properties(request, source)
        if body.get("start_cursor") is None:
            session, start = self._open_session(source, body), 0
        else:
            session, start = self._resume_session(body["start_cursor"], source["id"])
        matching, total = self._sessions[session]
        end = min(start + size, len(matching))
        has_more = end < len(matching)
        pages = (self._pages.get(page_id) for page_id in matching[start:end])
        payload: dict[str, Any] = {
            "object": "list",
            "results": [self._render_page(page, _version(request), only) for page in pages
                        if page is not None and self._still_listed(page)],
            "next_cursor": _encode_cursor(f"{source['id']}/{session}", end) if has_more else None,
            "has_more": has_more, "type": list_type, list_type: {},
        }
        if not has_more and total > len(matching):
            payload["request_status"] = {"type": "incomplete",
                                         "incomplete_reason": "query_result_limit_reached"}
        return self._ok(payload)

    def _open_session(self, source: dict, body: dict) -> str:
        rows = self._matching_rows(source, body)
        session = f"q{next(self._session_numbers)}"
        self._sessions[session] = ([page["id"] for page in rows[:self.QUERY_RESULT_LIMIT]],
                                   len(rows))
        while len(self._sessions) > QUERY_SESSIONS:  # the oldest cursors expire
            self._sessions.popitem(last=False)
        return session

    def _resume_session(self, cursor: Any, source_id: str) -> tuple[str, int]:
        scope, _, session = self._cursor_scope(cursor).partition("/")
        if scope != source_id or session not in self._sessions:
            raise Invalid(f"The start_cursor provided is invalid: {cursor}")
        return session, self._decode_cursor(cursor, f"{source_id}/{session}")

    def _still_listed(self, page: dict) -> bool:
        """Trashed or unshared since the query's first page: no longer returned."""
        return not page["in_trash"] and page["id"] not in self._revoked

    def _matching_rows(self, source: dict, body: dict) -> list[dict]:
        properties = source["properties"]
        rows = [page for page in map(self._pages.get, self._rows[source["id"]])
                if self._still_listed(page)]
        if body.get("filter") is not None:
            keep = compile_filter(body["filter"], properties, self.clock())
            rows = [page for page in rows if keep(page)]
        if body.get("sorts"):
            rows = sort_pages(rows, body["sorts"], properties)
        return rows

    def _filter_properties(self, request: SandboxRequest, source: dict) -> set[str] | None:
        wanted = request.args("filter_properties") + request.args("filter_properties[]")
        if not wanted:
            return None
        only = set()
        for key in wanted:
            prop = find_property(source["properties"], key)
            if prop is None:
                raise Invalid(f"Could not find property with name or id: {key}")
            only.add(prop["id"])
        return only

    @staticmethod
    def _cursor_scope(cursor: Any) -> str:
        try:
            return base64.urlsafe_b64decode(str(cursor).encode() + b"==").decode().rsplit(
                ":", 1)[0]
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise Invalid(f"The start_cursor provided is invalid: {cursor}") from None

    def _decode_cursor(self, cursor: Any, scope: str) -> int:
        if cursor is None:
            return 0
        try:
            text = base64.urlsafe_b64decode(str(cursor).encode() + b"==").decode()
            cursor_scope, offset = text.rsplit(":", 1)
            if cursor_scope == scope and int(offset) >= 0:
                return int(offset)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            pass
        raise Invalid(f"The start_cursor provided is invalid: {cursor}")

    # == lookups (404 when unknown or not shared) ================================================
    def _path_id(self, raw: str, name: str) -> str:
        normalized = normalize_uuid(unquote(raw))
        if normalized is None:
            raise Invalid(f"path failed validation: path.{name} should be a valid uuid, "
                          f'instead was `"{unquote(raw)}"`.')
        return normalized

    def _not_found(self, kind: str, object_id: str) -> JsonError:
        return JsonError(self.error(
            404, f"Could not find {kind} with ID: {object_id}. Make sure the relevant pages and "
            f'databases are shared with your integration "{INTEGRATION_NAME}".',
            "object_not_found", additional_data={"integration_id": ids.NOTION_BOT_ID}))

    def _database(self, raw: str) -> dict:
        db_id = self._path_id(raw, "database_id")
        if db_id not in self._databases or db_id in self._revoked:
            raise self._not_found("database", db_id)
        return self._databases[db_id]

    def _source(self, raw: str) -> dict:
        ds_id = self._path_id(raw, "data_source_id")
        source = self._sources.get(ds_id)
        if source is None or not self._source_visible(source):
            raise self._not_found("data source", ds_id)
        return source

    def _page(self, raw: str) -> dict:
        page_id = self._path_id(raw, "page_id")
        page = self._pages.get(page_id)
        if page is None or page_id in self._revoked or not self._source_visible(
                self._source_of(page)):
            raise self._not_found("page", page_id)
        return page

    def _source_visible(self, source: dict) -> bool:
        return source["id"] not in self._revoked and source["database_id"] not in self._revoked

    def _single_source(self, db: dict) -> dict:
        if len(db["data_sources"]) == 1:
            return self._sources[db["data_sources"][0]]
        raise JsonError(self.error(
            400, "Databases with multiple data sources are not supported in this API version.",
            "validation_error", additional_data={
                "error_type": "multiple_data_sources_for_database", "database_id": db["id"],
                "child_data_source_ids": list(db["data_sources"]),
                "minimum_api_version": DATA_SOURCES_VERSION}))

    def _parent_source(self, parent: Any) -> dict:
        if not isinstance(parent, dict):
            raise Invalid("body failed validation: body.parent should be an object, "
                          "instead was `undefined`.")
        if "data_source_id" in parent:
            return self._source(str(parent["data_source_id"]))
        if "database_id" in parent:
            return self._single_source(self._database(str(parent["database_id"])))
        raise Invalid("body failed validation: body.parent.data_source_id should be defined, "
                      "instead was `undefined`.")

    def _source_of(self, page: dict) -> dict:
        return self._sources[page["data_source_id"]]

    def _any_known(self, object_id: str) -> str:
        known = _known(object_id)
        if known not in self._pages and known not in self._databases and known not in self._sources:
            raise KeyError(object_id)
        return known

    # == state changes ===========================================================================
    def _new_uuid(self) -> str:
        while True:
            candidate = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            if not self._taken(candidate):
                return candidate

    def _taken(self, object_id: str) -> bool:
        return (object_id in self._pages or object_id in self._databases
                or object_id in self._sources)

    def _claim_id(self, wanted: str | None) -> str:
        if wanted is None:
            return self._new_uuid()
        object_id = _known(wanted)
        if self._taken(object_id):
            raise ValueError(f"id already in use: {object_id}")
        return object_id

    def _add_source(self, database_id: str, title: str, schema: dict,
                    data_source_id: str | None) -> str:
        db = self._databases[database_id]
        ds_id = self._claim_id(data_source_id)
        self._sources[ds_id] = {"id": ds_id, "database_id": db["id"], "title": title,
                                "created_time": minute(self.clock()), "next_number": 1,
                                "properties": schema}
        self._rows[ds_id] = []
        db["data_sources"].append(ds_id)
        return ds_id

    def _new_property_id(self, used: set[str]) -> str:
        while True:
            raw = "".join(self._rng.choice(PROP_ID_CHARS) for _ in range(4))
            prop_id = quote(raw, safe="")
            if prop_id not in used and prop_id != "title":
                used.add(prop_id)
                return prop_id

    def _build_schema(self, spec: dict) -> dict[str, dict]:
        used: set[str] = set()
        schema = {name: build_property(name, kind, self._new_property_id(used), self._new_uuid)
                  for name, kind in spec.items()}
        if sum(prop["type"] == "title" for prop in schema.values()) != 1:
            raise ValueError("a data source needs exactly one title property")
        return schema

    def _insert_page(self, source: dict, stored: dict, author: str,
                     page_id: str | None = None) -> dict:
        now = minute(self.clock())
        page = {"id": self._claim_id(page_id), "data_source_id": source["id"],
                "created_time": now, "last_edited_time": now, "created_by": author,
                "last_edited_by": author, "in_trash": False, "icon": None, "cover": None,
                "values": {prop["id"]: default_value(prop)
                           for prop in source["properties"].values()}}
        page["values"].update(stored)
        for prop in source["properties"].values():
            if prop["type"] == "unique_id":
                page["values"][prop["id"]] = source["next_number"]
                source["next_number"] += 1
        self._pages[page["id"]] = page
        self._rows[source["id"]].append(page["id"])
        return page

    def _touch(self, page: dict, author: str) -> None:
        page["last_edited_time"] = minute(self.clock())
        page["last_edited_by"] = author

    def _simple_values(self, source: dict, values: dict) -> dict:
        stored = {}
        for key, value in values.items():
            prop = find_property(source["properties"], key)
            if prop is None:
                raise KeyError(f"{key} is not a property of {source['title']}")
            stored[prop["id"]] = from_simple(prop, value, self._new_uuid)
        return stored

    def _request_values(self, source: dict, properties: Any) -> dict:
        """Stored values from a request's ``properties``; validates all before any applies."""
        if not isinstance(properties, dict):
            raise Invalid("body failed validation: body.properties should be an object.")
        stored, unknown = {}, []
        for key, value in properties.items():
            prop = find_property(source["properties"], key)
            if prop is None:
                unknown.append(f"{key} is not a property that exists.")
                continue
            stored[prop["id"]] = parse_request_value(prop, key, value, self._new_uuid)
        if unknown:
            raise Invalid(" ".join(unknown))
        return stored

    # == rendering ===============================================================================
    def _ok(self, payload: dict) -> SandboxResponse:
        request_id = self._request_id()
        return SandboxResponse(200, {**payload, "request_id": request_id},
                               {"x-notion-request-id": request_id})

    def _request_id(self) -> str:
        return str(uuid.UUID(int=self._request_rng.getrandbits(128), version=4))

    def _render_page(self, page: dict, version: str, only: set[str] | None = None) -> dict:
        source = self._source_of(page)
        properties = {name: render_value(prop, page) for name, prop in source["properties"].items()
                      if only is None or prop["id"] in only}
        rendered = {
            "object": "page", "id": page["id"],
            "created_time": iso_minute(page["created_time"]),
            "last_edited_time": iso_minute(page["last_edited_time"]),
            "created_by": {"object": "user", "id": page["created_by"]},
            "last_edited_by": {"object": "user", "id": page["last_edited_by"]},
            "cover": deepcopy(page["cover"]), "icon": deepcopy(page["icon"]),
            "parent": self._page_parent(source, version), "in_trash": page["in_trash"],
            "is_archived": False, "is_locked": False, "properties": properties,
            "url": _page_url(page, source), "public_url": None,
        }
        return _with_archived(rendered, page["in_trash"], version)

    def _page_parent(self, source: dict, version: str) -> dict:
        if version < DATA_SOURCES_VERSION:
            return {"type": "database_id", "database_id": source["database_id"]}
        return {"type": "data_source_id", "data_source_id": source["id"],
                "database_id": source["database_id"]}

    def _render_database(self, db: dict) -> dict:
        return {
            "object": "database", "id": db["id"], "title": [rich_text(db["title"])],
            "description": [], "parent": {"type": "page_id", "page_id": ROOT_PAGE_ID},
            "is_inline": False, "in_trash": False, "is_locked": False,
            "created_time": iso_millis(db["created_time"]),
            "last_edited_time": iso_millis(db["last_edited_time"]),
            "data_sources": [{"id": ds_id, "name": self._sources[ds_id]["title"]}
                             for ds_id in db["data_sources"]],
            "icon": None, "cover": None, "url": _object_url(db["id"]), "public_url": None,
            "archived": False,
        }

    def _render_legacy_database(self, db: dict, source: dict) -> dict:
        rendered = self._render_data_source(source)
        for prop in rendered["properties"].values():
            if prop["type"] == "relation":
                prop["relation"].pop("data_source_id", None)
        rendered.update({"object": "database", "id": db["id"],
                         "parent": {"type": "page_id", "page_id": ROOT_PAGE_ID}})
        rendered.pop("database_parent")
        return rendered

    def _render_data_source(self, source: dict) -> dict:
        properties = deepcopy(source["properties"])
        for prop in properties.values():
            if prop["type"] == "relation" and prop["relation"]["database_id"] is None:
                target = self._sources.get(prop["relation"]["data_source_id"])
                prop["relation"]["database_id"] = target and target["database_id"]
        created = iso_minute(source["created_time"])
        return {
            "object": "data_source", "id": source["id"], "cover": None, "icon": None,
            "created_time": created, "created_by": {"object": "user", "id": PERSON_ID},
            "last_edited_by": {"object": "user", "id": PERSON_ID}, "last_edited_time": created,
            "title": [rich_text(source["title"])], "description": [], "is_inline": False,
            "properties": properties,
            "parent": {"type": "database_id", "database_id": source["database_id"]},
            "database_parent": {"type": "page_id", "page_id": ROOT_PAGE_ID},
            "url": _object_url(source["database_id"]), "public_url": None,
            "archived": False, "in_trash": False,
        }

    def _body(self, request: SandboxRequest, allowed: set[str]) -> dict:
        try:
            body = request.json()
        except ValueError:
            raise JsonError(self.invalid_json()) from None
        if not isinstance(body, dict):
            raise Invalid("body failed validation: body should be an object.")
        for key in body:
            if key not in allowed:
                raise Invalid(f"body failed validation: body.{key} should be not present.")
        return body


# == module helpers =============================================================================
def _known(object_id: str) -> str:
    normalized = normalize_uuid(object_id)
    if normalized is None:
        raise KeyError(object_id)
    return normalized


def _version(request: SandboxRequest) -> str:
    return request.headers.get("Notion-Version", DATA_SOURCES_VERSION)


def _legacy(request: SandboxRequest) -> bool:
    return _version(request) < DATA_SOURCES_VERSION


def _versioned(rendered: dict, request: SandboxRequest) -> dict:
    """Drop ``archived`` (always false on containers) from 2026-03-11 on."""
    if _version(request) >= NO_ARCHIVED_VERSION:
        rendered.pop("archived", None)
    return rendered


def _with_archived(rendered: dict, in_trash: bool, version: str) -> dict:
    if version < NO_ARCHIVED_VERSION:
        rendered["archived"] = in_trash
    return rendered


def _page_size(value: Any, path: str) -> int:
    if value is None:
        return 100
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"body failed validation: {path} should be an integer, "
                      f"instead was `{value}`.")
    if value > 100:
        raise Invalid(f"body failed validation: {path} should be ≤ `100`, instead was `{value}`.")
    if value < 1:
        raise Invalid(f"body failed validation: {path} should be ≥ `1`, instead was `{value}`.")
    return value


def _encode_cursor(scope: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}:{offset}".encode()).decode().rstrip("=")


def _object_url(object_id: str) -> str:
    return f"https://www.notion.so/{object_id.replace('-', '')}"


def _page_url(page: dict, source: dict) -> str:
    title_prop = next(p for p in source["properties"].values() if p["type"] == "title")
    title = "".join(item["plain_text"] for item in page["values"].get(title_prop["id"]) or [])
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")
    hex_id = page["id"].replace("-", "")
    return f"https://www.notion.so/{slug}-{hex_id}" if slug else f"https://www.notion.so/{hex_id}"
