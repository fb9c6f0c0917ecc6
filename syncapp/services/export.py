"""Change records as CSV or JSON, streamed.

Rows come from `.values().iterator(chunk_size=CHUNK_ROWS)` and leave as text chunks of
about CHUNK_BYTES (32 KB), so an export of any size holds one chunk of rows in memory, never
the whole output. JSON is written incrementally (`{"meta": …, "changes": [` row, row, … `]}`).

Spreadsheets run cells that begin with = + - @ as formulas; such cells (and cells
beginning with ') get a leading ' in the CSV. `read_csv` undoes it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.utils import timezone

from syncapp.models import ChangeRecord

COLUMNS = ("id", "run_id", "created_at", "kind", "action", "outcome", "name",
           "notion_page_id", "clockify_id", "reason", "error", "fields")
CHUNK_ROWS = 100  # rows per database fetch: memory is a few hundred KB at most
CHUNK_BYTES = 32 * 1024  # bytes per chunk handed to the server
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


# -- what to export ---------------------------------------------------------------------------
def for_run(run_id: int) -> QuerySet[ChangeRecord]:
    return ChangeRecord.objects.filter(run_id=run_id)


def local_day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the current time zone."""
    lower = timezone.make_aware(datetime.combine(start, time.min))
    upper = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min))
    return lower, upper


def between(start: date, end: date, *, include_dry_runs: bool = False
            ) -> QuerySet[ChangeRecord]:
    """Records created on days start…end (inclusive, local time); dry-run plans left out."""
    lower, upper = local_day_bounds(start, end)
    records = ChangeRecord.objects.filter(created_at__gte=lower, created_at__lt=upper)
    if not include_dry_runs:
        records = records.filter(run__dry_run=False)
    return records


def rows(queryset: QuerySet[ChangeRecord]) -> Iterator[dict]:
    """Plain dicts, fetched in chunks: memory stays bounded whatever the count."""
    for row in (queryset.order_by("id").values(*COLUMNS)
                .iterator(chunk_size=CHUNK_ROWS)):
        row["created_at"] = row["created_at"].isoformat()
        yield row


def _chunked(pieces: Iterable[str]) -> Iterator[str]:
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


# -- CSV --------------------------------------------------------------------------------------
def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, cls=DjangoJSONEncoder)
    value = str(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_lines(queryset: QuerySet[ChangeRecord]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(COLUMNS)
    for row in rows(queryset):
        yield line([_cell(row[c]) for c in COLUMNS])


def csv_stream(queryset: QuerySet[ChangeRecord]) -> Iterator[str]:
    return _chunked(csv_lines(queryset))


def read_csv(text: str) -> list[dict]:
    """Parse an export back: ids as numbers, `fields` as JSON, the formula guard removed."""
    records = []
    for raw in csv.DictReader(io.StringIO(text)):
        row = {k: (v[1:] if v.startswith("'") else v) for k, v in raw.items()}
        row["id"] = int(row["id"])
        row["run_id"] = int(row["run_id"])
        row["fields"] = json.loads(row["fields"]) if row["fields"] else {}
        records.append(row)
    return records


# -- JSON -------------------------------------------------------------------------------------
def json_pieces(queryset: QuerySet[ChangeRecord], meta: dict) -> Iterator[str]:
    yield '{"meta": ' + json.dumps(meta, cls=DjangoJSONEncoder) + ', "changes": ['
    first = True
    for row in rows(queryset):
        yield ("\n" if first else ",\n") + json.dumps(row, ensure_ascii=False,
                                                      cls=DjangoJSONEncoder)
        first = False
    yield "\n]}\n"


def json_stream(queryset: QuerySet[ChangeRecord], meta: dict) -> Iterator[str]:
    return _chunked(json_pieces(queryset, meta))
