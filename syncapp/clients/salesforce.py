"""Salesforce REST client for Events: create, update, delete, read back.

Authenticates with a fixed access token, or with the OAuth 2.0 client
credentials flow (`{instance}/services/oauth2/token`); a 401 INVALID_SESSION_ID
fetches a new token once and repeats the request. Error bodies are JSON
arrays, `[{"message": ..., "errorCode": ...}]`.
"""

from __future__ import annotations

from typing import Any

import requests

from syncapp.clients.errors import (
    ApiError,
    AuthError,
    NetworkError,
    NotFound,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from syncapp.clients.http import ApiClient, retry_after_seconds

DATA = "/services/data/{version}"
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a path, not a secret
INVALID_SESSION = "INVALID_SESSION_ID"


def _first_error(response: requests.Response) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error body (an array), or of an OAuth error."""
    try:
        body = response.json()
    except ValueError:
        return "", response.reason or "no message"
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode", "")), str(body[0].get("message", ""))
    if isinstance(body, dict):
        return (str(body.get("error") or body.get("errorCode") or ""),
                str(body.get("error_description") or body.get("message") or ""))
    return "", response.reason or "no message"


class SalesforceClient(ApiClient):
    service = "salesforce"

    def __init__(self, instance_url: str, *, access_token: str = "", client_id: str = "",
                 client_secret: str = "", api_version: str = "v60.0", **kwargs: Any) -> None:
        kwargs.setdefault("rate", 5.0)
        super().__init__(instance_url, **kwargs)
        self._token = access_token
        self._client_id = client_id
        self._client_secret = client_secret
        self.api_version = api_version

    def __repr__(self) -> str:  # never show the token or the secret
        return f"<SalesforceClient {self.base_url} {self.api_version}>"

    @property
    def can_refresh(self) -> bool:
        return bool(self._client_id and self._client_secret)

    def auth_headers(self) -> dict[str, str]:
        if not self._token:
            self._token = self.fetch_token()
        return {"Authorization": f"Bearer {self._token}"}

    def classify(self, response: requests.Response, endpoint: str) -> ApiError:
        code, message = _first_error(response)
        status = response.status_code
        fields = {"status": status, "code": code or None, "endpoint": endpoint,
                  "request_id": response.headers.get("Sforce-Call-Id")}
        if status == 429 or code == "REQUEST_LIMIT_EXCEEDED":
            return RateLimited(self.service, message or "Request limit exceeded",
                               retry_after=retry_after_seconds(response), **fields)
        if status >= 500:
            return ServerError(self.service, message, **fields)
        if status in (401, 403):
            return AuthError(self.service, message, **fields)
        if status == 404:
            return NotFound(self.service, message, **fields)
        return ValidationFailed(self.service, message, **fields)

    def request(self, method: str, template: str, **kwargs: Any) -> requests.Response:
        try:
            return super().request(method, template, **kwargs)
        except AuthError as exc:
            if exc.code != INVALID_SESSION or not self.can_refresh:
                raise
        self._token = self.fetch_token()  # the session expired: one new token, one more try
        return super().request(method, template, **kwargs)

    def fetch_token(self) -> str:
        """A new access token by the client credentials flow."""
        if not self.can_refresh:
            raise AuthError(self.service, "no access token and no client credentials "
                                          "(SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET)")
        endpoint = f"POST {TOKEN_PATH}"
        self.throttle.wait()
        self.calls[endpoint] += 1
        form = {"grant_type": "client_credentials", "client_id": self._client_id,
                "client_secret": self._client_secret}
        try:
            response = self.session.post(self.base_url + TOKEN_PATH, data=form,
                                         headers={"Accept": "application/json"},
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise NetworkError(self.service, f"token request failed: {type(exc).__name__}",
                               endpoint=endpoint) from None
        if not response.ok:
            error = self.classify(response, endpoint)
            if isinstance(error, ValidationFailed):  # OAuth answers bad credentials with 400
                error = AuthError(self.service, error.message, status=error.status,
                                  code=error.code, endpoint=endpoint)
            raise error
        token = (response.json() or {}).get("access_token")
        if not token:
            raise AuthError(self.service, "the token response has no access_token",
                            endpoint=endpoint)
        return token

    # -- Events --------------------------------------------------------------------------------
    def _data(self, method: str, template: str, **kwargs: Any) -> requests.Response:
        return self.request(method, DATA + template, version=self.api_version, **kwargs)

    def create_event(self, fields: dict) -> str:
        return self._data("POST", "/sobjects/Event", json=fields).json()["id"]

    def update_event(self, event_id: str, fields: dict) -> None:
        self._data("PATCH", "/sobjects/Event/{id}", json=fields, id=event_id)

    def delete_event(self, event_id: str) -> None:
        self._data("DELETE", "/sobjects/Event/{id}", id=event_id)

    def get_event(self, event_id: str) -> dict:
        return self._data("GET", "/sobjects/Event/{id}", id=event_id).json()

    def query(self, soql: str) -> list[dict]:
        """All records of a SOQL query (following nextRecordsUrl)."""
        body = self._data("GET", "/query", params={"q": soql}).json()
        records = list(body.get("records", []))
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            body = self.request("GET", "{path}", path=body["nextRecordsUrl"]).json()
            records += body.get("records", [])
        return records
