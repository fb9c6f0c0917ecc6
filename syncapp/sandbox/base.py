"""What every emulator shares: request/response values, routing, rate limits,
fault injection and a call log.

An emulator is plain Python with no HTTP of its own; `transport` carries
`requests` calls to it in-process and `server` serves it on loopback.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from requests.structures import CaseInsensitiveDict


class SandboxTimeout(Exception):
    """The emulator never answers: the client sees a read timeout."""


class SandboxDrop(Exception):
    """The connection drops: the client sees a connection error.

    `committed` says whether the emulator applied the request before dropping
    (the "commit then drop the response" fault a real network produces).
    """

    def __init__(self, committed: bool) -> None:
        super().__init__("connection dropped" + (" after commit" if committed else ""))
        self.committed = committed


@dataclass
class SandboxRequest:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: CaseInsensitiveDict = field(default_factory=CaseInsensitiveDict)
    body: bytes = b""

    @classmethod
    def build(cls, method: str, path: str, query_string: str, headers: Any, body: bytes):
        return cls(
            method=method.upper(),
            path=path,
            query=parse_qs(query_string, keep_blank_values=True),
            headers=CaseInsensitiveDict(headers or {}),
            body=body or b"",
        )

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body)


@dataclass
class SandboxResponse:
    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        if self.payload is None:
            return b""
        if isinstance(self.payload, bytes):
            return self.payload
        return json.dumps(self.payload).encode()


class JsonError(Exception):
    """Raised inside a handler to answer with an error body."""

    def __init__(self, response: SandboxResponse) -> None:
        super().__init__(response.status)
        self.response = response


FAULT_KINDS = ("500", "502", "503", "429", "timeout", "drop", "commit_then_drop")


@dataclass
class _Scheduled:
    kind: str
    method: str | None
    path_contains: str | None
    times: int


class Faults:
    """Deterministic fault injection.

    `rate` is the chance per request of a random fault drawn from `kinds`,
    from a seeded generator so a failing test replays. `schedule` queues
    explicit one-shot faults for requests that match a method and path part.
    """

    def __init__(self, seed: int = 0) -> None:
        self.reseed(seed)
        self.rate = 0.0
        self.kinds: tuple[str, ...] = ("500", "502", "503", "429", "timeout")
        self.methods: tuple[str, ...] | None = None
        self._scheduled: deque[_Scheduled] = deque()

    def reseed(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def configure(self, rate: float, kinds: tuple[str, ...] | None = None, methods=None) -> None:
        unknown = set(kinds or ()) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.rate = rate
        if kinds:
            self.kinds = tuple(kinds)
        self.methods = tuple(m.upper() for m in methods) if methods else None

    def schedule(self, kind: str, *, method: str | None = None, path_contains: str | None = None,
                 times: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind: {kind}")
        self._scheduled.append(_Scheduled(kind, method and method.upper(), path_contains, times))

    def clear(self) -> None:
        self.rate = 0.0
        self.methods = None
        self._scheduled.clear()

    def draw(self, request: SandboxRequest) -> str | None:
        for item in self._scheduled:
            if item.method and item.method != request.method:
                continue
            if item.path_contains and item.path_contains not in request.path:
                continue
            item.times -= 1
            if item.times <= 0:
                self._scheduled.remove(item)
            return item.kind
        eligible = self.methods is None or request.method in self.methods
        if self.rate and eligible and self._rng.random() < self.rate:
            return self._rng.choice(self.kinds)
        return None


class RateLimit:
    """At most `limit` requests in any `window` seconds (a sliding window)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()

    def retry_after(self) -> float | None:
        """None when the request may pass (and is counted), else seconds to wait."""
        now = self._clock()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return self.window - (now - self._times[0])
        self._times.append(now)
        return None


Route = tuple[str, str, str]


class Emulator:
    """Base of the Notion and Clockify emulators.

    Subclasses list `routes` as (method, path regex, handler name) and implement
    `authenticate`, `error` and `rate_limited`. Handlers take the request and
    the path groups and return a SandboxResponse or raise JsonError.
    """

    name = "emulator"
    routes: list[Route] = []

    def __init__(self, *, seed: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.faults = Faults(seed)
        self.rate_limit: RateLimit | None = None
        self.hourly_budget: RateLimit | None = None  # e.g. a Free Clockify workspace: 30/h
        self.refused_over_budget = 0  # 429s answered by the hourly budget
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self._compiled = [(m, re.compile(p), h) for m, p, h in self.routes]

    # -- configuration --------------------------------------------------------
    def limit_rate(self, limit: int, window: float = 1.0) -> None:
        self.rate_limit = RateLimit(limit, window, self.clock)

    def unlimit_rate(self) -> None:
        self.rate_limit = None

    def limit_per_hour(self, limit: int | None) -> None:
        """At most `limit` requests in any hour of the emulator's own clock (None: off).

        The clock is read at each request, so a test that moves `clock` moves the window."""
        self.hourly_budget = None if not limit else \
            RateLimit(limit, 3600.0, lambda: self.clock())
        self.refused_over_budget = 0

    def reset_calls(self) -> None:
        self.calls.clear()

    def call_count(self, method: str | None = None, path_contains: str | None = None) -> int:
        return sum(
            1
            for m, p in self.calls
            if (method is None or m == method) and (path_contains is None or path_contains in p)
        )

    # -- subclass hooks -----------------------------------------------------------
    def authenticate(self, request: SandboxRequest) -> SandboxResponse | None:
        return None

    def error(self, status: int, message: str, code: Any = None) -> SandboxResponse:
        raise NotImplementedError

    def rate_limited(self, retry_after: float) -> SandboxResponse:
        raise NotImplementedError

    def invalid_json(self) -> SandboxResponse:
        return self.error(400, "Body failed to parse as JSON.")

    def unknown_route(self, request: SandboxRequest) -> SandboxResponse:
        return self.error(404, f"No route for {request.method} {request.path}")

    # -- the request cycle ------------------------------------------------------------
    def handle(self, request: SandboxRequest) -> SandboxResponse:
        with self.lock:
            self.calls.append((request.method, request.path))
            denied = self.authenticate(request)
            if denied is not None:
                return denied
            if self.hourly_budget is not None:
                wait = self.hourly_budget.retry_after()
                if wait is not None:
                    self.refused_over_budget += 1
                    return self.rate_limited(wait)
            if self.rate_limit is not None:
                wait = self.rate_limit.retry_after()
                if wait is not None:
                    return self.rate_limited(wait)
            fault = self.faults.draw(request)
            if fault in ("500", "502", "503"):
                return self.error(int(fault), "Injected sandbox fault")
            if fault == "429":
                return self.rate_limited(1.0)
            if fault == "timeout":
                raise SandboxTimeout()
            if fault == "drop":
                raise SandboxDrop(committed=False)
            response = self.dispatch(request)
            if fault == "commit_then_drop":
                raise SandboxDrop(committed=True)
            return response

    def dispatch(self, request: SandboxRequest) -> SandboxResponse:
        allowed = False
        for method, pattern, handler in self._compiled:
            match = pattern.match(request.path)
            if not match:
                continue
            if method != request.method:
                allowed = True
                continue
            try:
                return getattr(self, handler)(request, **match.groupdict())
            except JsonError as exc:
                return exc.response
            except json.JSONDecodeError:
                return self.invalid_json()
        if allowed:
            return self.error(405, f"Request method '{request.method}' is not supported")
        return self.unknown_route(request)
