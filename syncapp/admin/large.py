"""Admin changelists over the big tables (change records, runs, webhook deliveries, time
entries) that cost the same at 100,000 rows as at 100.

What makes a stock changelist slow at that size, and what replaces it here:
- two exact COUNT(*)s per page (the filtered count and "N total"): `show_full_result_count`
  is off, and on PostgreSQL an unfiltered list takes the planner's estimate
  (pg_class.reltuples) instead of counting, above ESTIMATE_ABOVE rows;
- `date_hierarchy`, which groups the whole table by year or month (a full scan through a
  function per row on SQLite): a date filter in the sidebar instead, which costs no query;
- `icontains` search over several text columns (a full scan, twice): exact matches on
  indexed id columns instead (`search_help_text` says which);
- 100 rows to render: 50.
Deep pages (?p=500) keep OFFSET, but over the ids alone, walked along the index of the
list's ordering (EstimatedCountPaginator.page).
"""

from __future__ import annotations

from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q

ESTIMATE_ABOVE = 10_000  # rows; below this PostgreSQL counts exactly (cheap, and exact)


class EstimatedCountPaginator(Paginator):
    """An unfiltered list on PostgreSQL is counted from pg_class.reltuples when that says
    there are more than ESTIMATE_ABOVE rows (exact below, or when never analysed), in one
    query either way. Filtered lists, and SQLite, count exactly."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor != "postgresql" or queryset.query.where:
            return super().count
        table = queryset.model._meta.db_table
        with connection.cursor() as cursor:
            # The CASE runs the COUNT(*) subquery only when the estimate is small.
            cursor.execute(
                f'SELECT CASE WHEN c.reltuples >= %s THEN c.reltuples::bigint '  # noqa: S608
                f'ELSE (SELECT COUNT(*) FROM "{table}") END '
                "FROM pg_class c WHERE c.oid = %s::regclass",
                [ESTIMATE_ABOVE, table])
            return int(cursor.fetchone()[0])


    def page(self, number):
        """A page by "deferred join": the page's ids first, walked along the ordering's
        index without reading the rows (OFFSET 100,000 through an index is several times
        cheaper than through the table), then those rows: one query more than page 1,
        which (like a list on one page, that the admin reads without a paginator) is one."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if not bottom:
            return super().page(number)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:bottom + self.per_page])
        return self._get_page(list(self.object_list.filter(pk__in=ids)), number, self)


def id_variants(text: str) -> set[str]:
    """A Notion ID as typed, and with or without its dashes (the dashboard's rule)."""
    from syncapp.views.runs import id_variants as variants

    return variants(text)


class LargeTableAdmin(admin.ModelAdmin):
    """A changelist for a big table: no full count, estimated count, indexed search."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # Rendering a row costs the admin about a millisecond (a cell per column, each through
    # display_for_field): 50 rows, not 100, keep a page well inside its time.
    list_per_page = 50
    # Exact-match search: field -> "id" (as typed), "notion" (with or without dashes) or
    # "number" (digits only). Each field has an index.
    exact_search: dict[str, str] = {}

    def get_search_fields(self, request):
        if not self.exact_search:
            return super().get_search_fields(request)
        return tuple(self.exact_search)  # shows the search box

    def get_search_results(self, request, queryset, search_term):
        if not self.exact_search:
            return super().get_search_results(request, queryset, search_term)
        text = search_term.strip()
        if not text:
            return queryset, False
        condition = Q(pk__in=[])
        for field, how in self.exact_search.items():
            if how == "number":
                if text.isdigit() and len(text) <= 18:  # fits a bigint
                    condition |= Q(**{field: int(text)})
            elif how == "notion":
                condition |= Q(**{f"{field}__in": sorted(id_variants(text))})
            else:
                condition |= Q(**{field: text})
        return queryset.filter(condition), False
