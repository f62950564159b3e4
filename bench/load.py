"""Load test on localhost: cycler PCs uploading small LAND files while lab members browse the dashboard API.

    python bench/load.py --stack production [--pcs 20] [--users 30] [--duration 60] [--json out.json]
    python bench/load.py --stack both --duration 30      # embedded, then production; one table side by side

Stacks (bench/stack.py):
  embedded    SQLite + filesystem broker under a temporary folder; gunicorn (2 workers x 4 threads) and one
              Celery worker (2 processes), as quickstart.py runs it.
  production  the machine's PostgreSQL (database `assb_load`, made anew and dropped after) and Redis (db 5,
              flushed before and after); gunicorn (2 x 4), `--workers` Celery worker nodes of `--concurrency`
              processes (default 2 x 1) and ONE celery beat, with docker-compose.yml's settings.

Each cycler PC (device token) uploads a new small LAND export every `--upload-every-s` seconds; each user
(user token) loops over GET /api/v1/cells/{id}/cycles/, /curves/ and /api/v1/compare/ with a short think
time. Bounded by --duration and --max-requests; localhost only. Afterwards it waits for the ingests and
prints a summary table (latency percentiles, errors, failed ingests, upload -> imported) and whether the
targets are met: zero errors, no failed or unfinished ingest, dashboard p95 < 250 ms and p99 < 1 s,
upload -> imported p95 < 30 s. Exit status 1 when a target is missed. The share of dashboard answers served from the cache (the `X-Cache`
response header, cycling/cache.py) is reported per endpoint; the load itself does not depend on it.

Needs only the runtime requirements (requirements.txt), e.g. the venv quickstart.py makes.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import ROOT, add_stack_options, make_stack, percentile, require  # noqa: E402

sys.path.insert(0, str(ROOT))

TARGETS = {"dashboard_p95_ms": 250, "dashboard_p99_ms": 1000, "upload_to_imported_p95_s": 30}

# Registry for the run, made with the models only (no test factories: this runs from the runtime venv).
SETUP = """
import json, sys, django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from cells.demo import COATED, load_study_registry
from cells.models import Cell, CyclerDevice
from cells.roles import VIEWER
from cycling import services
from cycling.simulate import study_cell
from cycling.testing import write_land
import io

n_pcs, n_users = int(sys.argv[1]), int(sys.argv[2])
template = next(c for c in load_study_registry() if c.group.name == COATED)
project = template.project
cells = []
for k in range(n_pcs):  # one cell per cycler PC, built like the study's coated cell
    cell = Cell.objects.get(pk=template.pk)
    cell.pk, cell.id, cell.name = None, None, f"LOAD-{k:02d}"
    cell._state.adding = True
    cell.save()
    cells.append(cell)
for k, cell in enumerate(cells):  # each cell starts with one imported 50-cycle run to browse
    records, _ = study_cell("coated", n_cycles=50, points_per_half_cycle=40, replicate=k + 1)
    buf = io.BytesIO()
    write_land(records, buf)
    upload = SimpleUploadedFile(f"{cell.name}.xlsx", buf.getvalue())
    datafile, _ = services.datafile_create(cell=cell, upload=upload, kind="cycling", enqueue=False)
    services.datafile_ingest(datafile_id=datafile.pk)
devices = []
for k in range(n_pcs):
    device = CyclerDevice.objects.create(name=f"cycler-pc-{k:02d}")
    device.projects.add(project)
    devices.append(device.key)
viewer = Group.objects.get(name=VIEWER)
users = []
for k in range(n_users):
    user = get_user_model().objects.create_user(username=f"member{k:02d}", password=None)
    user.groups.add(viewer)
    project.members.add(user)
    users.append(Token.objects.create(user=user).key)
print(json.dumps({"cells": [c.pk for c in cells], "names": [c.name for c in cells], "devices": devices,
                  "users": users}))
