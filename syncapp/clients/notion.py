"""Notion API client: data-source aware, paginating, polite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from syncapp.clients.errors import (
    ApiError,
    AuthError,
    NotFound,
    QueryIncomplete,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from syncapp.clients.http import ApiClient, json_body, retry_after_seconds
from syncapp.clients.notion_values import relation_truncated

LEGACY_VERSION = "2022-06-28"
PAGE_SIZE = 100  # Notion's maximum
CREATED_ASCENDING = {"timestamp": "created_time", "direction": "ascending"}


class NotionClient(ApiClient):
    service = "notion"

    def __init__(self, token: str, *, base_url: str = "https://api.notion.com",
                 version: str = "2025-09-03", **kwargs: Any) -> None:
        kwargs.setdefault("rate", 3.0)
        super().__init__(base_url, **kwargs)
        self._token = token
        self.version = version
        self._data_sources: dict[str, list[str]] = {}

    def __repr__(self) -> str:  # never show the token
        return f"<NotionClient {self.base_url} version={self.version}>"

    @property
    def legacy(self) -> bool:
        return self.version <= LEGACY_VERSION

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Notion-Version": self.version}

    def classify(self, response: requests.Response, endpoint: str) -> ApiError:
        body = json_body(response)
        status = response.status_code
        fields = {
            "status": status,
            "code": body.get("code"),
            "request_id": body.get("request_id") or response.headers.get("x-request-id"),
            "endpoint": endpoint,
        }
        message = body.get("message") or response.reason or "no message"
        if status == 429:
            return RateLimited(self.service, message, retry_after=retry_after_seconds(response),
                               **fields)
        if status in (409,) or status >= 500:
            error = ServerError(self.service, message, **fields)
            if status == 529:
                return RateLimited(self.service, message,
                                   retry_after=retry_after_seconds(response), **fields)
            return error
        if status in (401, 403):
            return AuthError(self.service, message, **fields)
        if status == 404:
            return NotFound(self.service, message, **fields)
        return ValidationFailed(self.service, message, **fields)

    # -- databases and data sources ---------------------------------------------------------
    def retrieve_database(self, database_id: str) -> dict:
        return self.request("GET", "/v1/databases/{database_id}",
                            database_id=database_id).json()

    def retrieve_data_source(self, data_source_id: str) -> dict:
        return self.request("GET", "/v1/data_sources/{data_source_id}",
                            data_source_id=data_source_id).json()

    def cached_data_sources(self, database_id: str) -> list[str]:
        """The data sources already resolved for a database (no call); [] if none yet."""
        return list(self._data_sources.get(database_id, []))

    def remember_data_sources(self, database_id: str, source_ids: list[str]) -> None:
        """Seed the cache from a previous run, so resolving costs no call."""
        self._data_sources[database_id] = list(source_ids)

    def data_source_ids(self, database_id: str) -> list[str]:
        """The data sources of a database (cached); on the legacy version, the database."""
        if self.legacy:
            return [database_id]
        if database_id not in self._data_sources:
            database = self.retrieve_database(database_id)
            self._data_sources[database_id] = [ds["id"] for ds in database.get("data_sources", [])]
        return self._data_sources[database_id]

    def schema(self, database_id: str) -> dict[str, dict]:
        """Property name → schema of a database, merged over its data sources."""
        if self.legacy:
            return self.retrieve_database(database_id).get("properties", {})
        merged: dict[str, dict] = {}
        for data_source_id in self.data_source_ids(database_id):
            merged.update(self.retrieve_data_source(data_source_id).get("properties", {}))
        return merged

    def query(
        self,
        database_id: str,
        *,
        filter: dict | None = None,  # noqa: A002 - Notion's own name
        sorts: list[dict] | None = None,
        filter_properties: list[str] | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[dict]:
        """Every page of a database (all its data sources), streamed page by page."""
        body: dict[str, Any] = {"page_size": page_size}
        if filter:
            body["filter"] = filter
        if sorts:
            body["sorts"] = sorts
        params = [("filter_properties", p) for p in filter_properties or []]
        for source_id in self.data_source_ids(database_id):
            yield from self._query_source(source_id, dict(body), params)

    def scan(self, database_id: str, *, filter: dict | None = None,  # noqa: A002
             filter_properties: list[str] | None = None) -> Iterator[dict]:
        """Every page, even past Notion's 10,000-result limit per query.

        Sorted by creation; when a query stops at the limit, it restarts from the
        last creation minute seen (Notion's stamps are minute-precise, so the
        overlap is read twice and de-duplicated). A minute holding more pages than
        one query returns (a CSV import) is split by the database's ID (unique_id)
        property: each page has one number that never changes, so ranges of it
        partition the minute with no page twice and none missed. Without such a
        property the minute cannot be split and the scan raises QueryIncomplete.
        """
        for source_id in self.data_source_ids(database_id):
            yield from self._scan_source(source_id, filter, filter_properties or [])

    def _scan_source(self, source_id: str, user_filter: dict | None,
                     filter_properties: list[str]) -> Iterator[dict]:
        seen: set[str] = set()
        window: list[dict] = []  # creation-time conditions of the next query
        while True:
            body: dict[str, Any] = {"page_size": PAGE_SIZE, "sorts": [CREATED_ASCENDING]}
            if window or user_filter:
                body["filter"] = _all_of(*window, user_filter)
            first = last = None
            try:
                for page in self._query_source(source_id, body, _params(filter_properties)):
                    first, last = first or page.get("created_time"), page.get("created_time")
                    if page["id"] not in seen:
                        seen.add(page["id"])
                        yield page
            except QueryIncomplete:
                if last is None:
                    raise
                if first == last:  # one minute holds more than a query returns: split it
                    yield from self._scan_minute(source_id, last, user_filter,
                                                 filter_properties, seen)
                    window = [_created("after", last)]
                else:
                    window = [_created("on_or_after", last)]
                continue
            return

    def _scan_minute(self, source_id: str, minute: str, user_filter: dict | None,
                     filter_properties: list[str], seen: set[str]) -> Iterator[dict]:
        """The pages created in one minute, in ranges of their ID number (see `scan`)."""
        name = self._unique_id_property(source_id)
        if name is None:
            raise QueryIncomplete(
                self.service,
                f"more pages were created in the minute {minute} than one Notion query "
                f"returns (10,000), and the database has no ID (unique_id) property to "
                f"read them in parts; add an ID property to the database in Notion",
                endpoint="POST /v1/data_sources/{source_id}/query")
        params = _params([*filter_properties, name] if filter_properties else [])
        in_minute = [_created("on_or_after", minute), _created("before", _next_minute(minute))]
        sorts = [{"property": name, "direction": "ascending"}]
        above: int | None = None
        while True:
            start = above
            numbered = {"property": name, "unique_id": {"greater_than": above}} \
                if above is not None else None
            body = {"page_size": PAGE_SIZE, "sorts": sorts,
                    "filter": _all_of(*in_minute, numbered, user_filter)}
            try:
                for page in self._query_source(source_id, body, params):
                    above = _unique_number(page, name)
                    if page["id"] not in seen:
                        seen.add(page["id"])
                        yield page
            except QueryIncomplete:
                if above is None or above == start:
                    raise  # no number to continue from: reading on could loop or miss
                continue
            return

    def _unique_id_property(self, source_id: str) -> str | None:
        """The name of the data source's ID (unique_id) property, if it has one."""
        schema = (self.retrieve_database(source_id) if self.legacy
                  else self.retrieve_data_source(source_id)).get("properties", {})
        return next((name for name, prop in schema.items()
                     if prop.get("type") == "unique_id"), None)

    def _query_source(self, source_id: str, body: dict, params: list) -> Iterator[dict]:
        if self.legacy:
            template, key = "/v1/databases/{source_id}/query", source_id
        else:
            template, key = "/v1/data_sources/{source_id}/query", source_id
        while True:
            page = self.request("POST", template, json=body, params=params or None,
                                idempotent=True, source_id=key).json()
            yield from page.get("results", [])
            status = page.get("request_status") or {}
            if status.get("type") == "incomplete":
                raise QueryIncomplete(
                    self.service,
                    f"the query stopped at Notion's result limit "
                    f"({status.get('incomplete_reason')}); the listing is not complete",
                    endpoint=f"POST {template}",
                )
            if not page.get("has_more") or not page.get("next_cursor"):
                return
            body["start_cursor"] = page["next_cursor"]

    # -- pages --------------------------------------------------------------------------------
    def retrieve_page(self, page_id: str) -> dict:
        return self.request("GET", "/v1/pages/{page_id}", page_id=page_id).json()

    def property_items(self, page_id: str, property_id: str) -> Iterator[dict]:
        """All items of a paginated page property (relation, title, rich_text, people)."""
        params: dict[str, Any] = {"page_size": PAGE_SIZE}
        while True:
            body = self.request("GET", "/v1/pages/{page_id}/properties/{property_id}",
                                params=params, page_id=page_id, property_id=property_id).json()
            if body.get("object") != "list":
                yield body
                return
            yield from body.get("results", [])
            if not body.get("has_more") or not body.get("next_cursor"):
                return
            params["start_cursor"] = body["next_cursor"]

    def complete_relations(self, page: dict) -> dict:
        """Fill relations Notion cut at 25 items (`has_more`), in place."""
        for prop in page.get("properties", {}).values():
            if relation_truncated(prop):
                items = self.property_items(page["id"], prop["id"])
                prop["relation"] = [{"id": item["relation"]["id"]} for item in items]
                prop["has_more"] = False
        return page

    def update_page(self, page_id: str, properties: dict) -> dict:
        return self.request("PATCH", "/v1/pages/{page_id}", json={"properties": properties},
                            page_id=page_id).json()

    def set_in_trash(self, page_id: str, in_trash: bool) -> dict:
        """Move a page to the trash, or restore it (Notion's `in_trash`, once `archived`)."""
        return self.request("PATCH", "/v1/pages/{page_id}", json={"in_trash": in_trash},
                            page_id=page_id).json()

    def me(self) -> dict:
        return self.request("GET", "/v1/users/me").json()


def _params(filter_properties: list[str]) -> list[tuple[str, str]]:
    return [("filter_properties", p) for p in filter_properties]


def _created(condition: str, minute: str) -> dict:
    return {"timestamp": "created_time", "created_time": {condition: minute}}


def _next_minute(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(minutes=1)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00.000Z")


def _all_of(*conditions: dict | None) -> dict:
    present = [c for c in conditions if c]
    return present[0] if len(present) == 1 else {"and": present}


def _unique_number(page: dict, name: str) -> int | None:
    value = (page.get("properties", {}).get(name) or {}).get("unique_id") or {}
    return value.get("number")
