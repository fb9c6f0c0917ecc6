"""Per-kind counts of a run, in the columns people read."""

from __future__ import annotations

from collections.abc import Iterable

from syncapp.models import KIND_ORDER, SyncRun


def summary_rows(run: SyncRun, columns: Iterable[str]) -> list[tuple[str, dict[str, int]]]:
    columns = tuple(columns)
    rows = []
    for kind in KIND_ORDER:
        counts = run.counts.get(kind, {})
        row = {c: int(counts.get(c, 0)) for c in columns}
        if "updated" in row:  # write-backs to Notion are updates too, seen from the user
            row["updated"] += int(counts.get("written_back", 0))
        rows.append((kind, row))
    return rows