"""

STATUS = """
import json, sys, django
django.setup()
from cycling.models import DataFile
ids = json.loads(sys.argv[1])
rows = list(DataFile.objects.filter(pk__in=ids).values("status", "error", "created_at", "finished_at"))
print(json.dumps({"status": [r["status"] for r in rows], "errors": [r["error"] for r in rows if r["error"]][:5],
                  "latency_s": [(r["finished_at"] - r["created_at"]).total_seconds() for r in rows
                                if r["finished_at"] and r["status"] == "imported"]}))
"""


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency = defaultdict(list)
        self.errors = defaultdict(list)
        self.hits = defaultdict(int)
        self.count = 0

    def add(self, kind, seconds, ok, detail="", hit=False):
        with self.lock:
            self.count += 1
            self.latency[kind].append(seconds)
            self.hits[kind] += bool(hit)
            if not ok:
                self.errors[kind].append(detail)


def make_exports(n: int, seed: int) -> list[bytes]:
    """Small LAND workbooks (3 cycles, ~180 records), each different."""
    from cycling.simulate import study_cell
    from cycling.testing import write_land

    out = []
    for k in range(n):
        records, _ = study_cell("coated", n_cycles=3, points_per_half_cycle=15, seed=seed * 1000 + k)
        buf = io.BytesIO()
        write_land(records, buf)
        out.append(buf.getvalue())
    return out


def drive(base: str, world: dict, exports: list[bytes], args) -> tuple[Stats, list[int], float]:
    """Run the PCs and the users against `base` until the time or request budget is spent."""
    import requests

    stats, uploaded = Stats(), []
    uploads_per_pc = len(exports) // args.pcs
    stop_at = time.monotonic() + args.duration
    rng = random.Random(1)

    def budget_left():
        return time.monotonic() < stop_at and stats.count < args.max_requests

    def pc(k):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {world['devices'][k]}"
        time.sleep(rng.uniform(0, args.upload_every_s))
        for j in range(uploads_per_pc):
            if not budget_left():
                return
            data = exports[k * uploads_per_pc + j]
            t0 = time.perf_counter()
            try:
                resp = session.post(f"{base}/api/v1/datafiles/", files={"file": (f"pc{k}-{j}.xlsx", data)},
                                    data={"cell": world["names"][k]}, timeout=30)
                ok = resp.status_code == 202
                if ok:
                    uploaded.append(resp.json()["id"])
                stats.add("upload", time.perf_counter() - t0, ok, f"{resp.status_code} {resp.text[:100]}")
            except requests.RequestException as exc:
                stats.add("upload", time.perf_counter() - t0, False, repr(exc))
            time.sleep(args.upload_every_s)

    def user(k):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {world['users'][k]}"
        local = random.Random(k)
        while budget_left():
            cell = local.choice(world["cells"])
            others = ",".join(str(c) for c in local.sample(world["cells"], min(3, len(world["cells"]))))
            for kind, url in (("cycles", f"/api/v1/cells/{cell}/cycles/"),
                              ("curves", f"/api/v1/cells/{cell}/curves/?cycles=1,2,10,last"),
                              ("compare", f"/api/v1/compare/?cells={others}")):
                if not budget_left():
                    return
                t0 = time.perf_counter()
                try:
                    resp = session.get(f"{base}{url}", timeout=30)
                    stats.add(kind, time.perf_counter() - t0, resp.status_code == 200,
                              f"{resp.status_code} {resp.text[:100]}", hit=resp.headers.get("X-Cache") == "hit")
                except requests.RequestException as exc:
                    stats.add(kind, time.perf_counter() - t0, False, repr(exc))
                time.sleep(local.uniform(0.2, 1.0))  # think time

    started = time.monotonic()
    threads = [threading.Thread(target=pc, args=(k,)) for k in range(args.pcs)]
    threads += [threading.Thread(target=user, args=(k,)) for k in range(args.users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats, uploaded, time.monotonic() - started


def warm_up(base: str, world: dict, args) -> None:
    """A few unmeasured requests per gunicorn thread: the first call of each view imports its libraries."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    headers = {"Authorization": f"Token {world['users'][0]}"}
    urls = [f"{base}/api/v1/cells/{world['cells'][0]}/cycles/", f"{base}/api/v1/cells/{world['cells'][0]}/curves/",
            f"{base}/api/v1/compare/?cells={','.join(map(str, world['cells'][:3]))}"]
    with ThreadPoolExecutor(max_workers=args.web_threads) as pool:
        list(pool.map(lambda url: requests.get(url, headers=headers, timeout=60),
                      urls * 2 * args.web_workers * args.web_threads))


