"""Sync benchmark: the product's real sync against the in-process emulators, at scale.

Run by hand, not a test:

    make benchmark                                   # full scale, ~2-5 minutes
    SANDBOX=true .venv/bin/python benchmarks/sync_benchmark.py --scale 0.1 --skip-rate-limited
    SANDBOX=true .venv/bin/python benchmarks/sync_benchmark.py --json

It builds 200 clients / 1,000 projects / 10,000 tasks (times --scale) in the Notion
emulator, runs `syncapp.services.sync.run_sync` for six scenarios on a throwaway SQLite
database and prints, per scenario, the API calls and writes per service, wall time, memory
and the target with PASS/FAIL. It always exits 0 (it measures; it does not judge) unless it
crashes.

Only the socket is replaced: the product's own `requests`-based clients run unchanged, with
the emulators mounted on every session they create through
`syncapp.clients.http.SESSION_HOOKS` (as the tests' `sandbox` fixture does). Client options
(throttle, sleep) are injected through `syncapp.services.connections.CLIENT_DEFAULTS`.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import gc
import json
import math
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = {"clients": 200, "projects": 1000, "tasks": 10_000}
NOTION_PAGE = 100  # Notion's maximum page_size
CLOCKIFY_PAGE = 5000  # Clockify's maximum page-size
MEMORY_TARGET_MB = 250
NOTION_RATE = 3  # requests per second, Notion's documented average
PRODUCTION_NOTION_THROTTLE = 2.9  # the default of NOTION_REQUESTS_PER_SECOND in production
# The emulators' clock runs this far behind during seeding and the initial sync, then
# catches up: as if the later runs happened this long after the initial sync. Without it,
# the initial sync's write-backs of the last minute or two fall inside the incremental
# read's one-minute overlap (Notion stamps edits to the minute) and scenario 3 would
# measure "a poll right after a 11,200-page write-back", not an idle poll.
IDLE_GAP_SECONDS = 15 * 60


# --------------------------------------------------------------------------------------------
# Django on a throwaway database
# --------------------------------------------------------------------------------------------
def setup_django(tmp: Path) -> None:
    os.environ["SANDBOX"] = "true"
    os.environ["DEBUG"] = "false"  # DEBUG would keep every SQL query in memory
    os.environ["VAR_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'benchmark.sqlite3'}"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "syncsite.settings"
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def code_version() -> str:
    """Where the measured syncapp comes from, and its commit (dirty: uncommitted edits)."""
    import subprocess

    import syncapp

    where = str(Path(syncapp.__file__).resolve().parent)
    git = shutil.which("git")
    if not git:
        return where
    try:
        commit = subprocess.run([git, "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run([git, "-C", str(ROOT), "status", "--porcelain", "syncapp"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return where
    return f"{where} at {commit}" + (" with uncommitted changes" if dirty else "")


class SimClock:
    """time.time() minus an offset that can be dropped to 0 (time 'passes' at once)."""

    def __init__(self, behind: float) -> None:
        self.behind = behind

    def __call__(self) -> float:
        return time.time() - self.behind


class GcTimer:
    """Time spent in the cyclic garbage collector (it grows with what the run keeps alive)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections: Counter[int] = Counter()
        self._started = 0.0
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info.get("generation", -1)] += 1


class SqlCounter:
    """Counts SQL statements by verb (a cheap execute_wrapper, DEBUG stays off)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.counts[sql.lstrip().split(None, 1)[0].upper()] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------
def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Linux: reset VmHWM so each scenario gets its own peak. False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident set since the last reset (VmHWM), else the process's ru_maxrss."""
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm / 1024
    return process_max_rss_mb()


def process_max_rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / (1024 * 1024) if sys.platform == "darwin" else usage / 1024


def rss_mb() -> float:
    kb = _status_kb("VmRSS")
    return kb / 1024 if kb is not None else float("nan")


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    passed: bool
    detail: str


