"""Keyset pagination for the long dashboard lists (runs, a run's change records).

An OFFSET page makes the database walk past every row before it, so page 400 of a big run
costs 400 pages of reading. A keyset page starts from the last row the person saw
(`?after=<cursor>`) or the first (`?before=<cursor>`), through the index that serves the
ordering, so every page costs the same. The cursor is the row's ordering values, joined by
"_" (datetimes as ISO 8601); a cursor that does not parse shows the first page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.http import HttpRequest


@dataclass
class KeysetPage:
    object_list: list
    count: int
    next_cursor: str = ""
    previous_cursor: str = ""
    first: bool = True  # the first page: no "Newest / first" link needed

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_cursor or self.previous_cursor or not self.first)


def _value(obj, field: str):
    return getattr(obj, field.lstrip("-"))


def cursor_for(obj, ordering: tuple[str, ...]) -> str:
    parts = []
    for field in ordering:
        value = _value(obj, field)
        parts.append(value.isoformat() if isinstance(value, datetime) else str(value))
    return "_".join(parts)


def _parse(cursor: str, ordering: tuple[str, ...], model) -> list | None:
    parts = cursor.split("_")
    if len(parts) != len(ordering):
        return None
    values = []
    try:
        for field, text in zip(ordering, parts, strict=True):
            values.append(model._meta.get_field(field.lstrip("-")).to_python(text))
    except Exception:  # noqa: BLE001 - any malformed cursor means "first page"
        return None
    return values if all(v is not None for v in values) else None


def _beyond(ordering: tuple[str, ...], values: list, forward: bool) -> Q:
    """Rows after (forward) or before the cursor in this ordering. The leading field also
    gets a plain range (<= / >=) so the index scan starts at the cursor, not at the top."""
    def op(field: str, strict: bool) -> str:
        descending = field.startswith("-")
        smaller = descending == forward
        return ("lt" if smaller else "gt") + ("" if strict else "e")

    names = [f.lstrip("-") for f in ordering]
    condition = Q()
    for i in range(len(ordering)):
        equal = {names[j]: values[j] for j in range(i)}
        condition |= Q(**equal, **{f"{names[i]}__{op(ordering[i], True)}": values[i]})
    lead = Q(**{f"{names[0]}__{op(ordering[0], False)}": values[0]})
    return lead & condition


def _reverse(ordering: tuple[str, ...]) -> list[str]:
    return [f[1:] if f.startswith("-") else f"-{f}" for f in ordering]


def page(request: HttpRequest, queryset: QuerySet, ordering: tuple[str, ...],
         size: int) -> KeysetPage:
    """One page of `queryset` in `ordering` (whose last field must be unique, e.g. id)."""
    model = queryset.model
    after = _parse(request.GET.get("after", ""), ordering, model)
    before = None if after else _parse(request.GET.get("before", ""), ordering, model)
    count = queryset.order_by().count()
    if before is not None:
        rows = list(queryset.filter(_beyond(ordering, before, False))
                    .order_by(*_reverse(ordering))[:size + 1])
        more_before = len(rows) > size
        rows = rows[:size][::-1]
        result = KeysetPage(rows, count, first=not more_before)
        result.previous_cursor = cursor_for(rows[0], ordering) if more_before else ""
        result.next_cursor = cursor_for(rows[-1], ordering) if rows else ""
        return result
    chosen = queryset.filter(_beyond(ordering, after, True)) if after else queryset
    rows = list(chosen.order_by(*ordering)[:size + 1])
    more = len(rows) > size
    rows = rows[:size]
    result = KeysetPage(rows, count, first=after is None)
    result.next_cursor = cursor_for(rows[-1], ordering) if more else ""
    result.previous_cursor = cursor_for(rows[0], ordering) if after and rows else ""
    return result
