"""Clockify API client: paginated lists, GET–merge–PUT updates, typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from syncapp.clients.errors import (
    ApiError,
    AuthError,
    NotFound,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from syncapp.clients.http import ApiClient, json_body, retry_after_seconds

MAX_PAGE_SIZE = 5000
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


def _merge(current: dict, changes: dict, fields: tuple[str, ...]) -> dict:
    """The full PUT body: every field the entity has, with `changes` applied."""
    body = {field: current[field] for field in fields if field in current}
    body.update(changes)
    return body
