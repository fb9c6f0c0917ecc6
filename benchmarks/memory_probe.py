"""Memory probe: the product's own peak RSS during a whole sync, apart from the emulators.

Run by hand, not a test:

    SANDBOX=true .venv/bin/python benchmarks/memory_probe.py --scale 3
    SANDBOX=true .venv/bin/python benchmarks/memory_probe.py --scale 1 --top 15

`sync_benchmark.py` runs the emulators in its own process, so its peak RSS is the product
plus the seeded emulator state. Here the emulators run in a child process served over
loopback HTTP (as `make demo` serves them), so the figure measured in this process is the
product's alone: Django, the clients, the engine and the ORM. The child's peak is printed
beside it. Scenarios: the initial sync (empty Clockify) and a no-change full resync, each
on dataset B (200 clients, 1,000 projects, 10,000 tasks) times --scale.

--top N also traces Python allocations (slower) and prints the N biggest allocation sites
of the product, snapshotted where each kind's changes have been planned.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = {"clients": 200, "projects": 1000, "tasks": 10_000}


def status_mb(key: str, pid: int | str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak(pid: int | str = "self") -> None:
    """Linux: reset VmHWM so each scenario gets its own peak."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


# -- the child: emulators served on loopback ------------------------------------------------
def serve(scale: float) -> None:
    sys.path.insert(0, str(ROOT))
    from syncapp.sandbox.demo import seed_scale
    from syncapp.sandbox.server import serve as make_server
    from syncapp.sandbox.workspace import Sandbox

    # Seeded pages are stamped over past minutes, 1,000 a minute: seeding takes seconds, and
    # more than 10,000 pages created in one minute would need an ID property to be read.
    wanted = sizes(scale)
    behind = {"seconds": 60.0 * (sum(wanted.values()) // 1000 + 2)}
    box = Sandbox(clock=lambda: time.time() - behind["seconds"])
    create_page = box.notion.create_page

    def create_in_past_minutes(*args, **kwargs):
        page = create_page(*args, **kwargs)
        created["count"] += 1
        if created["count"] % 1000 == 0:
            behind["seconds"] -= 60
        return page

    created = {"count": 0}
    box.notion.create_page = create_in_past_minutes
    seed_scale(box, **wanted)
    behind["seconds"] = 0.0
    server = make_server(box, port=0)
    # Headers and body go out in two writes: without this, every answer waits for the
    # client's delayed ACK (40 ms) and the run measures TCP, not the product.
    server.RequestHandlerClass.disable_nagle_algorithm = True
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


def sizes(scale: float) -> dict[str, int]:
    return {k: max(1, round(v * scale)) for k, v in FULL.items()}


# -- the parent: the product ------------------------------------------------------------------
def setup_django(tmp: Path, port: int) -> None:
    os.environ.update({
        "SANDBOX": "true", "DEBUG": "false", "VAR_DIR": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'probe.sqlite3'}",
        "SANDBOX_URL": f"http://127.0.0.1:{port}", "DJANGO_SETTINGS_MODULE": "syncsite.settings",
    })
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from syncapp.services import connections

    connections.CLIENT_DEFAULTS.update({"rate": 1e9, "burst": 1_000_000})


def trace_plans(top: int) -> None:
    """Print the product's biggest allocation sites once each kind's changes are planned."""
    from syncapp.services import sync

    original = sync.plan

    def plan_and_show(snapshot):
        changes = original(snapshot)
        shot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, "*/tracemalloc.py")])
        current, peak = tracemalloc.get_traced_memory()
        print(f"   -- {snapshot.kind}s planned ({len(changes):,} changes): traced "
              f"{current / 2**20:.0f} MB now, {peak / 2**20:.0f} MB peak; top sites:")
        for stat in shot.statistics("lineno")[:top]:
            frame = stat.traceback[0]
            name = frame.filename.split("/site-packages/")[-1].split(str(ROOT) + "/")[-1]
            print(f"      {stat.size / 2**20:7.1f} MB {stat.count:>9,}  {name}:{frame.lineno}")
        return changes

    sync.plan = plan_and_show


def run_once(title: str, child: subprocess.Popen, top: int) -> dict:
    from syncapp.services.sync import SyncOptions, run_sync

    reset_peak()
    reset_peak(child.pid)
    if top:
        tracemalloc.start()
    started = time.perf_counter()
    run = run_sync(SyncOptions(trigger="command", triggered_by="memory probe"))
    wall = time.perf_counter() - started
    if top:
        tracemalloc.stop()
    counts = {kind: {k: v for k, v in c.items() if v} for kind, c in (run.counts or {}).items()}
    result = {"title": title, "wall": wall, "product_peak_mb": status_mb("VmHWM"),
              "emulator_peak_mb": status_mb("VmHWM", child.pid), "status": run.status,
              "counts": counts}
    print(f"== {title}: product peak RSS {result['product_peak_mb']:.0f} MB, emulators "
          f"(other process) {result['emulator_peak_mb']:.0f} MB, {wall:.1f} s, run "
          f"{run.status}")
    print(f"   counts {counts}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--top", type=int, default=0, metavar="N",
                        help="trace allocations; print the N biggest sites per planned kind")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.scale)
        return 0

    child = subprocess.Popen([sys.executable, __file__, "--serve", "--scale", str(args.scale)],
                             stdout=subprocess.PIPE, text=True)
    atexit.register(child.terminate)
    line = child.stdout.readline().split()
    if not line or line[0] != "ready":
        print("the emulator process did not start", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="memory-probe-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    before = status_mb("VmRSS")
    setup_django(tmp, int(line[1]))
    s = sizes(args.scale)
    print(f"Memory probe: {s['clients']:,} clients, {s['projects']:,} projects, "
          f"{s['tasks']:,} tasks; emulators in process {child.pid} "
          f"({status_mb('VmRSS', child.pid):.0f} MB once seeded); this process "
          f"{before:.0f} MB bare, {status_mb('VmRSS'):.0f} MB with Django")
    if args.top:
        trace_plans(args.top)
    results = [run_once("initial sync", child, args.top),
               run_once("no-change full resync", child, args.top)]
    worst = max(r["product_peak_mb"] for r in results)
    print(f"Product peak RSS at {args.scale:g}×B: {worst:.0f} MB (target ≤ 250 MB: "
          f"{'PASS' if worst <= 250 else 'FAIL'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
