"""One error hierarchy for every API the product talks to.

`permanent` tells the caller whether trying again can help: 401/403/404 and
validation errors are permanent; 429, 5xx, timeouts and dropped connections
are transient. `OutcomeUnknown` is the one a caller must handle by reading
back: a write may or may not have happened.
"""

from __future__ import annotations


class ApiError(Exception):
    permanent = True

    def __init__(
        self,
        service: str,
        message: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        request_id: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.endpoint = endpoint

    def __str__(self) -> str:
        parts = [self.service]
        if self.status is not None:
            parts.append(str(self.status))
        if self.code not in (None, ""):
            parts.append(f"[{self.code}]")
        text = " ".join(parts) + f": {self.message}"
        if self.endpoint:
            text += f" ({self.endpoint})"
        return text


class TransientError(ApiError):
    permanent = False


class RateLimited(TransientError):
    def __init__(self, *args, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(TransientError):
    """5xx, or Notion's 409 conflict: the service asks us to try again."""


class NetworkError(TransientError):
    """Timeout or dropped connection on a request that is safe to repeat."""


class OutcomeUnknown(TransientError):
    """A non-idempotent request got no trustworthy answer: it may have been applied.

    Never re-sent automatically; the caller reads back before trying again.
    """


class BudgetExhausted(Exception):  # noqa: N818 - reads as what happened, like NotFound
    """The hourly request budget is spent: the request was NOT sent.

    Deliberately not an ApiError: nothing failed and nothing is wrong with the record,
    so no per-record handler may swallow it. The run stops at this safe point and a
    follow-up continues at `resumes_at` (an aware datetime).
    """

    def __init__(self, service: str, limit: int, resumes_at) -> None:
        super().__init__(f"{service}: the budget of {limit} requests an hour is spent; "
                         f"it is available again at {resumes_at.isoformat(timespec='minutes')}")
        self.service = service
        self.limit = limit
        self.resumes_at = resumes_at


class PermanentError(ApiError):
    permanent = True


class AuthError(PermanentError):
    """401 or 403: the token is wrong, revoked or lacks a capability."""


class NotFound(PermanentError):
    """Gone or not shared (Notion 404; Clockify 400/501 "doesn't belong to ...")."""


class ValidationFailed(PermanentError):
    """The service refused the values we sent (400)."""


class QueryIncomplete(PermanentError):
    """A Notion query hit its result limit: the listing is not complete."""


class UnexpectedShape(PermanentError):
    """The service answered 2xx with a body we cannot read (an experimental endpoint)."""
