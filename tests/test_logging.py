"""Log lines carry the run they belong to; LOG_FORMAT=json gives one JSON object a line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from syncapp.logcontext import JsonFormatter, RunIdFilter
from syncapp.models import RunStatus
from syncapp.sandbox import ids
from tests.syncing import sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log():
    """The root logger's output through the JSON formatter, as LOG_FORMAT=json sets it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RunIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_each_log_event_is_one_json_line_with_the_run_id(sandbox, json_log):
    sandbox.notion.create_page(ids.CLIENTS_DATA_SOURCE_ID, {"Name": "Acme"})
    sandbox.clockify.faults.configure(rate=1.0, kinds=("503",))
    run = sync()
    assert run.status == RunStatus.FAILED
    logging.getLogger("syncapp.test").error("after the run", exc_info=ValueError("boom"))
    events = [json.loads(line) for line in json_log.getvalue().splitlines()]
    during = [e for e in events if e["logger"] == "syncapp.services.sync"]
    assert during and all(e["run_id"] == run.pk for e in during)
    assert any("Reading clients failed" in e["message"] for e in during)
    after = events[-1]
    assert after["run_id"] == "-" and "ValueError: boom" in after["exception"]
    assert ids.CLOCKIFY_API_KEY not in json_log.getvalue()


def test_the_plain_format_names_the_run_too(settings):
    plain = settings.LOGGING["formatters"]["plain"]["format"]
    record = logging.LogRecord("syncapp", logging.INFO, __file__, 1, "hello", None, None)
    RunIdFilter().filter(record)
    assert logging.Formatter(plain).format(record).endswith("run=- hello")
