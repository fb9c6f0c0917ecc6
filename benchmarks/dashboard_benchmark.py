"""Dashboard benchmark: every dashboard page and admin changelist at issue 11's sizes.

Fills 100,000 change records, 5,000 runs, 50,000 webhook deliveries, 100,000 time entries
(and 11,200 mappings, 200 review items) into a throwaway database, then requests each page
through Django's test client as a logged-in staff user, N times after one warm-up request,
and prints the SQL queries of one request and the p50 / p95 / max wall time per page, with
PASS/FAIL against ≤ 12 queries and p95 < 150 ms.

The database is a temporary SQLite file, or, when DATABASE_URL points at PostgreSQL, a
throwaway `test_<name>` database created next to it and dropped at the end (as the test
runner does). A measuring tool, not a test: it exits 0 unless it crashes.

    make benchmark-dashboard                      # SQLite, then PostgreSQL if DATABASE_URL
    .venv/bin/python benchmarks/dashboard_benchmark.py --repeat 50 --scale 0.1
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_QUERIES = 12
P95_MS = 150.0


def setup_django(tmp: Path, reuse: Path | None = None) -> str:
    """Settings on a throwaway database (or `reuse`); returns a description of it."""
    os.environ["SANDBOX"] = "true"
    os.environ["DEBUG"] = "false"
    os.environ["VAR_DIR"] = str(tmp)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "syncsite.settings"
    url = os.environ.get("DATABASE_URL", "")
    postgres = url.startswith(("postgres://", "postgresql://"))
    sqlite_file = reuse or tmp / "dashboard.sqlite3"
    if not postgres:
        os.environ["DATABASE_URL"] = f"sqlite:///{sqlite_file}"
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    if postgres:
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        atexit.register(connection.creation.destroy_test_db, name, verbosity=0)
        return f"PostgreSQL {connection.pg_version // 10000} (throwaway database {name})"
    call_command("migrate", verbosity=0, interactive=False)
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version} ({sqlite_file})"


def fill(scale: float):
    from django.db import connection
    from django.utils import timezone

    from syncapp.services import activity
    from tests.dashboard_scale import Sizes, fill

    full = Sizes.issue11()
    sizes = Sizes(**{k: max(10, int(v * scale)) if isinstance(v, int) else v
                     for k, v in full.__dict__.items()})
    started = time.perf_counter()
    filled = fill(sizes, timezone.now())
    activity.backfill()  # what migration 0015 does on an existing install
    with connection.cursor() as cursor:
        # Planner statistics, and on PostgreSQL the visibility map that lets an index-only
        # scan skip the table: what autovacuum keeps on a table that has been there a while.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return filled, time.perf_counter() - started


def refilled():
    """What fill() returned, read back from a database filled earlier (--reuse)."""
    from django.db.models import Count

    from syncapp.models import ChangeRecord, EntityMapping, SyncRun, TimeEntry, WebhookDelivery
    from tests.dashboard_scale import Filled, Sizes

    big = SyncRun.objects.annotate(n=Count("changes")).order_by("-n").first()
    mappings = EntityMapping.objects.order_by("id")
    sample = mappings[mappings.count() // 2]
    sizes = Sizes(records=ChangeRecord.objects.count(), runs=SyncRun.objects.count(),
                  deliveries=WebhookDelivery.objects.count(), entries=TimeEntry.objects.count(),
                  mappings=mappings.count())
    return Filled(big_run=big, sizes=sizes, sample_notion_id=sample.notion_page_id,
                  sample_name=sample.name)


def pages(filled) -> list[tuple[str, str]]:
    """(label, URL) of every page measured: plain, filtered, searched and deep."""
    from urllib.parse import quote

    from django.urls import reverse

    from syncapp.models import ChangeRecord, SyncRun, TimeEntry, WebhookDelivery
    from syncapp.views.keyset import cursor_for

    big = filled.big_run
    detail = reverse("run-detail", args=[big.pk])
    deep_record = ChangeRecord.objects.filter(run=big).order_by("id").values_list(
        "id", flat=True)[max(0, filled.sizes.records // 10 * 2 - 60)]
    runs = SyncRun.objects.order_by("-started_at", "-id")
    deep_run = runs[int(filled.sizes.runs * 0.9)]
    from syncapp.admin.large import LargeTableAdmin

    per_page = LargeTableAdmin.list_per_page
    deep_p = {model: max(1, model.objects.count() // per_page - 2)  # the last pages
              for model in (ChangeRecord, SyncRun, WebhookDelivery, TimeEntry)}
    admin = "/admin/syncapp/"
    return [
        ("overview", reverse("overview")),
        ("runs", reverse("run-list")),
        ("runs: failed", reverse("run-list") + "?status=failed"),
        ("runs: with idle polls", reverse("run-list") + "?idle=1"),
        ("runs: deep page (keyset)", reverse("run-list") + "?idle=1&after="
         + quote(cursor_for(deep_run, ("-started_at", "-id")))),
        ("run detail (20k records)", detail),
        ("run detail: task, applied", detail + "?kind=task&outcome=applied"),
        ("run detail: search name", detail + f"?q={filled.sample_name}"),
        ("run detail: search Notion id", detail + f"?q={filled.sample_notion_id}"),
        ("run detail: deep page (keyset)", detail + f"?after={deep_record}"),
        ("mappings", reverse("mapping-list")),
        ("mappings: tasks, search", reverse("mapping-list") + "?kind=task&q=Task 77"),
        ("mappings: page 100", reverse("mapping-list") + "?page=100"),
        ("review console", reverse("review-list")),
        ("time report (this month)", reverse("time-report")),
        ("admin: change records", admin + "changerecord/"),
        ("admin: change records, search", admin + f"changerecord/?q={filled.sample_notion_id}"),
        ("admin: change records, failed", admin + "changerecord/?outcome__exact=failed"),
        ("admin: change records, deep", admin + f"changerecord/?p={deep_p[ChangeRecord]}"),
        ("admin: runs", admin + "syncrun/"),
        ("admin: runs, deep", admin + f"syncrun/?p={deep_p[SyncRun]}"),
        ("admin: webhook deliveries", admin + "webhookdelivery/"),
        ("admin: deliveries, search", admin + "webhookdelivery/?q=ev00000000000000000004d2"),
        ("admin: deliveries, deep", admin + f"webhookdelivery/?p={deep_p[WebhookDelivery]}"),
        ("admin: time entries", admin + "timeentry/"),
        ("admin: time entries, search", admin + "timeentry/?q=te00000000000000000004d2"),
        ("admin: time entries, deep", admin + f"timeentry/?p={deep_p[TimeEntry]}"),
    ]


def measure(client, url: str, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up: caches, the configuration check
    assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    sql = [q["sql"] for q in captured.captured_queries]  # the next request resets the log
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    p95 = times[min(len(times) - 1, max(0, int(round(0.95 * len(times))) - 1))]
    return {"queries": len(sql), "p50": statistics.median(times), "p95": p95,
            "max": times[-1], "sql": sql}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, metavar="N",
                        help="timed requests per page (after one warm-up)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="table sizes relative to issue 11's (e.g. 0.1)")
    parser.add_argument("--only", default="", help="measure only pages whose label has this")
    parser.add_argument("--show-sql", action="store_true", help="print each page's queries")
    parser.add_argument("--reuse", type=Path, metavar="FILE",
                        help="SQLite only: fill FILE once and keep it; later runs reuse it")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="dashboard-benchmark-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    reusing = bool(args.reuse and args.reuse.exists())
    where = setup_django(tmp, args.reuse)
    from django.contrib.auth import get_user_model
    from django.test import Client

    filled, seconds = (refilled(), 0.0) if reusing else fill(args.scale)
    s = filled.sizes
    print(f"Dashboard benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}, {where}")
    print(f"Filled {s.records:,} change records, {s.runs:,} runs, {s.deliveries:,} webhook "
          f"deliveries, {s.entries:,} time entries, {s.mappings:,} mappings in {seconds:.0f} s; "
          f"{args.repeat} timed requests per page after one warm-up")
    # One connection for the whole run, as the test runner does: the capture of a request's
    # queries needs it, and the figures measure the pages, not connecting.
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True})
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    print(f"\n{'page':<34} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  verdict")
    failed = 0
    for label, url in pages(filled):
        if args.only and args.only not in label:
            continue
        result = measure(client, url, args.repeat)
        ok = result["queries"] <= MAX_QUERIES and result["p95"] < P95_MS
        failed += not ok
        print(f"{label:<34} {result['queries']:>7} {result['p50']:>8.1f} {result['p95']:>8.1f} "
              f"{result['max']:>8.1f}  {'PASS' if ok else 'FAIL'}")
        if args.show_sql:
            for sql in result["sql"]:
                print(f"      {sql[:400]}")
        sys.stdout.flush()
    print(f"\nTargets: ≤ {MAX_QUERIES} queries and p95 < {P95_MS:.0f} ms per page: "
          f"{'all met' if not failed else f'{failed} page(s) FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