def run_stack(kind: str, args) -> dict:
    with make_stack(kind, args) as stack:
        stack.prepare()
        print(f"[{kind}] setting up {args.pcs} cells, devices, {args.users} users and preloaded runs ...", flush=True)
        world = stack.script(SETUP, str(args.pcs), str(args.users))
        uploads_per_pc = max(1, int(args.duration / args.upload_every_s) + 1)
        exports = make_exports(args.pcs * uploads_per_pc, seed=7)
        base = stack.start_web(workers=args.web_workers, threads=args.web_threads)
        if kind == "embedded":
            stack.start_workers(1, 2)
            layout = "gunicorn + 1 worker x 2 processes"
        else:
            stack.start_workers(args.workers, args.concurrency)
            stack.start_beat()
            layout = f"gunicorn + {args.workers} workers x {args.concurrency} processes + 1 beat"
        warm_up(base, world, args)
        print(f"[{kind}] load: {args.pcs} cycler PCs, {args.users} users, {args.duration:.0f} s ({layout}) ...",
              flush=True)
        stats, uploaded, elapsed = drive(base, world, exports, args)

        deadline = time.monotonic() + args.drain_s  # let the workers finish what was uploaded (bounded)
        while True:
            ingest = stack.script(STATUS, json.dumps(uploaded))
            if all(s in ("imported", "failed") for s in ingest["status"]) or time.monotonic() > deadline:
                break
            time.sleep(2)
    return summarize(kind, layout, args, stats, uploaded, elapsed, ingest)


def summarize(kind, layout, args, stats, uploaded, elapsed, ingest) -> dict:
    def ms(values, q):
        return round(1000 * percentile(values, q), 1)

    report = {"stack": kind, "layout": layout, "pcs": args.pcs, "users": args.users, "duration_s": round(elapsed, 1),
              "requests": stats.count, "throughput_rps": round(stats.count / elapsed, 1), "endpoints": {}}
    dashboard = []
    for name, values in stats.latency.items():
        if name != "upload":
            dashboard += values
        report["endpoints"][name] = {"n": len(values), "errors": len(stats.errors[name]),
                                     "cache_hit_percent": round(100 * stats.hits[name] / len(values), 1),
                                     "p50_ms": ms(values, 0.5),
                                     "p95_ms": ms(values, 0.95), "p99_ms": ms(values, 0.99),
                                     "max_ms": round(1000 * max(values), 1)}
    report["dashboard"] = {"n": len(dashboard), "p50_ms": ms(dashboard, 0.5), "p95_ms": ms(dashboard, 0.95),
                           "p99_ms": ms(dashboard, 0.99)}
    statuses, latency = ingest["status"], ingest["latency_s"]
    report["ingest"] = {
        "uploaded": len(uploaded), "imported": statuses.count("imported"), "failed": statuses.count("failed"),
        "unfinished": sum(s not in ("imported", "failed") for s in statuses), "errors": ingest["errors"],
        "upload_to_imported_p50_s": round(statistics.median(latency), 2) if latency else None,
        "upload_to_imported_p95_s": round(percentile(latency, 0.95), 2) if latency else None,
    }
    report["errors"] = {k: v[:3] for k, v in stats.errors.items() if v}
    p95_ingest = report["ingest"]["upload_to_imported_p95_s"]
    report["targets_met"] = {
        "zero_errors": not any(stats.errors.values()),
        "no_failed_ingest": report["ingest"]["failed"] == 0 and report["ingest"]["unfinished"] == 0,
        "dashboard_p95_below_250ms": report["dashboard"]["p95_ms"] < TARGETS["dashboard_p95_ms"],
        "dashboard_p99_below_1s": report["dashboard"]["p99_ms"] < TARGETS["dashboard_p99_ms"],
        "upload_to_imported_p95_below_30s": p95_ingest is not None and p95_ingest < TARGETS["upload_to_imported_p95_s"],
    }
    return report


