"""Notion API client: data-source aware, paginating, polite."""

from __future__ import annotations

from collections.abc import Iterator
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
        overlap is read twice and de-duplicated).
        """
        sorts = [{"timestamp": "created_time", "direction": "ascending"}]
        params = [("filter_properties", p) for p in filter_properties or []]
        for source_id in self.data_source_ids(database_id):
            seen: set[str] = set()
            since: str | None = None
            while True:
                window = filter
                if since:
                    after = {"timestamp": "created_time", "created_time": {"on_or_after": since}}
                    window = {"and": [after, filter]} if filter else after
                body: dict[str, Any] = {"page_size": PAGE_SIZE, "sorts": sorts}
                if window:
                    body["filter"] = window
                last = None
                try:
                    for page in self._query_source(source_id, body, params):
                        last = page.get("created_time")
                        if page["id"] not in seen:
                            seen.add(page["id"])
                            yield page
                except QueryIncomplete:
                    if last is None or last == since:
                        raise  # more pages created in one minute than one query returns
                    since = last
                    continue
                break

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
