"""Load test on localhost: cycler PCs uploading small LAND files while lab members browse the dashboard API.

    python bench/load.py [--pcs 20] [--users 30] [--duration 60] [--max-requests 20000] [--json out.json]

Starts everything in a temporary embedded setup (SQLite + filesystem broker under a temp ASSB_VAR_DIR):
gunicorn (2 workers x 4 threads) and one Celery worker (2 processes). 20 simulated cycler PCs each upload a
new small LAND export every few seconds (device tokens); 30 simulated users (user tokens) loop over
GET /api/v1/cells/{id}/cycles/, /curves/ and /api/v1/compare/ with a short think time. Bounded in time and in
requests, localhost only. Afterwards waits for the ingests and prints throughput, latency percentiles,
errors and failed ingests. Targets: zero errors, no failed ingest, dashboard p95 < 500 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETUP = """
import json, sys, django
django.setup()
from unittest import mock
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from cells.models import CyclerDevice
from cells.roles import VIEWER
from cycling import services
from tests.factories import CellFactory, ProjectFactory, UserFactory
from tests.landfiles import study_export, upload_file

n_pcs, n_users = int(sys.argv[1]), int(sys.argv[2])
project = ProjectFactory(name="Load test")
cells = [CellFactory(project=project, name=f"LOAD-{k:02d}") for k in range(n_pcs)]
for k, cell in enumerate(cells):  # each cell starts with one imported 50-cycle run to browse
    data = study_export("coated", n_cycles=50, points=40, replicate=k + 1)[0]
    with mock.patch.object(services, "datafile_enqueue"):
        datafile, _ = services.datafile_create(cell=cell, upload=upload_file(data, f"{cell.name}.xlsx"), kind="cycling")
    services.datafile_ingest(datafile_id=datafile.pk)
devices = []
for k in range(n_pcs):
    device = CyclerDevice.objects.create(name=f"cycler-pc-{k:02d}")
    device.projects.add(project)
    devices.append(device.key)
users = []
for k in range(n_users):
    user = UserFactory(username=f"member{k:02d}", roles=[VIEWER])
    project.members.add(user)
    users.append(Token.objects.create(user=user).key)
print(json.dumps({"cells": [c.pk for c in cells], "names": [c.name for c in cells], "devices": devices,
                  "users": users}))
