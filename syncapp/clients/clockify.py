"""Clockify API client: paginated lists, GET–merge–PUT updates, typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from syncapp.clients.errors import (
    ApiError,
    AuthError,
    NotFound,
    RateLimited,
    ServerError,
    UnexpectedShape,
    ValidationFailed,
)
from syncapp.clients.http import ApiClient, json_body, retry_after_seconds

MAX_PAGE_SIZE = 5000
# Change-feed entries per page. The documented default is 50 and no maximum is documented;
# 5,000 is the largest page Clockify serves for its lists. A page shorter than this is the last.
FEED_LIMIT = 5000
FEED_OPS = ("created", "updated", "deleted")
WS = "/workspaces/{workspace}"

# PUT replaces the whole entity: these are the fields each body must carry.
CLIENT_FIELDS = ("name", "email", "address", "note", "archived", "currencyId", "ccEmails")
PROJECT_FIELDS = ("name", "clientId", "isPublic", "billable", "color", "note", "archived")
TASK_FIELDS = ("name", "status", "assigneeIds", "userGroupIds", "estimate", "billable",
               "budgetEstimate")
# All an update's full PUT body is built from (see _merge and update_project): what a
# record read for a later update needs to keep of the entity.
UPDATE_SOURCES = frozenset({*CLIENT_FIELDS, *PROJECT_FIELDS, *TASK_FIELDS, "public", "id",
                            "projectId"})


def _is_not_found(status: int, message: str) -> bool:
    # Clockify answers an unknown or deleted id with 400 "... doesn't belong to ...".
    return status == 400 and "doesn't belong to" in message


class ClockifyClient(ApiClient):
    service = "clockify"

    def __init__(self, api_key: str, workspace_id: str, *,
                 base_url: str = "https://api.clockify.me/api/v1",
                 page_size: int = MAX_PAGE_SIZE, **kwargs: Any) -> None:
        kwargs.setdefault("rate", 5.0)
        super().__init__(base_url, **kwargs)
        self._api_key = api_key
        self.workspace_id = workspace_id
        self.page_size = min(page_size, MAX_PAGE_SIZE)

    def __repr__(self) -> str:  # never show the key
        return f"<ClockifyClient {self.base_url} workspace={self.workspace_id}>"

    def auth_headers(self) -> dict[str, str]:
        return {"X-Api-Key": self._api_key}

    def classify(self, response: requests.Response, endpoint: str) -> ApiError:
        body = json_body(response)
        status = response.status_code
        message = body.get("message") or response.reason or "no message"
        fields = {"status": status, "code": body.get("code"), "endpoint": endpoint,
                  "request_id": response.headers.get("x-amz-cf-id")
                  or response.headers.get("x-request-id")}
        if status == 429:
            # CloudFront's 429 has no Retry-After; our backoff decides.
            return RateLimited(self.service, "Too many requests",
                               retry_after=retry_after_seconds(response), **fields)
        if status >= 500:
            return ServerError(self.service, message, **fields)
        if status in (401, 403):
            return AuthError(self.service, message, **fields)
        if _is_not_found(status, message):
            return NotFound(self.service, message, **fields)
        return ValidationFailed(self.service, message, **fields)

    def _ws(self, template: str) -> str:
        return WS + template

    def _call(self, method: str, template: str, **kwargs: Any) -> requests.Response:
        return self.request(method, self._ws(template), workspace=self.workspace_id, **kwargs)

    def iter_list(self, template: str, params: dict | None = None, **path: str) -> Iterator[dict]:
        """Every item of a list endpoint, page by page (Last-Page, else a short page)."""
        query = dict(params or {}, **{"page-size": self.page_size})
        page = 1
        while True:
            query["page"] = page
            response = self._call("GET", template, params=query, **path)
            items = response.json()
            yield from items
            last = response.headers.get("Last-Page")
            if last is not None:
                if last.lower() == "true":
                    return
            elif len(items) < self.page_size:
                return
            if not items:
                return
            page += 1

    # -- clients ----------------------------------------------------------------------------
    def clients(self, **params: Any) -> Iterator[dict]:
        return self.iter_list("/clients", params)

    def get_client(self, client_id: str) -> dict:
        return self._call("GET", "/clients/{id}", id=client_id).json()

    def create_client(self, body: dict) -> dict:
        return self._call("POST", "/clients", json=body).json()

    def update_client(self, client_id: str, changes: dict, current: dict | None = None) -> dict:
        current = current or self.get_client(client_id)
        body = _merge(current, changes, CLIENT_FIELDS)
        return self._call("PUT", "/clients/{id}", json=body, id=client_id).json()

    # -- projects ---------------------------------------------------------------------------
    def projects(self, *, hydrated: bool = False, **params: Any) -> Iterator[dict]:
        if hydrated:
            params["hydrated"] = "true"
        return self.iter_list("/projects", params)

    def get_project(self, project_id: str) -> dict:
        return self._call("GET", "/projects/{id}", id=project_id).json()

    def create_project(self, body: dict) -> dict:
        return self._call("POST", "/projects", json=body).json()

    def update_project(self, project_id: str, changes: dict, current: dict | None = None) -> dict:
        current = dict(current or self.get_project(project_id))
        # GET says `public`, PUT wants `isPublic`; an omitted isPublic/billable resets to false.
        current.setdefault("isPublic", current.get("public", False))
        body = _merge(current, changes, PROJECT_FIELDS)
        return self._call("PUT", "/projects/{id}", json=body, id=project_id).json()

    def update_project_estimate(self, project_id: str, body: dict) -> dict:
        """PATCH …/projects/{id}/estimate (`ProjectEstimateRequest`): the only way to set a
        project's estimate; PUT's body has no estimate. Answers the whole project."""
        return self._call("PATCH", "/projects/{id}/estimate", json=body, id=project_id).json()

    # -- tasks ------------------------------------------------------------------------------
    def tasks(self, project_id: str, **params: Any) -> Iterator[dict]:
        return self.iter_list("/projects/{project}/tasks", params, project=project_id)

    def get_task(self, project_id: str, task_id: str) -> dict:
        return self._call("GET", "/projects/{project}/tasks/{id}", project=project_id,
                          id=task_id).json()

    def create_task(self, project_id: str, body: dict) -> dict:
        return self._call("POST", "/projects/{project}/tasks", json=body,
                          project=project_id).json()

    def update_task(self, project_id: str, task_id: str, changes: dict,
                    current: dict | None = None) -> dict:
        current = current or self.get_task(project_id, task_id)
        body = _merge(current, changes, TASK_FIELDS)
        return self._call("PUT", "/projects/{project}/tasks/{id}", json=body,
                          project=project_id, id=task_id).json()

    # -- the change feed (experimental) -----------------------------------------------------
    def entity_changes(self, op: str, types: list[str], *, start: str,
                       end: str | None = None) -> list[FeedEntry]:
        """Entities `op` (created, updated, deleted) between start and end, every page.

        One call when nothing changed. Quirks (documented): an entity created and updated
        in the range is only in /created; a deletion shows about a minute late; an entity
        created and deleted in the range is not in /deleted.
        """
        if op not in FEED_OPS:
            raise ValueError(f"op must be one of {FEED_OPS}")
        params: dict[str, Any] = {"type": list(types), "start": start, "limit": FEED_LIMIT}
        if end:
            params["end"] = end
        entries: list[FeedEntry] = []
        page = 0
        while True:
            params["page"] = page
            response = self._call("GET", f"/entities/{op}", params=params)
            try:
                body = response.json()
            except ValueError:
                raise UnexpectedShape(self.service, "the change feed answered no JSON",
                                      endpoint=f"GET /entities/{op}") from None
            batch = _feed_entries(body, f"GET /entities/{op}")
            entries.extend(batch)
            if len(batch) < FEED_LIMIT:
                return entries
            page += 1

    # -- time entries and users ---------------------------------------------------------------
    def current_user(self) -> dict:
        return self.request("GET", "/user").json()

    def users(self) -> Iterator[dict]:
        return self.iter_list("/users")

    def user_time_entries(self, user_id: str, *, start: str | None = None,
                          end: str | None = None, hydrated: bool = False) -> Iterator[dict]:
        params: dict[str, Any] = {}
        if start:
            params["start"] = start
        if end:
            params["end"] = end
        if hydrated:
            params["hydrated"] = "true"
        return self.iter_list("/user/{user}/time-entries", params, user=user_id)

    def get_time_entry(self, entry_id: str, *, hydrated: bool = True) -> dict:
        return self._call("GET", "/time-entries/{id}", id=entry_id,
                          params={"hydrated": "true"} if hydrated else None).json()


@dataclass(frozen=True)
class FeedEntry:
    """One entity the change feed names: its id, type (CLIENTS...) if given, and document."""

    id: str
    doc_type: str | None
    document: dict
    deleted_at: str | None = None


def _feed_entries(body: Any, endpoint: str) -> list[FeedEntry]:
    """Read one page of the experimental feed; anything unexpected raises UnexpectedShape.

    /deleted is documented as `{"response": [{id, deletedAt, document, documentCode}]}`;
    /created and /updated are untyped, so a bare list, or items that are the documents
    themselves, are read too.
    """
    items = body.get("response") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise UnexpectedShape("clockify", "the change feed answered no list of entities",
                              endpoint=endpoint)
    entries = []
    for item in items:
        document = item.get("document") if isinstance(item, dict) else None
        document = document if isinstance(document, dict) else item
        if not isinstance(document, dict):
            raise UnexpectedShape("clockify", "a change-feed entry is not an object",
                                  endpoint=endpoint)
        entity_id = document.get("id") or item.get("id")
        if not isinstance(entity_id, str) or not entity_id:
            raise UnexpectedShape("clockify", "a change-feed entry has no entity id",
                                  endpoint=endpoint)
        code = item.get("documentCode")
        entries.append(FeedEntry(entity_id, code if isinstance(code, str) else None,
                                 document, item.get("deletedAt")))
    return entries


def _merge(current: dict, changes: dict, fields: tuple[str, ...]) -> dict:
    """The full PUT body: every field the entity has, with `changes` applied."""
    body = {field: current[field] for field in fields if field in current}
    body.update(changes)
    return body