def table(reports: list[dict]) -> str:
    """The reports side by side, one column per stack."""
    def endpoint(name, key):
        return lambda r: r["endpoints"].get(name, {}).get(key, "-")

    def yes(flag):
        return lambda r: "met" if r["targets_met"][flag] else "MISSED"

    rows = [
        ("layout", lambda r: r["layout"]),
        ("PCs / users / seconds", lambda r: f"{r['pcs']} / {r['users']} / {r['duration_s']}"),
        ("requests (req/s)", lambda r: f"{r['requests']} ({r['throughput_rps']})"),
        ("HTTP errors", lambda r: sum(e["errors"] for e in r["endpoints"].values())),
        ("dashboard p50 ms", lambda r: r["dashboard"]["p50_ms"]),
        ("dashboard p95 ms (< 250)", lambda r: r["dashboard"]["p95_ms"]),
        ("dashboard p99 ms (< 1000)", lambda r: r["dashboard"]["p99_ms"]),
        ("  cycles p95 ms", endpoint("cycles", "p95_ms")),
        ("  curves p95 ms", endpoint("curves", "p95_ms")),
        ("  compare p95 ms", endpoint("compare", "p95_ms")),
        ("  cache hits % (cycles/curves/compare)", lambda r: "/".join(
            str(r["endpoints"].get(k, {}).get("cache_hit_percent", "-")) for k in ("cycles", "curves", "compare"))),
        ("upload p95 ms", endpoint("upload", "p95_ms")),
        ("uploaded / imported", lambda r: f"{r['ingest']['uploaded']} / {r['ingest']['imported']}"),
        ("failed / unfinished", lambda r: f"{r['ingest']['failed']} / {r['ingest']['unfinished']}"),
        ("upload -> imported p50 s", lambda r: r["ingest"]["upload_to_imported_p50_s"]),
        ("upload -> imported p95 s (< 30)", lambda r: r["ingest"]["upload_to_imported_p95_s"]),
        ("target: zero errors", yes("zero_errors")),
        ("target: no failed ingest", yes("no_failed_ingest")),
        ("target: dashboard p95", yes("dashboard_p95_below_250ms")),
        ("target: dashboard p99", yes("dashboard_p99_below_1s")),
        ("target: upload -> imported p95", yes("upload_to_imported_p95_below_30s")),
    ]
    cells = [[label, *(str(get(r)) for r in reports)] for label, get in rows]
    header = ["", *(r["stack"] for r in reports)]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]

    def line(row):
        return "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", choices=["embedded", "production", "both"], default="embedded")
    parser.add_argument("--pcs", type=int, default=20, help="simulated cycler PCs, one cell each")
    parser.add_argument("--users", type=int, default=30, help="simulated lab members browsing")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load per stack")
    parser.add_argument("--upload-every-s", type=float, default=6.0)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--drain-s", type=float, default=120, help="how long to wait for the last ingests")
    parser.add_argument("--workers", type=int, default=2, help="production: Celery worker nodes")
    parser.add_argument("--concurrency", type=int, default=1, help="production: processes per worker node")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--json", help="also write the reports here")
    add_stack_options(parser, redis_db=5, db_name="assb_load")
    args = parser.parse_args()
    require("requests", "gunicorn", "celery", *(["psycopg", "redis"] if args.stack != "embedded" else []))

    kinds = ["embedded", "production"] if args.stack == "both" else [args.stack]
    reports = [run_stack(kind, args) for kind in kinds]
    print(table(reports))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(reports, indent=2))
    for report in reports:
        if report["errors"] or report["ingest"]["errors"]:
            print(f"[{report['stack']}] first errors: {json.dumps(report['errors'])} {report['ingest']['errors']}")
    sys.exit(0 if all(all(r["targets_met"].values()) for r in reports) else 1)


if __name__ == "__main__":
    main()
