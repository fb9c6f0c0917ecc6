"""Sync benchmark: the product's real sync against the emulators, at scale.

Run by hand, not a test:

    make benchmark                                   # full scale, a few minutes
    make benchmark-scale                             # 3×B and 10×B, emulators out of process
    SANDBOX=true .venv/bin/python benchmarks/sync_benchmark.py --scale 0.1 --skip-rate-limited
    SANDBOX=true .venv/bin/python benchmarks/sync_benchmark.py --repeat 5 --json

It builds 200 clients / 1,000 projects / 10,000 tasks (times --scale) in the Notion
emulator, runs `syncapp.services.sync.run_sync` for the scenarios below on a throwaway
SQLite database and prints, per scenario, the API calls and writes per service, wall time
(median and spread over --repeat), the split between emulators and product, memory and the
target with PASS/FAIL. It always exits 0 (it measures; it does not judge) unless it
crashes.

Only the socket is replaced. With `--emulators inprocess` (default) the emulators are
mounted on every session the product creates through `syncapp.clients.http.SESSION_HOOKS`
(as the tests' `sandbox` fixture does); with `--emulators process` they run in a child
process served on a loopback port (syncapp.sandbox.server), so the product's peak RSS is
the product's alone. Client options (throttle, sleep) are injected through
`syncapp.services.connections.CLIENT_DEFAULTS`.

The scenarios use only stable interfaces: run_sync/SyncOptions, SyncRun.api_calls, the
emulators' Python API (calls, limit_rate, update_page), the product's Notion reader
(`syncapp.services.snapshots.notion_records`). The full audit is asked as `Mode.AUDIT` where
the code has it (the scenario says so when it falls back). The product and the emulators read
one clock (`SimClock`, `shift_product_clock`), which jumps forward for both after the initial
sync, as the change feed needs them to agree.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import cProfile
import dataclasses
import gc
import json
import math
import multiprocessing
import os
import pstats
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
import types
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = {"clients": 200, "projects": 1000, "tasks": 10_000}
NOTION_PAGE = 100  # Notion's maximum page_size
NOTION_RESULT_LIMIT = 10_000  # results one Notion query returns at most, over all its pages
CLOCKIFY_PAGE = 5000  # Clockify's maximum page-size
MEMORY_TARGET_MB = 250
NOTION_RATE = 3  # requests per second, Notion's documented average
CLOCKIFY_RATE = 50  # requests per second, Clockify's documented limit per workspace/key
# The product's client-side throttles in the rate-limited scenario. Notion's is the
# production default of NOTION_REQUESTS_PER_SECOND (2.9: see README). Clockify's production
# default (CLOCKIFY_REQUESTS_PER_SECOND) is a conservative 5/s; at 5/s the Clockify reads
# alone would take calls ÷ 5, so the scenario runs it with the same ~3% headroom as Notion's.
NOTION_THROTTLE = 2.9
CLOCKIFY_THROTTLE = 48.0
IMPORT_PAGES = 12_000  # a CSV import: more pages in one creation minute than one query returns
# After the initial sync the product's clock and the emulators' clock jump this far forward
# together, as if the later runs happened this long after it. They agree at every moment
# (the change feed is asked for [last complete state − CLOCKIFY_FEED_OVERLAP_SECONDS, now +
# the overlap] in the product's time, and the emulator stamps changes in its own), and the gap
# is longer than both overlaps (the feed's, 5 min by default, and the Notion incremental
# read's minute), so the initial sync's writes fall out of every later window once a run after
# them has set the next starting point.
IDLE_GAP_SECONDS = 15 * 60
# While seeding, the emulators' clock advances this much per reading, so the seeded pages'
# creation times spread over the past (at most ~3,000 pages per minute, as a workspace that
# grew over time) instead of all landing in the minute the benchmark started: at 3× and 10×
# a real-time seed would put >10,000 pages in one minute, which is scenario 9's case (an
# import), not the dataset's.
SEED_CLOCK_STEP = 0.02


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
    """Real time plus an offset that only grows (`advance`: time 'passes' at once).

    The product (django.utils.timezone.now, see `shift_product_clock`) and the emulators each
    read one, advanced together, so both sides agree on the time. While seeding the
    emulators' clock is a counter instead: each reading is SEED_CLOCK_STEP later.
    """

    def __init__(self) -> None:
        self.ahead = 0.0
        self._seeding_at: float | None = None

    def advance(self, seconds: float) -> None:
        self.ahead += seconds

    def seed_from(self, start: float) -> None:
        self._seeding_at = start

    def stop_seeding(self) -> None:
        self._seeding_at = None

    def __call__(self) -> float:
        if self._seeding_at is not None:
            self._seeding_at += SEED_CLOCK_STEP
            return self._seeding_at
        return time.time() + self.ahead


def shift_product_clock(clock: SimClock) -> None:
    """The product reads the benchmark's clock: django.utils.timezone.now, and the model
    fields whose default is that function (they hold the original, e.g. SyncRun.started_at,
    which the run lock compares with timezone.now())."""
    from datetime import UTC, datetime

    from django.apps import apps
    from django.conf import settings
    from django.utils import timezone

    original = timezone.now

    def now() -> datetime:
        return datetime.fromtimestamp(clock(), tz=UTC if settings.USE_TZ else None)

    timezone.now = now
    for model in apps.get_models(include_auto_created=True):
        for model_field in model._meta.get_fields():
            if getattr(model_field, "default", None) is original:
                model_field.default = now
                model_field.__dict__.pop("_get_default", None)  # a cached_property


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
        self._lock = threading.Lock()  # reads may run on threads

    def __call__(self, execute, sql, params, many, context):
        with self._lock:
            self.counts[sql.lstrip().split(None, 1)[0].upper()] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------
def _status_kb(key: str, pid: str = "self") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
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


def load_average() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def deep_size_mb(root: object) -> float:
    """Bytes of the Python objects reachable from `root` (containers and instances; not
    code, classes or modules), each counted once. An estimate: allocator slack and freed
    but unreturned memory are not in it."""
    skip = (type, types.ModuleType, types.FunctionType, types.MethodType,
            types.BuiltinFunctionType)
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset | deque):
            stack.extend(obj)
        elif hasattr(obj, "__dict__"):
            stack.append(obj.__dict__)
    return total / 2**20


# --------------------------------------------------------------------------------------------
# The emulators: in this process, or in a child process behind a loopback port
# --------------------------------------------------------------------------------------------
class LocalWorld:
    """Notion and Clockify emulators in this process, with the benchmark's clock.

    Every method is also callable by name through ProcessWorld (plain, picklable values).
    """

    def __init__(self) -> None:
        from syncapp.sandbox.workspace import Sandbox

        self.clock = SimClock()
        self.box = Sandbox(clock=self.clock)
        self.handle_seconds = 0.0  # inside Emulator.handle (used when served out of process)
        self._lock = threading.Lock()

    def seed(self, sizes: dict[str, int]) -> dict:
        from syncapp.sandbox.demo import seed_scale

        pages = sum(sizes.values())
        self.clock.seed_from(time.time() - 3 * pages * SEED_CLOCK_STEP - 120)
        before = rss_mb()
        started = time.perf_counter()
        try:
            seed_scale(self.box, **sizes)
        finally:
            self.clock.stop_seeding()
        return {"seconds": time.perf_counter() - started, "rss_before_mb": before,
                "rss_after_mb": rss_mb()}

    def _emulators(self) -> dict:
        return {"notion": self.box.notion, "clockify": self.box.clockify}

    def reset_calls(self) -> None:
        for emulator in self._emulators().values():
            emulator.reset_calls()
        self.handle_seconds = 0.0

    def calls(self) -> dict[str, list[tuple[str, str]]]:
        return {name: list(e.calls) for name, e in self._emulators().items()}

    def limit_rate(self, service: str, limit: int, window: float = 1.0) -> None:
        self._emulators()[service].limit_rate(limit, window)

    def unlimit_rate(self, service: str) -> None:
        self._emulators()[service].unlimit_rate()

    def update_page(self, page_id: str, values: dict) -> None:
        self.box.notion.update_page(page_id, values)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def time_handlers(self) -> None:
        """Count the seconds spent handling requests (the emulators' own work)."""
        for emulator in self._emulators().values():
            handle = emulator.handle

            def timed(request, handle=handle):
                started = time.perf_counter()
                try:
                    return handle(request)
                finally:
                    with self._lock:
                        self.handle_seconds += time.perf_counter() - started
            emulator.handle = timed

    def emulator_seconds(self) -> float:
        return self.handle_seconds

    def reset_peak_rss(self) -> bool:
        return reset_peak_rss()

    def memory_mb(self) -> dict[str, float]:
        return {"rss": rss_mb(), "peak": peak_rss_mb()}

    def state_mb(self) -> float:
        """The emulators' own objects (their records, indexes and call logs)."""
        return deep_size_mb([self.box.notion, self.box.clockify])


def _serve_world(conn, host: str) -> None:
    """The child process: serve a LocalWorld on a free port, answer method calls by pipe."""
    from syncapp.sandbox.server import serve

    world = LocalWorld()
    world.time_handlers()
    server = serve(world.box, host=host, port=0)
    # Headers and body go out as two writes: with Nagle's algorithm on, each response then
    # waits for the client's delayed ACK (~40 ms), which would be the benchmark's figure.
    server.RequestHandlerClass.disable_nagle_algorithm = True
    threading.Thread(target=server.serve_forever, daemon=True, name="emulators").start()
    conn.send(("ok", server.server_address[1]))
    while True:
        message = conn.recv()
        if message is None:
            return
        name, args = message
        try:
            conn.send(("ok", getattr(world, name)(*args)))
        except Exception as exc:  # noqa: BLE001 - the parent re-raises it
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class ProcessWorld:
    """A LocalWorld in a child process; the product reaches it over loopback HTTP.

    Started before Django (the child never touches the database) and reached through
    SANDBOX_URL, which the settings read. Method calls go by pipe: `world.seed(sizes)`.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_serve_world, args=(child, host), daemon=True,
                                       name="benchmark-emulators")
        self.process.start()
        self.port = self._answer()
        self.url = f"http://{host}:{self.port}"
        self._lock = threading.Lock()
        atexit.register(self.close)

    def _answer(self):
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"emulator process: {value}")
        return value

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args):
            with self._lock:
                self._conn.send((name, args))
                return self._answer()
        return call

    def memory_mb(self) -> dict[str, float]:
        peak = _status_kb("VmHWM", str(self.process.pid))
        rss = _status_kb("VmRSS", str(self.process.pid))
        return {"rss": (rss or 0) / 1024, "peak": (peak or 0) / 1024}

    def reset_peak_rss(self) -> bool:
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.terminate()


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass
class Target:
    name: str
    passed: bool
    detail: str


TIMING_FIELDS = ("wall", "emulator_seconds", "http_seconds", "sql_seconds", "gc_seconds")


@dataclass
class Scenario:
    key: str
    title: str
    client: str = "product"  # whose calls: the product's, or the peer's
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
    call_history: list[dict[str, int]] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    emulator_peak_rss_mb: float | None = None
    traced_peak_mb: float | None = None
    status: str = ""
    counts: dict = field(default_factory=dict)
    minimum: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def target(self, name: str, passed: bool, detail: str) -> None:
        self.targets.append(Target(name, bool(passed), detail))

    def summarize(self) -> None:
        """After repeats: every timing is the median over the runs (the spread is printed)."""
        columns = list(zip(*self.timings, strict=True))
        for name, column in zip(TIMING_FIELDS, columns, strict=True):
            setattr(self, name, statistics.median(column))
        distinct = {tuple(sorted(c.items())) for c in self.call_history}
        if len(distinct) > 1:
            self.notes.append(f"the calls differed between repeats: {self.call_history}; "
                              "the figures above are the last run's")

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.walls), max(self.walls)) if self.walls else (self.wall, self.wall)

    def wall_text(self) -> str:
        if len(self.walls) < 2:
            return f"{self.wall:.2f} s"
        low, high = self.spread
        return f"{self.wall:.2f} s median of {len(self.walls)}, min–max {low:.2f}–{high:.2f} s"

    def failed_records(self) -> int:
        return sum(c.get("failed", 0) for c in self.counts.values())

    def as_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "targets"}
        out["wall_spread"] = list(self.spread)
        out["targets"] = [t.__dict__ for t in self.targets]
        return out


def is_write(service: str, method: str, path: str) -> bool:
    if method not in {"POST", "PUT", "PATCH", "DELETE"}:
        return False
    return not (service == "notion" and method == "POST" and path.rstrip("/").endswith("/query"))


def audit_options() -> tuple[dict | None, str]:
    """How to ask run_sync for a full audit (a complete read of both sides), if it can.

    The change feed adds it; until then the caller falls back to today's full run.
    """
    from syncapp.models import sync as models
    from syncapp.services.sync import SyncOptions

    mode = getattr(models.Mode, "AUDIT", None)
    if mode is not None:
        return {"mode": mode}, f"SyncOptions(mode={mode!r})"
    flags = [f.name for f in dataclasses.fields(SyncOptions)
             if "audit" in f.name and f.default is False]  # audit=True, full_audit=True ...
    if flags:
        return {flags[0]: True}, f"SyncOptions({flags[0]}=True)"
    return None, ("this code has no audit mode (no Mode.AUDIT, no boolean SyncOptions.*audit*): "
                  "measured today's full run, which is a complete read of both sides")


# --------------------------------------------------------------------------------------------
# The peer: n8n workflow template 3177
# --------------------------------------------------------------------------------------------
class N8n3177:
    """The calling pattern of n8n workflow template 3177, "Sync Notion to Clockify including
    clients projects and tasks" (https://n8n.io/workflows/3177), with plain `requests`.

    Source: the template's workflow JSON (nodes and connections) as published on n8n.io and
    mirrored in github.com/gao51-qw/n8nworkflow.com, public/data/workflows/3177/3177.json
    (commit 92ddd93), and n8n's Clockify node (packages/nodes-base/nodes/Clockify/
    GenericFunctions.ts, clockifyApiRequestAllItems: page-size 50, page = 1, 2, ... until a
    page comes back empty). Per run and kind (clients, then projects, then tasks):

    - GET /workspaces once ("Get first workspace ID");
    - all active pages from Notion (a filtered database query, 100 per page) and all active
      entities from Clockify (the Clockify node's getAll, archived=false); for tasks, all
      active projects again and then the active tasks of every project (is-active=true);
    - "Compare Datasets" by Clockify ID: a Notion row without an ID is created (POST) and its
      ID written back (PATCH); a row whose values differ, or whose ID Clockify did not list,
      is updated (PUT); a Clockify entity Notion did not list is looked up in Notion by its ID
      (a filtered query) and archived (PUT).

    Adapted to the benchmark's databases (no calls added or removed): the template's
    "Archive" checkbox is our "Archived"; its rollups of the parent's Clockify ID (which cost
    no call: they come in the page) are read from the parent rows the run already fetched;
    tasks are filtered on Status ≠ Done and a non-empty Project (our tasks have no "Obsolete"
    status and no "Clients" rollup). `stop_on_short_page` stops the Clockify paging at a
    page shorter than 50 (what a careful flow would do) instead of at an empty page.
    """

    PAGE_SIZE = 50

    def __init__(self, session, *, stop_on_short_page: bool) -> None:
        from django.conf import settings

        self.session = session
        self.stop_on_short_page = stop_on_short_page
        self.notion_url = settings.NOTION_API_URL.rstrip("/")
        self.clockify_url = settings.CLOCKIFY_API_URL.rstrip("/")
        self.notion_headers = {"Authorization": f"Bearer {settings.NOTION_TOKEN}",
                               "Notion-Version": "2022-06-28"}
        self.clockify_headers = {"X-Api-Key": settings.CLOCKIFY_API_KEY}
        self.databases = {"client": settings.NOTION_CLIENTS_DATABASE_ID,
                          "project": settings.NOTION_PROJECTS_DATABASE_ID,
                          "task": settings.NOTION_TASKS_DATABASE_ID}
        self.workspace = ""
        self.writes: Counter[str] = Counter()

    # -- HTTP -------------------------------------------------------------------------------
    def _send(self, method: str, url: str, headers: dict, **kwargs):
        response = self.session.request(method, url, headers=headers, timeout=60, **kwargs)
        response.raise_for_status()
        return response.json()

    def notion_query(self, kind: str, query_filter: dict, limit: int | None = None) -> list:
        url = f"{self.notion_url}/v1/databases/{self.databases[kind]}/query"
        body: dict = {"page_size": limit or NOTION_PAGE, "filter": query_filter}
        rows: list[dict] = []
        while True:
            page = self._send("POST", url, self.notion_headers, json=body)
            rows += page.get("results", [])
            if limit or not page.get("has_more"):
                return rows
            body["start_cursor"] = page["next_cursor"]

    def clockify_all(self, path: str, params: dict) -> list[dict]:
        url = f"{self.clockify_url}/workspaces/{self.workspace}/{path}"
        params = {**params, "page-size": self.PAGE_SIZE, "page": 1}
        items: list[dict] = []
        while True:
            batch = self._send("GET", url, self.clockify_headers, params=params)
            items += batch
            if not batch or (self.stop_on_short_page and len(batch) < self.PAGE_SIZE):
                return items
            params["page"] += 1

    def clockify_write(self, method: str, path: str, body: dict) -> dict:
        self.writes[f"clockify {method}"] += 1
        url = f"{self.clockify_url}/workspaces/{self.workspace}/{path}"
        return self._send(method, url, self.clockify_headers, json=body)

    def store_id(self, page_id: str, clockify_id: str) -> None:
        self.writes["notion PATCH"] += 1
        self._send("PATCH", f"{self.notion_url}/v1/pages/{page_id}", self.notion_headers,
                   json={"properties": {"Clockify ID": {"rich_text": [
                       {"type": "text", "text": {"content": clockify_id}}]}}})

    # -- the three blocks -----------------------------------------------------------------------
    def run(self) -> dict[str, int]:
        self.workspace = self._send("GET", f"{self.clockify_url}/workspaces",
                                    self.clockify_headers)[0]["id"]
        client_ids = self.sync_clients()
        project_ids = self.sync_projects(client_ids)
        self.sync_tasks(project_ids)
        return dict(self.writes)

    def sync_clients(self) -> dict[str, str]:
        rows = self.notion_query("client", {"property": "Archived", "checkbox": {"equals": False}})
        notion = [{"page": r["id"], "name": _title(r), "archived": False, "id": _clockify_id(r)}
                  for r in rows]
        clockify = {c["id"]: {"name": c["name"], "archived": c["archived"]}
                    for c in self.clockify_all("clients", {"archived": "false"})}
        self.compare("client", notion, clockify, "clients",
                     lambda row: {"name": row["name"], "archived": row["archived"]})
        return {row["page"]: row["id"] for row in notion}

    def sync_projects(self, client_ids: dict[str, str]) -> dict[str, str]:
        rows = self.notion_query("project", {"and": [
            {"property": "Status", "status": {"does_not_equal": "Done"}},
            {"property": "Status", "status": {"does_not_equal": "Obsolete"}},
            {"property": "Client", "relation": {"is_not_empty": True}}]})
        notion = [{"page": r["id"], "name": _title(r), "archived": False, "id": _clockify_id(r),
                   "clientId": client_ids.get(_first_relation(r, "Client"), "")} for r in rows]
        clockify = {p["id"]: {"name": p["name"], "archived": p["archived"],
                              "clientId": p.get("clientId") or ""}
                    for p in self.clockify_all("projects", {"archived": "false"})}
        self.compare("project", notion, clockify, "projects",
                     lambda row: {"name": row["name"], "archived": row["archived"],
                                  "clientId": row["clientId"]})
        return {row["page"]: row["id"] for row in notion}

    def sync_tasks(self, project_ids: dict[str, str]) -> None:
        rows = self.notion_query("task", {"and": [
            {"property": "Status", "status": {"does_not_equal": "Done"}},
            {"property": "Project", "relation": {"is_not_empty": True}}]})
        notion = [{"page": r["id"], "name": _title(r), "archived": False, "id": _clockify_id(r),
                   "projectId": project_ids.get(_first_relation(r, "Project"), "")}
                  for r in rows]
        clockify = {}
        for project in self.clockify_all("projects", {"archived": "false"}):
            for task in self.clockify_all(f"projects/{project['id']}/tasks",
                                          {"is-active": "true"}):
                clockify[task["id"]] = {"name": task["name"],
                                        "archived": task.get("status") == "DONE",
                                        "projectId": task.get("projectId") or project["id"]}
        self.compare("task", notion, clockify, None,
                     lambda row: {"name": row["name"], "archived": row["archived"],
                                  "projectId": row["projectId"]})

    def compare(self, kind: str, notion: list[dict], clockify: dict[str, dict],
                path: str | None, values) -> None:
        """Compare Datasets (by Clockify ID) and its four branches."""
        listed = set()
        for row in notion:
            if not row["id"]:
                created = self.create(kind, row)
                self.store_id(row["page"], created["id"])
                row["id"] = created["id"]
                continue
            listed.add(row["id"])
            if clockify.get(row["id"]) != values(row):
                self.update(kind, row["id"], values(row))
        for clockify_id, entity in clockify.items():
            if clockify_id in listed:
                continue
            # "Get archived/completed ... from Notion": one filtered query by the ID.
            self.notion_query(kind, {"property": "Clockify ID",
                                     "rich_text": {"equals": clockify_id}},
                              limit=1 if kind == "client" else None)
            self.update(kind, clockify_id, {**entity, "archived": True})

    def create(self, kind: str, row: dict) -> dict:
        if kind == "client":
            return self.clockify_write("POST", "clients", {"name": row["name"]})
        if kind == "project":
            return self.clockify_write("POST", "projects", {
                "name": row["name"], "clientId": row["clientId"], "archived": row["archived"]})
        return self.clockify_write("POST", f"projects/{row['projectId']}/tasks",
                                   {"name": row["name"]})

    def update(self, kind: str, clockify_id: str, values: dict) -> None:
        if kind == "client":
            self.clockify_write("PUT", f"clients/{clockify_id}",
                                {"name": values["name"], "archived": values["archived"]})
        elif kind == "project":
            self.clockify_write("PUT", f"projects/{clockify_id}", values)
        elif values.get("projectId"):
            self.clockify_write("PUT", f"projects/{values['projectId']}/tasks/{clockify_id}",
                                {"name": values["name"],
                                 "status": "DONE" if values["archived"] else "ACTIVE"})


def _plain(prop: dict) -> str:
    return "".join(part.get("plain_text", "") for part in prop.get(prop.get("type"), []) or [])


def _title(page: dict) -> str:
    return next((_plain(p) for p in page["properties"].values() if p.get("type") == "title"), "")


def _clockify_id(page: dict) -> str:
    return _plain(page["properties"].get("Clockify ID", {})).strip()


def _first_relation(page: dict, name: str) -> str:
    items = page["properties"].get(name, {}).get("relation") or []
    return items[0]["id"] if items else ""


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, world) -> None:
        from django.conf import settings
        from django.db import connection

        from syncapp.clients import http
        from syncapp.sandbox.transport import EmulatorAdapter
        from syncapp.services import connections

        self.args = args
        self.world = world
        self.local = isinstance(world, LocalWorld)
        self.sizes = {k: max(1, round(v * args.scale)) for k, v in FULL.items()}
        self.entities = sum(self.sizes.values())
        self.transport_seconds = 0.0  # inside the in-process emulators and their transport
        self.http_seconds = 0.0  # inside the product's ApiClient.request (emulators included)
        self._timing_lock = threading.Lock()
        self.http = http
        if self.local:
            root = settings.SANDBOX_URL

            def hook(session) -> None:
                world.box.mount(session, root)
                for adapter in session.adapters.values():
                    if isinstance(adapter, EmulatorAdapter):
                        adapter.send = self._timed(adapter.send, "transport_seconds")

            http.SESSION_HOOKS.append(hook)
        self.connections = connections
        self.sleeps: list[float] = []
        self.fast_clients()
        self.sql = SqlCounter()
        self.gc = GcTimer()
        connection.execute_wrappers.append(self.sql)  # for the whole process
        self.results: list[Scenario] = []
        self.product_clock = SimClock()
        shift_product_clock(self.product_clock)
        self.initial_run_pk: int | None = None
        self.max_rss_mb = process_max_rss_mb()  # VmHWM resets also reset ru_maxrss
        self.max_emulator_rss_mb = 0.0

    def _timed(self, function, counter: str):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                with self._timing_lock:
                    setattr(self, counter,
                            getattr(self, counter) + time.perf_counter() - started)
        return timed

    def emulator_seconds(self) -> float:
        return self.transport_seconds if self.local else self.world.emulator_seconds()

    def advance_clocks(self, seconds: float) -> None:
        """Time passes at once, for the product and the emulators alike."""
        self.product_clock.advance(seconds)
        self.world.advance(seconds)

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
            client.request = self._timed(client.request, "http_seconds")
        return notion, clockify

    # -- client options -----------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        with self._timing_lock:
            self.sleeps.append(seconds)
        time.sleep(seconds)  # real: a retry or throttle wait is part of the wall time

    def fast_clients(self) -> None:
        """The emulators are local: no client-side throttle (the sleeps stay real)."""
        self.connections.CLIENT_DEFAULTS.clear()
        self.connections.CLIENT_DEFAULTS.update(
            {"rate": 1e9, "burst": 1_000_000, "sleep": self._sleep})

    # -- measuring one run ---------------------------------------------------------------------
    def measure(self, scenario: Scenario, action) -> object:
        self.world.reset_calls()
        self.sql.counts.clear()
        self.sql.seconds = 0.0
        self.sleeps.clear()
        self.transport_seconds = 0.0
        self.http_seconds = 0.0
        self.gc.seconds = 0.0
        self.gc.collections.clear()
        reset_peak_rss()
        if not self.local:
            self.world.reset_peak_rss()
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
            self._record(scenario, time.perf_counter() - started, profiler)
        return result

    def _record(self, scenario: Scenario, wall: float, profiler) -> None:
        scenario.wall = wall
        scenario.walls.append(round(wall, 3))
        scenario.emulator_seconds = self.emulator_seconds()
        scenario.http_seconds = self.http_seconds
        if profiler:
            self.save_profile(scenario, profiler)
        if self.args.tracemalloc:
            scenario.traced_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        scenario.peak_rss_mb = max(scenario.peak_rss_mb, peak_rss_mb())
        self.max_rss_mb = max(self.max_rss_mb, scenario.peak_rss_mb)
        if not self.local:
            peak = self.world.memory_mb()["peak"]
            scenario.emulator_peak_rss_mb = max(scenario.emulator_peak_rss_mb or 0, peak)
            self.max_emulator_rss_mb = max(self.max_emulator_rss_mb, peak)
        scenario.sql = dict(self.sql.counts)
        scenario.sql_seconds = self.sql.seconds
        scenario.gc_seconds = self.gc.seconds
        scenario.gc_full_collections = self.gc.collections[2]
        scenario.timings.append(tuple(getattr(scenario, name) for name in TIMING_FIELDS))
        for service, calls in self.world.calls().items():
            endpoints: Counter[str] = Counter()
            writes = 0
            for method, path in calls:
                endpoints[f"{method} {_template(path)}"] += 1
                writes += is_write(service, method, path)
            scenario.calls[service] = len(calls)
            scenario.writes[service] = writes
            scenario.by_endpoint[service] = dict(endpoints.most_common())
        scenario.call_history.append(dict(scenario.calls))
        if self.sleeps:
            scenario.extra["client_sleeps"] = {"count": len(self.sleeps),
                                               "seconds": round(sum(self.sleeps), 2)}

    def sync(self, scenario: Scenario, *, mode: str = "full", notion=None, clockify=None,
             **options):
        from syncapp.services.sync import SyncOptions, run_sync

        options = SyncOptions(trigger="command", mode=mode, triggered_by="benchmark", **options)
        notion, clockify = self.clients(notion, clockify)
        run = self.measure(scenario, lambda: run_sync(options, notion=notion, clockify=clockify))
        scenario.status = run.status
        scenario.counts = {k: dict(v) for k, v in (run.counts or {}).items()}
        scenario.retries = {s: c.get("retries", 0) for s, c in (run.api_calls or {}).items()}
        product = {s: c.get("total", 0) for s, c in (run.api_calls or {}).items()}
        if product != scenario.calls:
            note = (f"the product counted {product} calls (emulators saw {scenario.calls})")
            if note not in scenario.notes:
                scenario.notes.append(note)
        if run.error_summary:
            note = "errors: " + run.error_summary.replace("\n", " | ")[:300]
            if note not in scenario.notes:
                scenario.notes.append(note)
        return run

    def repeated(self, scenario: Scenario, once) -> object:
        """Run `once()` --repeat times; the timings become medians, the walls their spread."""
        result = None
        for _ in range(max(1, self.args.repeat)):
            result = once()
        scenario.summarize()
        return result

    # -- minimums from the documented APIs ---------------------------------------------------------
    def notion_read_minimum(self) -> int:
        return sum(math.ceil(n / NOTION_PAGE) for n in self.sizes.values())

    def clockify_read_minimum(self) -> int:
        """A complete read: clients list + projects list + one task list per project."""
        return (math.ceil(self.sizes["clients"] / CLOCKIFY_PAGE)
                + math.ceil(self.sizes["projects"] / CLOCKIFY_PAGE) + self.sizes["projects"])

    def read_minimum_notes(self, scenario: Scenario) -> None:
        s = self.sizes
        parts = " + ".join(str(math.ceil(n / NOTION_PAGE)) for n in s.values())
        scenario.minimum["notion"] = (f"{self.notion_read_minimum()} calls "
                                      f"(ceil(rows/100) per database: {parts})")
        scenario.minimum["clockify"] = (
            f"{self.clockify_read_minimum()} calls for a complete read (clients list + "
            f"projects list + one task list per project = 1 + 1 + {s['projects']}); with "
            "Clockify's change feed (/entities/created, /updated, /deleted) 3")

    def result(self, key: str) -> Scenario | None:
        return next((r for r in self.results if r.key == key), None)

    # == the scenarios =============================================================================
    def s1_initial(self) -> None:
        sc = Scenario("initial", "1. Initial sync (empty Clockify, nothing mapped)")
        run = self.sync(sc)
        self.initial_run_pk = run.pk
        # The next runs happen IDLE_GAP_SECONDS later, on both sides.
        self.advance_clocks(IDLE_GAP_SECONDS)
        n = self.entities
        created = sum(c.get("created", 0) for c in sc.counts.values())
        sc.minimum = {"clockify": f"{n} writes (one POST per entity)",
                      "notion": f"{n} writes (one PATCH per page: the Clockify ID)"}
        sc.target(f"exactly one Clockify write per entity ({n})", sc.writes["clockify"] == n,
                  f"{sc.writes['clockify']} Clockify writes")
        sc.target(f"exactly one Notion write per entity ({n})", sc.writes["notion"] == n,
                  f"{sc.writes['notion']} Notion writes")
        self.memory_target(sc)
        sc.notes.append(f"{created} created, {sc.failed_records()} failed, status {sc.status}")
        self.results.append(sc)

    def s2_no_change(self) -> None:
        if self.last_run_was_initial():
            self.first_after_initial()
        sc = Scenario("no_change_full", "2. No-change full sync")
        self.repeated(sc, lambda: self.sync(sc))
        self.read_minimum_notes(sc)
        sc.target("≤ 3 Clockify calls", sc.calls["clockify"] <= 3,
                  f"{sc.calls['clockify']} calls (a complete read is "
                  f"{self.clockify_read_minimum()}; ≤ 3 needs the change feed)")
        notion_bound = self.notion_read_minimum()
        sc.target(f"≤ {notion_bound} Notion calls", sc.calls["notion"] <= notion_bound,
                  f"{sc.calls['notion']} calls")
        sc.target("0 writes", sc.writes["notion"] + sc.writes["clockify"] == 0,
                  f"{sc.writes['clockify']} Clockify + {sc.writes['notion']} Notion writes")
        self.memory_target(sc)
        self.results.append(sc)

    def last_run_was_initial(self) -> bool:
        from syncapp.models import SyncRun

        latest = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first()
        return latest is not None and latest == self.initial_run_pk

    def first_after_initial(self) -> None:
        """The first full run after the initial sync: the feed still names its writes.

        The initial sync leaves Clockify's complete state at its end; the next run asks the
        feed from there minus the overlap, so it pages through the initial sync's last
        minutes of creates (up to 5,000 per call). From the next run on, 3 calls.
        """
        sc = Scenario("no_change_after_initial",
                      "2a. First no-change full sync after the initial sync's writes")
        self.sync(sc)
        feed = sum(n for e, n in sc.by_endpoint.get("clockify", {}).items() if "/entities/" in e)
        sc.minimum["clockify"] = ("3 feed calls, plus one per further 5,000 changes the feed "
                                  "still names (the initial sync's writes inside the overlap)")
        sc.target("Clockify read through the change feed only (no listing)",
                  feed == sc.calls["clockify"],
                  f"{sc.calls['clockify']} calls, {feed} of them to /entities/…")
        sc.target("0 writes", sc.writes["notion"] + sc.writes["clockify"] == 0,
                  f"{sc.writes['clockify']} Clockify + {sc.writes['notion']} Notion writes")
        self.memory_target(sc)  # a no-change run too: it holds what the feed names
        self.results.append(sc)

    def s2_audit(self) -> None:
        sc = Scenario("full_audit", "2b. No-change full audit (complete read of both sides)")
        options, how = audit_options()
        sc.extra["asked as"] = how if options else "SyncOptions(mode='full') (fallback)"
        if options is None:
            sc.notes.append(how)
        run = self.repeated(sc, lambda: self.sync(sc, **(options or {})))
        sc.extra["run mode"] = getattr(run, "mode", "?")
        if options is not None and "mode" in options:
            sc.target(f"the run is a full audit (mode {options['mode']!s})",
                      str(getattr(run, "mode", "")) == str(options["mode"]),
                      f"run mode {getattr(run, 'mode', '?')}")
        self.read_minimum_notes(sc)
        bound = self.clockify_read_minimum()
        # The audit also asks the feed (3 calls), to report what the feed missed as drift.
        feed = sum(n for e, n in sc.by_endpoint.get("clockify", {}).items() if "/entities/" in e)
        sc.extra["of which change feed"] = f"{feed} calls (compared with the complete read)"
        sc.target(f"{bound} Clockify listing calls (clients + projects lists + one per project)"
                  ", plus the feed's", sc.calls["clockify"] - feed == bound,
                  f"{sc.calls['clockify']} calls = {sc.calls['clockify'] - feed} listing + "
                  f"{feed} feed")
        sc.target(f"≤ {self.notion_read_minimum()} Notion calls",
                  sc.calls["notion"] <= self.notion_read_minimum(), f"{sc.calls['notion']} calls")
        sc.target("0 writes", sc.writes["notion"] + sc.writes["clockify"] == 0,
                  f"{sc.writes['clockify']} Clockify + {sc.writes['notion']} Notion writes")
        self.results.append(sc)

    def s3_incremental(self) -> None:
        sc = Scenario("no_change_incremental", "3. No-change incremental poll")
        if self.last_run_was_initial():
            # The initial sync's watermark is its start, so the first poll after it reads
            # back every page the initial sync wrote the Clockify ID to; the every-minute
            # poll's steady state is the poll after that one.
            first = Scenario("first_poll", "first poll")
            self.sync(first, mode="incremental")
            sc.notes.append(f"measured the second poll after the initial sync; the first "
                            f"(its write-backs) made {first.calls['notion']:,} Notion and "
                            f"{first.calls['clockify']:,} Clockify calls")
        run = self.sync(sc, mode="incremental")
        if run.mode != "incremental":
            sc.notes.append("the run fell back to a full sync (no watermark)")
        sc.minimum = {"notion": "3 calls (one filtered query per database)",
                      "clockify": "0 calls"}
        sc.target("3 Notion calls", sc.calls["notion"] <= 3, f"{sc.calls['notion']} calls")
        sc.target("0 Clockify calls", sc.calls["clockify"] == 0,
                  f"{sc.calls['clockify']} calls")
        sc.notes.append(f"both clocks moved {IDLE_GAP_SECONDS // 60} min forward after the "
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
                self.world.update_page(page_id, {"Name": f"{name} (renamed)"})
            edited[kind] = count
        total = sum(edited.values())
        sc.extra["edited"] = edited
        self.sync(sc)
        self.read_minimum_notes(sc)
        sc.minimum["clockify"] = (f"{total} PUTs (one per edited entity) + the reads: "
                                  f"{self.clockify_read_minimum()} for a complete read, 3 with "
                                  "the change feed")
        sc.minimum["notion"] = f"{self.notion_read_minimum()} calls, 0 writes"
        updated = sum(c.get("updated", 0) for c in sc.counts.values())
        sc.target(f"{total} Clockify writes (one PUT per edited entity)",
                  sc.writes["clockify"] == total and updated == total,
                  f"{sc.writes['clockify']} Clockify writes, {updated} updated")
        sc.target("0 Notion writes", sc.writes["notion"] == 0, f"{sc.writes['notion']} writes")
        reads = sc.calls["clockify"] - sc.writes["clockify"]
        sc.target("reads at most a complete read",
                  sc.calls["notion"] <= self.notion_read_minimum()
                  and reads <= self.clockify_read_minimum(),
                  f"{sc.calls['notion']} Notion, {reads} Clockify reads")
        self.results.append(sc)

    def s5_rate_limited(self) -> None:
        """Both services limited, read side by side: wall ÷ the slower service's bound.

        With the change feed a no-change run makes 3 Clockify calls, so Notion alone bounds
        it and the concurrency is hardly exercised; the full audit (a complete read, 2 +
        projects Clockify calls) is measured too, with both services' reads substantial.
        """
        self.rate_limited(Scenario(
            "rate_limited", f"5. No-change full sync, Notion limited to {NOTION_RATE} and "
                            f"Clockify to {CLOCKIFY_RATE} requests/s"))
        options, how = audit_options()
        sc = Scenario("rate_limited_audit", f"5b. No-change full audit, Notion limited to "
                                            f"{NOTION_RATE} and Clockify to {CLOCKIFY_RATE} "
                                            "requests/s")
        sc.extra["asked as"] = how if options else "SyncOptions(mode='full') (fallback)"
        self.rate_limited(sc, **(options or {}))

    def rate_limited(self, sc: Scenario, **options) -> None:
        def once():
            self.world.limit_rate("notion", NOTION_RATE, 1.0)
            self.world.limit_rate("clockify", CLOCKIFY_RATE, 1.0)
            try:
                notion = self.connections.notion_client(rate=NOTION_THROTTLE, burst=1)
                clockify = self.connections.clockify_client(rate=CLOCKIFY_THROTTLE, burst=1)
                return self.sync(sc, notion=notion, clockify=clockify, **options)
            finally:
                self.world.unlimit_rate("notion")
                self.world.unlimit_rate("clockify")

        run = self.repeated(sc, once)
        if options:
            sc.extra["run mode"] = getattr(run, "mode", "?")
        # Retried attempts are waste, not need: the bound counts the calls that had to be made.
        needed = {s: sc.calls[s] - sc.retries.get(s, 0) for s in ("notion", "clockify")}
        bounds = {"notion": needed["notion"] / NOTION_RATE,
                  "clockify": needed["clockify"] / CLOCKIFY_RATE}
        bound = max(bounds.values())
        sc.extra["bound_seconds"] = round(bound, 2)
        sc.extra["throttles"] = (f"product: Notion {NOTION_THROTTLE}/s, Clockify "
                                 f"{CLOCKIFY_THROTTLE}/s; emulators: sliding 1 s windows of "
                                 f"{NOTION_RATE} and {CLOCKIFY_RATE}")
        sc.minimum["notion"] = (f"{bounds['notion']:.1f} s = {needed['notion']} calls ÷ "
                                f"{NOTION_RATE}/s")
        sc.minimum["clockify"] = (f"{bounds['clockify']:.1f} s = {needed['clockify']} calls ÷ "
                                  f"{CLOCKIFY_RATE}/s")
        # One after the other would take the sum: what reading side by side saves.
        serial = sum(bounds.values())
        sc.extra["one after the other"] = (f"≥ {serial:.1f} s (the two bounds added), "
                                           f"×{sc.wall / serial:.2f} of it")
        failed = sc.failed_records()
        ratio = sc.wall / bound if bound else float("nan")
        sc.extra["wall ÷ slower bound"] = f"{ratio:.2f}"
        sc.target("wall ≤ 1.1 × max(Notion calls ÷ 3, Clockify calls ÷ 50), no failed record",
                  ratio <= 1.1 and failed == 0 and sc.status == "succeeded",
                  f"{sc.wall_text()} vs bound {bound:.1f} s (×{ratio:.2f}), {failed} failed, "
                  f"{sum(sc.retries.values())} retries, status {sc.status}")
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

        sc.extra["rows"] = self.repeated(sc, lambda: self.measure(sc, listing))
        no_change = self.result("no_change_full")
        if no_change is None:
            self.results.append(sc)
            return
        ratio = no_change.wall / sc.wall
        sc.extra["no_change_over_listing"] = round(ratio, 2)
        # Without the emulators' own time: what the product adds on top of bare listing.
        product = ((no_change.wall - no_change.emulator_seconds)
                   / max(1e-9, sc.wall - sc.emulator_seconds))
        sc.extra["same, client side only"] = (
            f"{no_change.wall - no_change.emulator_seconds:.2f} s ÷ "
            f"{sc.wall - sc.emulator_seconds:.2f} s = {product:.2f} (emulator time excluded)")
        sc.target("no-change sync time ÷ listing time ≤ 1.5 (medians)", ratio <= 1.5,
                  f"{no_change.wall:.2f} s ÷ {sc.wall:.2f} s = {ratio:.2f}")
        self.results.append(sc)

    def s7_n8n(self) -> None:
        ours = self.result("no_change_full")
        for short in (False, True):
            how = "stopping at a short page" if short else "the Clockify node's paging loop"
            sc = Scenario("n8n_3177" + ("_short_pages" if short else ""),
                          f"7{'b' if short else 'a'}. n8n template 3177 pattern, no change "
                          f"({how})", client="the peer")
            peer = {}

            def once(sc=sc, short=short, peer=peer):
                pattern = N8n3177(self.http.new_session(), stop_on_short_page=short)
                peer["writes"] = self.measure(sc, pattern.run)

            self.repeated(sc, once)
            sc.extra["peer writes"] = peer.get("writes") or "none"
            sc.notes.append("plain requests against the same emulators, after this run's "
                            "syncs (their state is what the product left)")
            if ours is not None:
                theirs_c, ours_c = sc.calls["clockify"], ours.calls["clockify"]
                theirs_all = sc.calls["clockify"] + sc.calls["notion"]
                ours_all = ours.calls["clockify"] + ours.calls["notion"]
                sc.extra["ours ÷ theirs, Clockify"] = (
                    f"{ours_c:,} ÷ {theirs_c:,} = {ours_c / max(1, theirs_c):.3f} "
                    f"({theirs_c / max(1, ours_c):.1f}× fewer)")
                sc.extra["ours ÷ theirs, all calls"] = (
                    f"{ours_all:,} ÷ {theirs_all:,} = {ours_all / max(1, theirs_all):.3f}")
                sc.extra["ours ÷ theirs, wall"] = (
                    f"{ours.wall:.2f} s ÷ {sc.wall:.2f} s = {ours.wall / max(1e-9, sc.wall):.2f}")
                sc.target("our no-change Clockify calls ≤ theirs ÷ 300 (issue 13's goal)",
                          ours_c * 300 <= theirs_c,
                          f"{ours_c:,} vs {theirs_c:,} ({theirs_c / max(1, ours_c):.1f}× fewer)")
            self.results.append(sc)

    def s8_import_minute(self) -> None:
        """12,000 pages created in one minute (an import), read by the product's reader.

        Past Notion's 10,000 results the reader splits that minute by the database's ID
        (unique_id) property, so the import goes into a tasks database that has one; the same
        import without it is read too: it must say it cannot be read completely.
        """
        sc = Scenario("import_one_minute",
                      f"8. {IMPORT_PAGES:,} pages created in one minute, read completely")
        from syncapp.sandbox.workspace import Sandbox, tasks_schema

        minute = (time.time() // 60 - 60) * 60  # an hour ago, at the top of a minute
        box = Sandbox(clock=lambda: minute + 30)  # its own Notion: every page in that minute
        with_id, with_id_source = box.notion.add_database(
            "Imported tasks", {**tasks_schema(), "ID": ("unique_id", "T")})
        without_id, without_id_source = box.notion.add_database("Imported tasks (no ID)",
                                                                tasks_schema())
        for source in (with_id_source, without_id_source):
            for i in range(IMPORT_PAGES):
                box.notion.create_page(source, {"Name": f"Imported {i:05d}",
                                                "Status": "Not started"})
        outcome, served = self._import_read(sc, box, with_id, measured=True)
        sc.calls = {"notion": len(box.notion.calls), "clockify": 0}
        sc.writes = {"notion": 0, "clockify": 0}
        sc.by_endpoint = {"notion": dict(Counter(f"{m} {_template(p)}"
                                                 for m, p in box.notion.calls))}
        sc.peak_rss_mb = peak_rss_mb()
        sc.notes.append("this scenario's Notion emulator runs in the product's process, whatever "
                        "--emulators says: its memory is in the figure above")
        read_twice = sum(1 for n in served.values() if n > 1)
        sc.extra["reader"] = "syncapp.services.snapshots.notion_records"
        sc.extra["database"] = "the tasks properties plus an ID (unique_id) property"
        sc.extra["pages served"] = (f"{sum(served.values()):,} ({len(served):,} distinct, "
                                    f"{read_twice:,} served more than once)")
        sc.minimum["notion"] = (f"{math.ceil(IMPORT_PAGES / NOTION_PAGE)} query calls + 1 lookup "
                                f"if the split were known beforehand; the reader first meets "
                                f"the limit ({NOTION_RESULT_LIMIT // NOTION_PAGE} calls)")
        if "error" in outcome:
            sc.status = "failed"
            sc.target(f"all {IMPORT_PAGES:,} read, each once", False,
                      f"the read failed: {outcome['error'][:200]}")
        else:
            records = outcome["records"]
            sc.status = "read"
            # The creation-time pass meets Notion's limit first (those pages come again in
            # the split); past that, no page may come twice.
            sc.target(f"all {IMPORT_PAGES:,} read, each once by the split (after one "
                      f"creation-time pass of at most {NOTION_RESULT_LIMIT:,})",
                      records == IMPORT_PAGES and len(served) == IMPORT_PAGES
                      and max(served.values()) <= 2 and read_twice <= NOTION_RESULT_LIMIT,
                      f"{records:,} records, {len(served):,} distinct pages served, "
                      f"{read_twice:,} served twice, {sc.calls['notion']} calls")
        outcome, served = self._import_read(sc, box, without_id, measured=False)
        error = outcome.get("error", "")
        sc.extra["without an ID property"] = (error[:300] if error else
                                              f"{outcome['records']:,} records")
        sc.target("without an ID property: the reader says it cannot read it completely",
                  error.startswith("QueryIncomplete"),
                  error[:120] if error else f"{outcome['records']:,} records read")
        self.results.append(sc)

    def _import_read(self, sc: Scenario, box, database_id: str, *,
                     measured: bool) -> tuple[dict, Counter]:
        """Read `database_id` of `box` with the product's Notion reader and the task mapping."""
        from django.conf import settings

        from syncapp.engine.records import MappingConfig
        from syncapp.models import DatabaseMapping
        from syncapp.sandbox.transport import EmulatorAdapter
        from syncapp.services import snapshots

        root = settings.SANDBOX_URL.rstrip("/") + "/import"
        served: Counter[str] = Counter()  # page id -> times the emulator returned it

        def count_pages(send):
            def counted(request, *args, **kwargs):
                response = send(request, *args, **kwargs)
                if request.url.rstrip("/").endswith("/query") and response.status_code == 200:
                    served.update(page["id"] for page in response.json().get("results", []))
                return response
            return counted

        def hook(session) -> None:
            box.mount(session, root)
            adapter = session.get_adapter(root + "/notion/")
            if isinstance(adapter, EmulatorAdapter):
                adapter.send = count_pages(adapter.send)

        self.http.SESSION_HOOKS.append(hook)
        mapping = DatabaseMapping.for_kind("task")
        config = MappingConfig("task", dict(mapping.properties), mapping.closed_value_list)
        client = self.connections.notion_client(base_url=root + "/notion")
        outcome: dict = {}
        try:
            box.notion.reset_calls()
            started = time.perf_counter()
            try:
                records = snapshots.notion_records(client, config, database_id)
                records = records if isinstance(records, dict) else list(records)
                outcome["records"] = len(records)
            except Exception as exc:  # noqa: BLE001 - the figure is the outcome
                outcome["error"] = f"{type(exc).__name__}: {exc}"
            if measured:
                sc.wall = time.perf_counter() - started
                sc.walls.append(round(sc.wall, 3))
        finally:
            self.http.SESSION_HOOKS.remove(hook)
        return outcome, served

    def memory_target(self, sc: Scenario) -> None:
        """Peak RSS ≤ 250 MB; honest about what it covers (product alone or with emulators)."""
        if self.local:
            state = self.world.state_mb()
            sc.extra["emulator state"] = (
                f"≈ {state:.0f} MB of Python objects after the run (deep sizeof), so the "
                f"product's share of the peak is ≈ {sc.peak_rss_mb - state:.0f} MB or less; "
                "--emulators process measures it apart")
            sc.target(f"peak RSS ≤ {MEMORY_TARGET_MB} MB (one process: product + emulators)",
                      sc.peak_rss_mb <= MEMORY_TARGET_MB, f"{sc.peak_rss_mb:.0f} MB")
        else:
            sc.target(f"product peak RSS ≤ {MEMORY_TARGET_MB} MB (emulators in their own "
                      "process)", sc.peak_rss_mb <= MEMORY_TARGET_MB,
                      f"{sc.peak_rss_mb:.0f} MB (emulator process {sc.emulator_peak_rss_mb:.0f}"
                      " MB)")


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
def print_scenario(sc: Scenario, bench: Bench) -> None:
    print(f"\n== {sc.title}")
    print(f"   {'':<22}{'Clockify':>12}{'Notion':>12}")
    print(f"   {'API calls':<22}{sc.calls.get('clockify', 0):>12,}{sc.calls.get('notion', 0):>12,}")
    print(f"   {'  of which writes':<22}{sc.writes.get('clockify', 0):>12,}"
          f"{sc.writes.get('notion', 0):>12,}")
    if sc.retries and any(sc.retries.values()):
        print(f"   {'  retries':<22}{sc.retries.get('clockify', 0):>12,}"
              f"{sc.retries.get('notion', 0):>12,}")
    print(f"   wall time            {sc.wall_text()}")
    if len(sc.walls) > 1:
        print(f"     each run           {sc.walls}")
    if sc.timings:
        where = ("in-process emulators and transport" if bench.local
                 else "request handling in the emulator process")
        product = max(0.0, sc.wall - sc.emulator_seconds)
        client = max(0.0, sc.http_seconds - sc.emulator_seconds)
        rest = max(0.0, sc.wall - sc.http_seconds)
        print(f"     emulators          {sc.emulator_seconds:>10.2f} s ({where})")
        if sc.client != "product":  # the peer's own code: no ApiClient, no ORM to split
            print(f"     {sc.client:<19}{product:>10.2f} s (wall − emulators)")
        else:
            print(f"     {sc.client:<19}{product:>10.2f} s (wall − emulators), of which:")
            print(f"       HTTP client side {client:>10.2f} s (ApiClient.request: requests, "
                  f"{'loopback, ' if not bench.local else ''}throttle and retry sleeps)")
            print(f"       everything else  {rest:>10.2f} s (ORM, JSON decoding, normalising, "
                  f"planning; SQL execution {sc.sql_seconds:.2f} s of it)")
        print(f"     garbage collector  {sc.gc_seconds:>10.2f} s in all "
              f"({sc.gc_full_collections} full collections)")
        if sc.client == "product" and sc.key not in SERIAL_READS:
            print("     (a full run reads Clockify on its own thread beside Notion: the emulator "
                  "and HTTP seconds of both threads are added up, so this split is an upper "
                  "bound per part and the parts may exceed the wall)")
    if bench.local or sc.emulator_peak_rss_mb is None:
        mem = f"{sc.peak_rss_mb:.0f} MB peak RSS (one process: product + emulators)"
    else:
        mem = (f"{sc.peak_rss_mb:.0f} MB peak RSS of the product process; emulator process "
               f"{sc.emulator_peak_rss_mb or 0:.0f} MB")
    if bench.args.tracemalloc and sc.traced_peak_mb is not None:
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


