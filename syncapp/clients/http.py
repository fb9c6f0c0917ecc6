"""What both API clients share: a throttle, timeouts, retries and call counts.

Sleep and clock are injected so tests never really wait. Session hooks let
the sandbox mount its emulators on every session the product creates.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

import requests

from syncapp.clients.errors import (
    ApiError,
    NetworkError,
    OutcomeUnknown,
    RateLimited,
    ServerError,
)

USER_AGENT = "notion-clockify-sync/0.1 (+https://github.com/)"

# Callables applied to each new session: the sandbox registers one that mounts
# its in-process emulators, so every line of client code still runs.
SESSION_HOOKS: list[Callable[[requests.Session], None]] = []

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})


def new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    for hook in SESSION_HOOKS:
        hook(session)
    return session


class RequestBudget(Protocol):
    """A shared allowance of requests (services.budget keeps it in the database)."""

    def claim(self) -> None:
        """Take one request from the allowance, or raise BudgetExhausted."""


class Throttle:
    """Token bucket: `rate` requests per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int = 1, *, clock=time.monotonic, sleep=time.sleep):
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting for the rate, for metrics

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens < 1:
                delay = (1 - self._tokens) / self.rate
                self._sleep(delay)
                self.waited += delay
                self._last = self._clock()
                self._tokens = 0.0
            else:
                self._tokens -= 1


class ApiClient:
    """Base of NotionClient and ClockifyClient.

    `request` throttles, times out, counts every HTTP attempt by
    "METHOD /endpoint/{template}", retries transient failures with exponential
    backoff and jitter (honouring Retry-After) and raises the typed errors of
    syncapp.clients.errors.
    """

    service = "api"

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        max_retries: int = 4,
        rate: float = 3.0,
        burst: int = 1,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        budget: RequestBudget | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or new_session()
        self.timeout = timeout
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.throttle = Throttle(rate, burst, clock=clock, sleep=sleep)
        self.budget = budget
        self._prepaid = 0  # requests already taken from the budget by `reserve`
        self.calls: Counter[str] = Counter()
        self.retries = 0
        self.rate_limited = 0  # 429s (and Notion's 529s) answered to us
        self.backoff_waited = 0.0  # seconds slept before retries

    # -- subclass hooks ---------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def classify(self, response: requests.Response, endpoint: str) -> ApiError:
        raise NotImplementedError

    # -- counting ---------------------------------------------------------------------
    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def waited(self) -> float:
        """Seconds spent waiting: the throttle's pacing plus backoff before retries."""
        return self.throttle.waited + self.backoff_waited

    def reserve(self, requests: int) -> None:
        """Take `requests` from the budget now, for steps that must not stop half-way
        (BudgetExhausted before the first of them, never between two)."""
        if self.budget is None:
            return
        for _ in range(requests):
            self.budget.claim()
            self._prepaid += 1

    # -- the request cycle ----------------------------------------------------------------
    def request(
        self,
        method: str,
        template: str,
        *,
        params: Any = None,
        json: Any = None,
        idempotent: bool | None = None,
        **path: str,
    ) -> requests.Response:
        """Send `method` to `template` formatted with `path`; return the 2xx response."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        endpoint = f"{method} {template}"
        url = self.base_url + template.format(**path)
        headers = {"Accept": "application/json", **self.auth_headers()}
        attempt = 0
        while True:
            if self._prepaid:
                self._prepaid -= 1
            elif self.budget is not None:
                self.budget.claim()  # raises BudgetExhausted before anything is sent
            self.throttle.wait()
            self.calls[endpoint] += 1
            try:
                response = self.session.request(
                    method, url, params=params, json=json, headers=headers, timeout=self.timeout
                )
            except requests.exceptions.ConnectTimeout as exc:
                # Never reached the server: safe to repeat even a POST.
                error: ApiError = NetworkError(self.service, f"connect timeout: {exc}",
                                               endpoint=endpoint)
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
                timed_out = isinstance(exc, requests.exceptions.Timeout)
                kind = "timeout" if timed_out else "connection lost"
                if not idempotent:
                    raise OutcomeUnknown(
                        self.service, f"{kind}; the request may have been applied",
                        endpoint=endpoint,
                    ) from exc
                error = NetworkError(self.service, kind, endpoint=endpoint)
            else:
                if response.ok:
                    return response
                error = self.classify(response, endpoint)
                if not idempotent and isinstance(error, ServerError):
                    # A 5xx to a create may still have committed it.
                    raise OutcomeUnknown(
                        self.service, f"{error.status} to a write; it may have been applied",
                        status=error.status, code=error.code, request_id=error.request_id,
                        endpoint=endpoint,
                    ) from error
            if isinstance(error, RateLimited):
                self.rate_limited += 1
            if error.permanent or attempt >= self.max_retries:
                raise error
            delay = self._delay(attempt, error)
            self.sleep(delay)
            self.backoff_waited += delay
            attempt += 1
            self.retries += 1

    def _delay(self, attempt: int, error: ApiError) -> float:
        if isinstance(error, RateLimited) and error.retry_after:
            return min(self.max_delay, error.retry_after)
        backoff = min(self.max_delay, self.base_delay * (2**attempt))
        # Full jitter keeps retrying workers from stampeding together.
        return backoff / 2 + self.rng.uniform(0, backoff / 2)


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def json_body(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