"""

STATUS = """
import json, sys, django
django.setup()
from django.db.models import F
from cycling.models import DataFile
ids = json.loads(sys.argv[1])
rows = list(DataFile.objects.filter(pk__in=ids).values("status", "error", "created_at", "finished_at"))
print(json.dumps({"status": [r["status"] for r in rows], "errors": [r["error"] for r in rows if r["error"]][:5],
                  "latency_s": [(r["finished_at"] - r["created_at"]).total_seconds() for r in rows
                                if r["finished_at"] and r["status"] == "imported"]}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} not open after {timeout_s} s")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency = defaultdict(list)
        self.errors = defaultdict(list)
        self.count = 0

    def add(self, kind, seconds, ok, detail=""):
        with self.lock:
            self.count += 1
            self.latency[kind].append(seconds)
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


def run(args) -> dict:
    import requests

    var = Path(tempfile.mkdtemp(prefix="assb-load-"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "assb_lab.settings", "ASSB_VAR_DIR": str(var),
           "ASSB_HTTPS": "0", "DEBUG": "0", "CELERY_BROKER_URL": "filesystem://", "PYTHONUNBUFFERED": "1",
           "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    procs = []
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        print("setting up cells, devices, users and preloaded runs ...", flush=True)
        setup = subprocess.run([sys.executable, "-c", SETUP, str(args.pcs), str(args.users)], cwd=ROOT, env=env,
                               check=True, capture_output=True, text=True)
        world = json.loads(setup.stdout.strip().splitlines()[-1])
        uploads_per_pc = max(1, int(args.duration / args.upload_every_s) + 1)
        exports = make_exports(args.pcs * uploads_per_pc, seed=7)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "assb_lab.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "2",
             "--threads", "4", "--timeout", "60"], cwd=ROOT, env=env, stdout=(var / "gunicorn.log").open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "assb_lab", "worker", "-l", "warning", "-c", "2",
             "--without-mingle", "--without-gossip", "--without-heartbeat", "-n", "load@%h"],
            cwd=ROOT, env=env, stdout=(var / "worker.log").open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True))
        wait_port(port)

        stats, uploaded = Stats(), []
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
                others = ",".join(str(c) for c in local.sample(world["cells"], 3))
                for kind, url in (("cycles", f"/api/v1/cells/{cell}/cycles/"),
                                  ("curves", f"/api/v1/cells/{cell}/curves/?cycles=1,2,10,last"),
                                  ("compare", f"/api/v1/compare/?cells={others}")):
                    if not budget_left():
                        return
                    t0 = time.perf_counter()
                    try:
                        resp = session.get(f"{base}{url}", timeout=30)
                        stats.add(kind, time.perf_counter() - t0, resp.status_code == 200,
                                  f"{resp.status_code} {resp.text[:100]}")
                    except requests.RequestException as exc:
                        stats.add(kind, time.perf_counter() - t0, False, repr(exc))
                    time.sleep(local.uniform(0.2, 1.0))  # think time

        print(f"load: {args.pcs} cycler PCs, {args.users} users, {args.duration:.0f} s ...", flush=True)
        started = time.monotonic()
        threads = [threading.Thread(target=pc, args=(k,)) for k in range(args.pcs)]
        threads += [threading.Thread(target=user, args=(k,)) for k in range(args.users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started

        # Let the worker finish what was uploaded (bounded).
        deadline = time.monotonic() + args.drain_s
        while True:
            out = subprocess.run([sys.executable, "-c", STATUS, json.dumps(uploaded)], cwd=ROOT, env=env,
                                 capture_output=True, text=True, check=True)
            ingest = json.loads(out.stdout.strip().splitlines()[-1])
            if all(s in ("imported", "failed") for s in ingest["status"]) or time.monotonic() > deadline:
                break
            time.sleep(2)

        report = {"pcs": args.pcs, "users": args.users, "duration_s": round(elapsed, 1),
                  "requests": stats.count, "throughput_rps": round(stats.count / elapsed, 1), "endpoints": {}}
        dashboard = []
        for kind, values in stats.latency.items():
            if kind != "upload":
                dashboard += values
            report["endpoints"][kind] = {
                "n": len(values), "errors": len(stats.errors[kind]),
                "p50_ms": round(1000 * percentile(values, 0.5), 1), "p95_ms": round(1000 * percentile(values, 0.95), 1),
                "p99_ms": round(1000 * percentile(values, 0.99), 1), "max_ms": round(1000 * max(values), 1),
            }
        report["dashboard"] = {"n": len(dashboard), "p50_ms": round(1000 * percentile(dashboard, 0.5), 1),
                               "p95_ms": round(1000 * percentile(dashboard, 0.95), 1),
                               "p99_ms": round(1000 * percentile(dashboard, 0.99), 1)}
        statuses = ingest["status"]
        report["ingest"] = {
            "uploaded": len(uploaded), "imported": statuses.count("imported"), "failed": statuses.count("failed"),
            "unfinished": sum(s not in ("imported", "failed") for s in statuses), "errors": ingest["errors"],
            "upload_to_imported_p50_s": round(statistics.median(ingest["latency_s"]), 2) if ingest["latency_s"] else None,
            "upload_to_imported_p95_s": round(percentile(ingest["latency_s"], 0.95), 2) if ingest["latency_s"] else None,
        }
        report["errors"] = {k: v[:3] for k, v in stats.errors.items() if v}
        report["targets_met"] = {
            "zero_errors": not any(stats.errors.values()),
            "no_failed_ingest": report["ingest"]["failed"] == 0 and report["ingest"]["unfinished"] == 0,
            "dashboard_p95_below_500ms": report["dashboard"]["p95_ms"] < 500,
        }
        return report
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if not args.keep:
            shutil.rmtree(var, ignore_errors=True)
        else:
            print(f"kept {var}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pcs", type=int, default=20)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--upload-every-s", type=float, default=6.0)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--drain-s", type=float, default=120)
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    args = parser.parse_args()
    report = run(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    sys.exit(0 if all(report["targets_met"].values()) else 1)


if __name__ == "__main__":
    main()
