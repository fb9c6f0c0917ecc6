"""Log lines that say which run they belong to, as plain text or one JSON object a line.

A sync binds its run id for as long as it runs (in its own thread or task); every log
record made meanwhile carries it, whichever module logs. LOG_FORMAT=json suits log
shippers: one event, one line, tracebacks included.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_run_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("sync_run_id", default=None)


@contextmanager
def bound_run(run_id: int) -> Iterator[None]:
    """Log records made inside carry `run_id`."""
    token = _run_id.set(run_id)
    try:
        yield
    finally:
        _run_id.reset(token)


class RunIdFilter(logging.Filter):
    """Adds `run_id` to every record ("-" outside a run), for both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = _run_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", "-"),
        }
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=str)