# Scenarios whose product reads run on one thread (an incremental poll reads Notion only;
# the listing baseline calls the clients one after the other).
SERIAL_READS = {"no_change_incremental", "listing_baseline"}

SCENARIOS = {
    "initial": "s1_initial", "no_change": "s2_no_change", "audit": "s2_audit",
    "incremental": "s3_incremental", "edits": "s4_edits", "rate_limited": "s5_rate_limited",
    "listing": "s6_listing", "n8n": "s7_n8n", "import_minute": "s8_import_minute",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="dataset size relative to 200/1,000/10,000 (e.g. 0.1, 3, 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--skip-rate-limited", action="store_true",
                        help="skip scenarios 5 and 5b (about 40 s of real throttled waiting "
                             "each per run on B)")
    parser.add_argument("--only", metavar="NAMES",
                        help="comma-separated scenarios to run, in order (the initial sync "
                             f"always runs first): {', '.join(SCENARIOS)}")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the repeatable scenarios (no-change, audit, rate-limited, "
                             "listing, n8n) N times: medians and min–max are printed")
    parser.add_argument("--emulators", choices=("inprocess", "process"), default="inprocess",
                        help="inprocess: mounted on the product's sessions (fast); process: "
                             "served by a child process on a loopback port, so the product's "
                             "peak RSS excludes the emulators (slower: real HTTP)")
    parser.add_argument("--profile", metavar="DIR",
                        help="cProfile every scenario into DIR/<scenario>.prof and print the "
                             "hotspots (inflates the wall times)")
    parser.add_argument("--keep-db", action="store_true",
                        help="keep the temp directory with the SQLite database for inspection")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also trace Python allocations per scenario (slows the runs)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in (args.only or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    if not names:
        names = [n for n in SCENARIOS if not (n == "rate_limited" and args.skip_rate_limited)]
    args.scenarios = ["initial"] + [n for n in names if n != "initial"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="sync-benchmark-"))
    if not args.keep_db:
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    world = None
    if args.emulators == "process":
        # Before Django: the child needs none of it, and the settings read SANDBOX_URL.
        sys.path.insert(0, str(ROOT))
        world = ProcessWorld()
        os.environ["SANDBOX_URL"] = world.url
        os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"),
                                                        "127.0.0.1", "localhost"]))
    setup_django(tmp)
    bench = Bench(args, world or LocalWorld())
    bench.code = code_version()
    started = time.perf_counter()
    seeding = bench.world.seed(bench.sizes)
    if not args.json:
        s = bench.sizes
        print(f"Sync benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}: {s['clients']:,} clients, "
              f"{s['projects']:,} projects, {s['tasks']:,} tasks ({bench.entities:,} entities), "
              f"SQLite in {tmp}, {os.cpu_count()} CPUs, repeat {args.repeat}")
        print(f"Load average at the start: {load_average()} (other work on the machine "
              "slows every wall time below)")
        print(f"Code: {bench.code}")
        if bench.local:
            print(f"Emulators in this process. Seeded in {seeding['seconds']:.1f} s; RSS "
                  f"{seeding['rss_before_mb']:.0f} MB before seeding (Python + Django), "
                  f"{seeding['rss_after_mb']:.0f} MB after (emulator state is in every memory "
                  "figure below)")
        else:
            print(f"Emulators in process {world.process.pid} at {world.url}. Seeded in "
                  f"{seeding['seconds']:.1f} s; emulator process RSS "
                  f"{seeding['rss_after_mb']:.0f} MB; product process RSS {rss_mb():.0f} MB "
                  "(Python + Django); memory figures below are the product process's")
    for name in args.scenarios:
        done = len(bench.results)
        getattr(bench, SCENARIOS[name])()
        if not args.json:
            for scenario in bench.results[done:]:  # a step may add more than one (n8n)
                print_scenario(scenario, bench)
            sys.stdout.flush()

    summary = [(sc.title, t) for sc in bench.results for t in sc.targets]
    total = time.perf_counter() - started
    memory = {"product_or_process_peak_rss_mb": round(bench.max_rss_mb, 1),
              "emulators": args.emulators,
              "emulator_process_peak_rss_mb": round(bench.max_emulator_rss_mb, 1) or None}
    if args.json:
        print(json.dumps({
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "scale": args.scale,
            "cpus": os.cpu_count(), "load_average_end": load_average(),
            "repeat": args.repeat, "sizes": bench.sizes, "seeding": seeding, "code": bench.code,
            "scenarios": [sc.as_json() for sc in bench.results], "memory": memory,
            "summary": [{"scenario": title, **t.__dict__} for title, t in summary],
            "total_seconds": round(total, 1),
        }, indent=2, default=str))
        return 0
    print(f"\n== Summary ({total:.0f} s in all; load average at the end {load_average()})")
    for title, t in summary:
        print(f"   [{'PASS' if t.passed else 'FAIL'}] {title.split(' (')[0]} — {t.name}: "
              f"{t.detail}")
    passed = sum(t.passed for _, t in summary)
    print(f"   {passed}/{len(summary)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
