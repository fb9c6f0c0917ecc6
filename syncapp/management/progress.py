"""Progress of a long command, as a person at a terminal or a cron log wants it.

On a terminal one status line is redrawn every second: phase, records per kind, API calls,
time spent waiting for rate limits, and an estimate of the time left while changes are
applied. Anywhere else (cron, a log file) a plain line is written at each new phase and
every `every` seconds, so a log shows the run moving without a line per second.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from syncapp.services.sync import Progress


def describe(progress: Progress, elapsed: float) -> str:
    """One line: what is happening, how far, what it cost, how long is left."""
    parts = [progress.phase or "Starting"]
    for kind, counts in progress.counts.items():
        done = sum(v for k, v in counts.items() if k != "read_failed")
        if done:
            parts.append(f"{kind}s {done}")
    calls = " ".join(f"{service} {c.get('total', 0)}"
                     for service, c in progress.api_calls.items())
    if calls:
        parts.append(f"API calls: {calls}")
    waited = sum(c.get("waited_seconds", 0) for c in progress.api_calls.values())
    limited = sum(c.get("rate_limited", 0) for c in progress.api_calls.values())
    if waited >= 1 or limited:
        parts.append(f"waited {waited:.0f} s for rate limits" + (f" ({limited}× 429)"
                                                                  if limited else ""))
    parts.append(f"{elapsed:.0f} s")
    if progress.total and progress.done:
        parts.append(f"{progress.done}/{progress.total} changes")
    return " · ".join(parts)


def estimate_left(progress: Progress, phase_elapsed: float) -> str:
    if not progress.total or not progress.done or progress.done >= progress.total:
        return ""
    left = phase_elapsed / progress.done * (progress.total - progress.done)
    return f" · about {left:.0f} s left for this kind"


class ProgressReporter:
    """Receives Progress from the run (its on_progress hook) and shows it."""

    def __init__(self, stream: TextIO, *, terminal: bool, every: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream  # written as is: no newline added
        self.terminal = terminal
        self.every = every
        self.clock = clock
        self.started = clock()
        self.latest: Progress | None = None
        self._phase_started = self.started
        self._printed_at = float("-inf")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, progress: Progress) -> None:
        with self._lock:
            new_phase = self.latest is None or progress.phase != self.latest.phase
            if new_phase:
                self._phase_started = self.clock()
            self.latest = progress
        if new_phase or not self.terminal:
            self._show(force=new_phase)

    def _line(self) -> str:
        now = self.clock()
        with self._lock:
            progress = self.latest
            phase_elapsed = now - self._phase_started
        if progress is None:
            return f"Starting · {now - self.started:.0f} s"
        return describe(progress, now - self.started) + estimate_left(progress, phase_elapsed)

    def _show(self, force: bool = False) -> None:
        now = self.clock()
        if self.terminal:
            self.stream.write("\r\033[K" + self._line())
        elif force or now - self._printed_at >= self.every:
            self.stream.write(self._line() + "\n")
        else:
            return
        self._printed_at = now
        self.stream.flush()

    # -- a terminal's line is redrawn every second, even while a long read is under way --------
    def __enter__(self) -> ProgressReporter:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(1.0 if self.terminal else self.every):
            self._show()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self.terminal:
            self.stream.write("\r\033[K")
            self.stream.flush()


@contextmanager
def stop_on_ctrl_c(say: Callable[[str], None]) -> Iterator[threading.Event]:
    """The first Ctrl-C asks the run to stop at its next safe point; a second stops at once."""
    requested = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame) -> None:
        if requested.is_set():
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        requested.set()
        say("\nStopping at the next safe point (between two changes); Ctrl-C again stops "
            "at once.")

    if threading.current_thread() is not threading.main_thread():
        yield requested  # signals reach the main thread only (e.g. call_command in a thread)
        return
    signal.signal(signal.SIGINT, handler)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)