@dataclass
class Scenario:
    key: str
    title: str
    calls: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=dict)
    by_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    sql: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    emulator_seconds: float = 0.0
    http_seconds: float = 0.0
    sql_seconds: float = 0.0
    gc_seconds: float = 0.0
    gc_full_collections: int = 0
    walls: list[float] = field(default_factory=list)
    timings: list[tuple[float, ...]] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    traced_peak_mb: float | None = None
    status: str = ""
    counts: dict = field(default_factory=dict)
    minimum: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def target(self, name: str, passed: bool, detail: str) -> None:
        self.targets.append(Target(name, bool(passed), detail))

    def keep_best(self) -> None:
        """After repeats: report the fastest run's timings (wall, emulators, HTTP, SQL, GC)."""
        (self.wall, self.emulator_seconds, self.http_seconds, self.sql_seconds,
         self.gc_seconds) = min(self.timings)

    def failed_records(self) -> int:
        return sum(c.get("failed", 0) for c in self.counts.values())

    def as_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "targets"}
        out["targets"] = [t.__dict__ for t in self.targets]
        return out


def is_write(service: str, method: str, path: str) -> bool:
    if method not in {"POST", "PUT", "PATCH", "DELETE"}:
        return False
    return not (service == "notion" and method == "POST" and path.rstrip("/").endswith("/query"))


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        from django.conf import settings
        from django.db import connection

        from syncapp.clients import http
        from syncapp.sandbox.transport import EmulatorAdapter
        from syncapp.sandbox.workspace import Sandbox
        from syncapp.services import connections

        self.args = args
        self.sizes = {k: max(1, round(v * args.scale)) for k, v in FULL.items()}
        self.entities = sum(self.sizes.values())
        self.clock = SimClock(IDLE_GAP_SECONDS)
        self.box = Sandbox(clock=self.clock)
        root = settings.SANDBOX_URL
        self.transport_seconds = 0.0  # inside the emulators and the in-process transport
        self.http_seconds = 0.0  # inside the product's ApiClient.request (emulators included)

        def hook(session) -> None:
            self.box.mount(session, root)
            for adapter in session.adapters.values():
                if isinstance(adapter, EmulatorAdapter):
                    adapter.send = self._timed(adapter.send)

        http.SESSION_HOOKS.append(hook)
        self.connections = connections
        self.sleeps: list[float] = []
        self.fast_clients()
        self.sql = SqlCounter()
        self.gc = GcTimer()
        connection.execute_wrappers.append(self.sql)  # for the whole process
        self.results: list[Scenario] = []
        self.max_rss_mb = process_max_rss_mb()  # VmHWM resets also reset ru_maxrss
        self.no_change_wall: float | None = None
        self.per_page_rss_mb = 0.0

    def _timed(self, send):
        def timed_send(*args, **kwargs):
            started = time.perf_counter()
            try:
                return send(*args, **kwargs)
            finally:
                self.transport_seconds += time.perf_counter() - started
        return timed_send

    # -- profiling -------------------------------------------------------------------------------
    def save_profile(self, scenario: Scenario, profiler: cProfile.Profile) -> None:
        directory = Path(self.args.profile)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{scenario.key}.prof"
        profiler.dump_stats(path)
        stats = pstats.Stats(profiler).stats  # {(file, line, func): (cc, nc, tt, ct, callers)}
        areas: Counter[str] = Counter()
        product = []
        for (filename, line, func), (_cc, calls, tt, ct, _callers) in stats.items():
            area = _area(filename, func)
            areas[area] += tt
            if area == "product (syncapp)":
                short = filename.split("/syncapp/", 1)[1]
                product.append((tt, ct, calls, f"syncapp/{short}:{line} {func}"))
        product.sort(reverse=True)
        scenario.extra["profile"] = {
            "file": str(path),
            "self_time_by_area": {k: round(v, 2) for k, v in areas.most_common()},
            "top_product_self_time": [
                {"function": name, "self_s": round(tt, 3), "cum_s": round(ct, 3),
                 "calls": calls} for tt, ct, calls, name in product[:10]],
        }

    def clients(self, notion=None, clockify=None):
        """The product's clients, as run_sync would build them, with request() timed."""
        notion = notion or self.connections.notion_client()
        clockify = clockify or self.connections.clockify_client()
        for client in (notion, clockify):
            client.request = self._timed_request(client.request)
        return notion, clockify

    def _timed_request(self, request):
        def timed_request(*args, **kwargs):
            started = time.perf_counter()
            try:
                return request(*args, **kwargs)
            finally:
                self.http_seconds += time.perf_counter() - started
        return timed_request

    # -- client options -----------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        time.sleep(seconds)  # real: a retry or throttle wait is part of the wall time

    def fast_clients(self) -> None:
        """The emulators are local: no client-side throttle (the sleeps stay real)."""
        self.connections.CLIENT_DEFAULTS.clear()
        self.connections.CLIENT_DEFAULTS.update(
            {"rate": 1e9, "burst": 1_000_000, "sleep": self._sleep})

    # -- seeding ----------------------------------------------------------------------------------
    def seed(self) -> dict:
        from syncapp.sandbox.demo import seed_scale

        before = rss_mb()
        started = time.perf_counter()
        seed_scale(self.box, **self.sizes)
        seconds = time.perf_counter() - started
        after = rss_mb()
        return {"seconds": seconds, "rss_before_mb": before, "rss_after_mb": after}

    # -- measuring one sync ------------------------------------------------------------------------
    def measure(self, scenario: Scenario, action) -> object:
        for emulator in (self.box.notion, self.box.clockify):
            emulator.reset_calls()
        self.sql.counts.clear()
        self.sql.seconds = 0.0
        self.sleeps.clear()
        self.transport_seconds = 0.0
        self.http_seconds = 0.0
        self.gc.seconds = 0.0
        self.gc.collections.clear()
        reset_peak_rss()
        if self.args.tracemalloc:
            tracemalloc.start()
        profiler = cProfile.Profile() if self.args.profile else None
        started = time.perf_counter()
        try:
            if profiler:
                profiler.enable()
            result = action()
        finally:
            if profiler:
                profiler.disable()
            scenario.wall = time.perf_counter() - started
            scenario.walls.append(round(scenario.wall, 3))
            scenario.emulator_seconds = self.transport_seconds
            scenario.http_seconds = self.http_seconds
            if profiler:
                self.save_profile(scenario, profiler)
            if self.args.tracemalloc:
                scenario.traced_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
            scenario.peak_rss_mb = peak_rss_mb()
            self.max_rss_mb = max(self.max_rss_mb, scenario.peak_rss_mb)
            scenario.sql = dict(self.sql.counts)
            scenario.sql_seconds = self.sql.seconds
            scenario.gc_seconds = self.gc.seconds
            scenario.gc_full_collections = self.gc.collections[2]
            scenario.timings.append((scenario.wall, scenario.emulator_seconds,
                                     scenario.http_seconds, scenario.sql_seconds,
                                     scenario.gc_seconds))
            for service, emulator in (("notion", self.box.notion),
                                      ("clockify", self.box.clockify)):
                endpoints: Counter[str] = Counter()
                writes = 0
                for method, path in emulator.calls:
                    endpoints[f"{method} {_template(path)}"] += 1
                    writes += is_write(service, method, path)
                scenario.calls[service] = len(emulator.calls)
                scenario.writes[service] = writes
                scenario.by_endpoint[service] = dict(endpoints.most_common())
            if self.sleeps:
                scenario.extra["client_sleeps"] = {"count": len(self.sleeps),
                                                   "seconds": round(sum(self.sleeps), 2)}
        return result

    def sync(self, scenario: Scenario, *, mode: str = "full", notion=None, clockify=None):
        from syncapp.services.sync import SyncOptions, run_sync

        options = SyncOptions(trigger="command", mode=mode, triggered_by="benchmark")
        notion, clockify = self.clients(notion, clockify)
        run = self.measure(scenario, lambda: run_sync(options, notion=notion, clockify=clockify))
        scenario.status = run.status
        scenario.counts = {k: dict(v) for k, v in (run.counts or {}).items()}
        scenario.retries = {s: c.get("retries", 0) for s, c in (run.api_calls or {}).items()}
        product = {s: c.get("total", 0) for s, c in (run.api_calls or {}).items()}
        if product != scenario.calls:
            scenario.notes.append(f"the product counted {product} calls "
                                  f"(emulators saw {scenario.calls})")
        if run.error_summary:
            scenario.notes.append("errors: " + run.error_summary.replace("\n", " | ")[:300])
        return run

    # -- minimums from the documented APIs ---------------------------------------------------------
    def notion_read_minimum(self) -> int:
        return sum(math.ceil(n / NOTION_PAGE) for n in self.sizes.values())

    def clockify_read_minimum(self) -> int:
        return (math.ceil(self.sizes["clients"] / CLOCKIFY_PAGE)
                + math.ceil(self.sizes["projects"] / CLOCKIFY_PAGE) + self.sizes["projects"])

    def read_minimum_notes(self, scenario: Scenario) -> None:
        s = self.sizes
        parts = " + ".join(str(math.ceil(n / NOTION_PAGE)) for n in s.values())
        scenario.minimum["notion"] = (f"{self.notion_read_minimum()} calls "
                                      f"(ceil(rows/100) per database: {parts})")
        scenario.minimum["clockify"] = (
            f"{self.clockify_read_minimum()} calls (clients list + projects list + one task "
            f"list per project = 1 + 1 + {s['projects']}): the documented hydrated project "
            "DTO (ProjectDtoV1) carries no tasks and tasks are only listed per project, so a "
            "complete read cannot go below one call per project")

    # == the scenarios =============================================================================
    def s1_initial(self) -> None:
        sc = Scenario("initial", "1. Initial sync (empty Clockify, nothing mapped)")
        self.sync(sc)
        # The emulators' clock catches up: the next runs happen IDLE_GAP_SECONDS later.
        self.clock.behind = 0
        n = self.entities
        created = sum(c.get("created", 0) for c in sc.counts.values())
        sc.minimum = {"clockify": f"{n} writes (one POST per entity)",
                      "notion": f"{n} writes (one PATCH per page: the Clockify ID)"}
        sc.target(f"exactly one Clockify write per entity ({n})", sc.writes["clockify"] == n,
                  f"{sc.writes['clockify']} Clockify writes")
        sc.target(f"exactly one Notion write per entity ({n})", sc.writes["notion"] == n,
                  f"{sc.writes['notion']} Notion writes")
        sc.notes.append(f"{created} created, {sc.failed_records()} failed, status {sc.status}")
        self.results.append(sc)

    def s2_no_change(self) -> None:
        sc = Scenario("no_change_full", "2. No-change full resync")
        for _ in range(max(1, self.args.repeat)):
            self.sync(sc)
        sc.keep_best()
        self.no_change_wall = sc.wall
        self.read_minimum_notes(sc)
        sc.target("≤ 3 Clockify calls", sc.calls["clockify"] <= 3,
                  f"{sc.calls['clockify']} calls (documented minimum "
                  f"{self.clockify_read_minimum()}: the target is below what the API allows)")
        notion_bound = self.notion_read_minimum()
        sc.target(f"≤ {notion_bound} Notion calls", sc.calls["notion"] <= notion_bound,
                  f"{sc.calls['notion']} calls")
        sc.target("0 writes", sc.writes["notion"] + sc.writes["clockify"] == 0,
                  f"{sc.writes['clockify']} Clockify + {sc.writes['notion']} Notion writes")
        self.results.append(sc)

    def s3_incremental(self) -> None:
        sc = Scenario("no_change_incremental", "3. No-change incremental poll")
        run = self.sync(sc, mode="incremental")
        if run.mode != "incremental":
            sc.notes.append("the run fell back to a full sync (no watermark)")
        sc.minimum = {"notion": "3 calls (one filtered query per database)",
                      "clockify": "0 calls"}
        sc.target("3 Notion calls", sc.calls["notion"] <= 3, f"{sc.calls['notion']} calls")
        sc.target("0 Clockify calls", sc.calls["clockify"] == 0,
                  f"{sc.calls['clockify']} calls")
        sc.notes.append(f"emulator clock moved {IDLE_GAP_SECONDS // 60} min forward after the "
                        "initial sync, as if this poll came that long after it")
        self.results.append(sc)

    def s4_edits(self) -> None:
        from syncapp.models import EntityMapping

        sc = Scenario("one_percent_edits", "4. Resync after renaming 1% of each kind in Notion")
        edited = {}
        for kind, key in (("client", "clients"), ("project", "projects"), ("task", "tasks")):
            count = max(1, round(self.sizes[key] / 100))
            pages = list(EntityMapping.objects.filter(kind=kind).order_by("notion_page_id")
                         .values_list("notion_page_id", "name"))
            step = max(1, len(pages) // count)
            for page_id, name in pages[::step][:count]:
                self.box.notion.update_page(page_id, {"Name": f"{name} (renamed)"})
            edited[kind] = count
        total = sum(edited.values())
        sc.extra["edited"] = edited
        self.sync(sc)
        self.read_minimum_notes(sc)
        sc.minimum["clockify"] = (f"{self.clockify_read_minimum() + total} calls: "
                                  f"{self.clockify_read_minimum()} reads + {total} PUTs "
                                  "(one per edited entity)")
        sc.minimum["notion"] = f"{self.notion_read_minimum()} calls, 0 writes"
        updated = sum(c.get("updated", 0) for c in sc.counts.values())
        sc.target(f"{total} Clockify writes (one PUT per edited entity)",
                  sc.writes["clockify"] == total and updated == total,
                  f"{sc.writes['clockify']} Clockify writes, {updated} updated")
        sc.target("0 Notion writes", sc.writes["notion"] == 0, f"{sc.writes['notion']} writes")
        sc.target("reads at the documented minimum",
                  sc.calls["notion"] <= self.notion_read_minimum()
                  and sc.calls["clockify"] - sc.writes["clockify"] <= self.clockify_read_minimum(),
                  f"{sc.calls['notion']} Notion, "
                  f"{sc.calls['clockify'] - sc.writes['clockify']} Clockify reads")
        self.results.append(sc)

    def s5_rate_limited(self) -> None:
        sc = Scenario("rate_limited", f"5. No-change full resync, Notion limited to "
                                      f"{NOTION_RATE} requests/s")
        self.box.notion.limit_rate(NOTION_RATE, 1.0)
        # The product's production throttle (NOTION_REQUESTS_PER_SECOND outside the sandbox).
        self.connections.CLIENT_DEFAULTS.update({"rate": PRODUCTION_NOTION_THROTTLE, "burst": 1})
        try:
            notion = self.connections.notion_client()
            # Only Notion is limited here: Clockify stays unthrottled (its default 5/s would
            # add ≥ 1002/5 s of its own, see the note).
            clockify = self.connections.clockify_client(rate=1e9, burst=1_000_000)
            self.sync(sc, notion=notion, clockify=clockify)
        finally:
            self.box.notion.unlimit_rate()
            self.fast_clients()
        needed = sc.calls["notion"] - sc.retries.get("notion", 0)  # retried attempts are waste
        bound = needed / NOTION_RATE
        sc.extra["bound_seconds"] = round(bound, 2)
        sc.minimum["notion"] = (f"{bound:.1f} s = {needed} calls ÷ {NOTION_RATE}/s, retried "
                                f"attempts not counted (documented minimum "
                                f"{self.notion_read_minimum()} calls = "
                                f"{self.notion_read_minimum() / NOTION_RATE:.1f} s)")
        failed = sc.failed_records()
        sc.target("wall ≤ 1.1 × calls ÷ rate, no failed record",
                  sc.wall <= 1.1 * bound and failed == 0 and sc.status == "succeeded",
                  f"{sc.wall:.1f} s vs bound {bound:.1f} s (×{sc.wall / bound:.2f}), "
                  f"{failed} failed, {sum(sc.retries.values())} retries, status {sc.status}")
        sc.notes.append(
            f"with Clockify at its default 5/s the {self.clockify_read_minimum()} Clockify "
            f"reads alone would need ≥ {self.clockify_read_minimum() / 5:.0f} s; the reads "
            "are sequential, so the two waits add up")
        self.results.append(sc)

    def s6_listing(self) -> None:
        from django.conf import settings

        sc = Scenario("listing_baseline", "6. Merely listing both sides (product clients only)")
        notion, clockify = self.clients()
        databases = [settings.NOTION_CLIENTS_DATABASE_ID, settings.NOTION_PROJECTS_DATABASE_ID,
                     settings.NOTION_TASKS_DATABASE_ID]
        # Data sources resolved beforehand, as the sync caches them in DatabaseMapping.
        for database in databases:
            notion.data_source_ids(database)

        def listing() -> dict:
            rows = Counter()
            for kind, database in zip(("client", "project", "task"), databases, strict=True):
                rows[f"notion {kind}s"] = sum(1 for _ in notion.query(database))
            rows["clockify clients"] = sum(1 for _ in clockify.clients())
            projects = [p["id"] for p in clockify.projects(hydrated=True)]
            rows["clockify projects"] = len(projects)
            rows["clockify tasks"] = sum(1 for pid in projects for _ in clockify.tasks(pid))
            return dict(rows)

        for _ in range(max(1, self.args.repeat)):
            sc.extra["rows"] = self.measure(sc, listing)
        sc.keep_best()
        ratio = (self.no_change_wall / sc.wall) if self.no_change_wall else float("nan")
        sc.extra["no_change_over_listing"] = round(ratio, 2)
        no_change = next((r for r in self.results if r.key == "no_change_full"), None)
        if no_change is not None:
            # Without the emulators' own time: what the product adds on top of bare listing.
            product = ((no_change.wall - no_change.emulator_seconds)
                       / max(1e-9, sc.wall - sc.emulator_seconds))
            sc.extra["same, client side only"] = (
                f"{no_change.wall - no_change.emulator_seconds:.2f} s ÷ "
                f"{sc.wall - sc.emulator_seconds:.2f} s = {product:.2f} (emulator time excluded)")
        sc.target("no-change resync time ÷ listing time ≤ 1.5", ratio <= 1.5,
                  f"{self.no_change_wall:.2f} s ÷ {sc.wall:.2f} s = {ratio:.2f}")
        self.results.append(sc)


def _area(filename: str, func: str) -> str:
    if "/syncapp/sandbox/" in filename:
        return "emulators (syncapp/sandbox)"
    if "/syncapp/" in filename:
        return "product (syncapp)"
    if "/benchmarks/" in filename:
        return "benchmark harness"
    if "/django/" in filename:
        return "Django"
    if "/requests/" in filename or "/urllib3/" in filename:
        return "requests/urllib3"
    if "/json/" in filename or "_json" in func or "json" in func:
        return "json"
    if filename == "~":
        return "sqlite3 (C)" if "sqlite3" in func else "builtins (C)"
    return "other stdlib"


def _template(path: str) -> str:
    """/v1/pages/<uuid> → /v1/pages/{id}, for grouping calls by endpoint."""
    parts = []
    for part in path.split("/"):
        is_id = len(part) >= 20 and any(c.isdigit() for c in part)
        parts.append("{id}" if is_id else part)
    return "/".join(parts)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------
def print_scenario(sc: Scenario, tracemalloc_on: bool) -> None:
    print(f"\n== {sc.title}")
    print(f"   {'':<22}{'Clockify':>12}{'Notion':>12}")
    print(f"   {'API calls':<22}{sc.calls.get('clockify', 0):>12,}{sc.calls.get('notion', 0):>12,}")
    print(f"   {'  of which writes':<22}{sc.writes.get('clockify', 0):>12,}"
          f"{sc.writes.get('notion', 0):>12,}")
    if sc.retries and any(sc.retries.values()):
        print(f"   {'  retries':<22}{sc.retries.get('clockify', 0):>12,}"
              f"{sc.retries.get('notion', 0):>12,}")
    walls = f" (best of {len(sc.walls)}: {sc.walls})" if len(sc.walls) > 1 else ""
    print(f"   wall time            {sc.wall:>10.2f} s{walls}")
    client = max(0.0, sc.http_seconds - sc.emulator_seconds)
    rest = max(0.0, sc.wall - sc.http_seconds)
    print(f"     emulators          {sc.emulator_seconds:>10.2f} s (the 'server' side, in-process "
          "transport included)")
    print(f"     HTTP client side   {client:>10.2f} s (in ApiClient.request: requests, throttle "
          "and retry sleeps)")
    print(f"     everything else    {rest:>10.2f} s (ORM, JSON decoding, normalising, planning; "
          f"SQL execution {sc.sql_seconds:.2f} s of it)")
    print(f"     garbage collector  {sc.gc_seconds:>10.2f} s in all "
          f"({sc.gc_full_collections} full collections)")
    mem = f"{sc.peak_rss_mb:.0f} MB peak RSS"
    if tracemalloc_on and sc.traced_peak_mb is not None:
        mem += f", {sc.traced_peak_mb:.0f} MB tracemalloc peak"
    print(f"   memory               {mem}")
    if sc.sql:
        sql = ", ".join(f"{k} {v:,}" for k, v in sorted(sc.sql.items(), key=lambda kv: -kv[1]))
        print(f"   SQL statements       {sum(sc.sql.values()):,} ({sql})")
    if sc.status:
        print(f"   run status           {sc.status}")
    for service in ("clockify", "notion"):
        endpoints = sc.by_endpoint.get(service) or {}
        if endpoints:
            top = ", ".join(f"{e} ×{n:,}" for e, n in list(endpoints.items())[:4])
            print(f"   {service} endpoints  {top}")
    for service, text in sc.minimum.items():
        print(f"   minimum {service:<9}  {text}")
    for key, value in sc.extra.items():
        if key != "profile":
            print(f"   {key:<20} {value}")
    profile = sc.extra.get("profile")
    if profile:
        areas = ", ".join(f"{k} {v:.2f}" for k, v in profile["self_time_by_area"].items()
                          if v >= 0.01)
        print(f"   profile ({profile['file']}), self time in s by area: {areas}")
        print("   top product functions by self time (self s, cumulative s, calls):")
        for row in profile["top_product_self_time"]:
            print(f"     {row['self_s']:>7.3f} {row['cum_s']:>8.3f} {row['calls']:>8,}  "
                  f"{row['function']}")
    for note in sc.notes:
        print(f"   note: {note}")
    for t in sc.targets:
        print(f"   [{'PASS' if t.passed else 'FAIL'}] {t.name}: {t.detail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="dataset size relative to 200/1,000/10,000 (e.g. 0.1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--skip-rate-limited", action="store_true",
                        help="skip scenario 5 (about 40 s of real throttled waiting)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the no-change resync and the listing N times, keep the best")
    parser.add_argument("--profile", metavar="DIR",
                        help="cProfile every scenario into DIR/<scenario>.prof and print the "
                             "hotspots (inflates the wall times)")
    parser.add_argument("--keep-db", action="store_true",
                        help="keep the temp directory with the SQLite database for inspection")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also trace Python allocations per scenario (slows the runs)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="sync-benchmark-"))
    if not args.keep_db:
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    setup_django(tmp)
    bench = Bench(args)
    bench.code = code_version()
    started = time.perf_counter()
    seeding = bench.seed()
    if not args.json:
        s = bench.sizes
        print(f"Sync benchmark, {time.strftime('%Y-%m-%d %H:%M')}: {s['clients']:,} clients, "
              f"{s['projects']:,} projects, {s['tasks']:,} tasks ({bench.entities:,} entities), "
              f"SQLite in {tmp}")
        print(f"Code: {bench.code}")
        print(f"Seeded the emulators in {seeding['seconds']:.1f} s; process RSS "
              f"{seeding['rss_before_mb']:.0f} MB before seeding (Python + Django), "
              f"{seeding['rss_after_mb']:.0f} MB after (emulator state included in every "
              "figure below)")
    steps = [bench.s1_initial, bench.s2_no_change, bench.s3_incremental, bench.s4_edits,
             bench.s6_listing]
    if not args.skip_rate_limited:
        steps.insert(4, bench.s5_rate_limited)
    for step in steps:
        step()
        if not args.json:
            print_scenario(bench.results[-1], args.tracemalloc)
            sys.stdout.flush()

    whole = max(bench.max_rss_mb, process_max_rss_mb())
    emulator_mb = seeding["rss_after_mb"] - seeding["rss_before_mb"]
    memory = Target(f"peak memory ≤ {MEMORY_TARGET_MB} MB (whole process, peak RSS)",
                    whole <= MEMORY_TARGET_MB,
                    f"{whole:.0f} MB, of which ~{emulator_mb:.0f} MB is the seeded emulator "
                    f"state and {seeding['rss_before_mb']:.0f} MB the interpreter with Django")
    summary = [(sc.title, t) for sc in bench.results for t in sc.targets]
    summary.append(("Whole process", memory))
    total = time.perf_counter() - started

    if args.json:
        print(json.dumps({
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "scale": args.scale,
            "sizes": bench.sizes, "seeding": seeding, "code": bench.code,
            "scenarios": [sc.as_json() for sc in bench.results],
            "memory": {"process_max_rss_mb": round(whole, 1), "target_mb": MEMORY_TARGET_MB,
                       "passed": memory.passed},
            "summary": [{"scenario": title, **t.__dict__} for title, t in summary],
            "total_seconds": round(total, 1),
        }, indent=2, default=str))
        return 0
    print(f"\n== Summary ({total:.0f} s in all)")
    for title, t in summary:
        print(f"   [{'PASS' if t.passed else 'FAIL'}] {title.split(' (')[0]} — {t.name}: "
              f"{t.detail}")
    passed = sum(t.passed for _, t in summary)
    print(f"   {passed}/{len(summary)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
