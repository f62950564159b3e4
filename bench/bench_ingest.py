"""Benchmark the ingest end to end: HTTP upload to a real runserver -> Celery worker process -> `imported`.

    python bench/bench_ingest.py [--cycles 502] [--points 300] [--small 40] [--concurrency 2] [--out bench/out]

Embedded mode in a fresh temporary ASSB_VAR_DIR (SQLite + filesystem broker, `migrate` first). Measures
  1. one 500-cycle LAND workbook (>= 300,000 records): wall time from the start of the POST until the
     data file reads `imported`, against the bare read_land + analyse of the same file in this
     process (target: ratio <= 2);
  2. the worker's peak memory: VmHWM of the worker's pool processes from /proc (target < 1.5 GB);
  3. throughput of `--small` small exports through a worker with `-c --concurrency` pool processes.
The big workbook is cached in the out folder (writing it takes ~30 s). Prints a table and writes
bench/out/bench_ingest.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def generate(path: Path, cycles: int, points: int) -> int:
    from cycling.simulate import study_cell
    from cycling.testing import write_land

    records, _ = study_cell("coated", n_cycles=cycles, points_per_half_cycle=points)
    tmp = path.with_suffix(".tmp")
    write_land(records, tmp, variant="modern", constant_memory=True)
    tmp.replace(path)  # a run interrupted while writing leaves no half file in the cache
    return len(records)


def small_exports(n: int) -> list[bytes]:
    from cycling.simulate import study_cell
    from cycling.testing import write_land

    out = []
    for k in range(n):
        records, _ = study_cell("coated", n_cycles=10, points_per_half_cycle=30, replicate=k + 1)
        buf = io.BytesIO()
        write_land(records, buf)
        out.append(buf.getvalue())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Pids of all processes below `pid` (from /proc/*/stat; no psutil)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        frontier += children
    return found


def vm_hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def worker_memory(pid: int) -> dict:
    pool = {p: vm_hwm_mib(p) for p in descendants(pid)}
    return {"main_peak_mib": vm_hwm_mib(pid), "pool_peak_mib": max(pool.values(), default=0.0),
            "pool_processes": len(pool)}


class Stack:
    """runserver + a Celery worker on the embedded settings of one var dir."""

    def __init__(self, env: dict, log_dir: Path):
        self.env, self.log_dir, self.procs = env, log_dir, {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _start(self, name, cmd):
        log = (self.log_dir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self.procs[name]

    def start_server(self):
        import requests

        self._start("server", [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/api/v1/datafiles/", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError(f"runserver did not come up; see {self.log_dir / 'server.log'}")

    def start_worker(self, concurrency: int):
        return self._start("worker", [sys.executable, "-m", "celery", "-A", "assb_lab", "worker", "-l", "warning",
                                      "-P", "prefork", "-c", str(concurrency), "--without-mingle",
                                      "--without-gossip", "--without-heartbeat", "-n", "bench@%h"])

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def make_cell_and_device():
    from cells.models import Cell, CellGroup, CyclerDevice, Material, Project

    project = Project.objects.create(name="bench")
    group = CellGroup.objects.create(project=project, name="coated")
    nmc = Material.objects.create(name="SC-NMC532", kind="cathode_active", theoretical_capacity_mah_g=160.0)
    lgps = Material.objects.create(name="LGPS", kind="solid_electrolyte")
    inli = Material.objects.create(name="In-Li", kind="anode", potential_vs_li_v=0.62)
    cells = [Cell.objects.create(name=name, project=project, group=group, cathode_material=nmc, electrolyte=lgps,
                                 anode=inli, cathode_active_fraction=0.70, composite_loading_mg_cm2=12.0,
                                 die_diameter_mm=10.0, theoretical_capacity_mah_g=160.0)
             for name in ("BENCH-BIG", "BENCH-WARM", "BENCH-SMALL")]
    device = CyclerDevice.objects.create(name="bench-pc")
    device.projects.add(project)
    return cells, device


def post(session, url, cell, name, data) -> int:
    resp = session.post(f"{url}/api/v1/datafiles/", files={"file": (name, data)}, data={"cell": cell.name},
                        timeout=600)
    if resp.status_code != 202:
        raise RuntimeError(f"upload of {name}: {resp.status_code} {resp.text[:300]}")
    return resp.json()["id"]


def wait_done(ids, timeout_s: float, interval_s: float = 0.05) -> float:
    from cycling.models import DataFile

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = DataFile.objects.filter(pk__in=ids, status__in=["imported", "failed"]).count()
        if done == len(ids):
            return time.perf_counter()
        time.sleep(interval_s)
    raise RuntimeError(f"not finished after {timeout_s} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=502)
    parser.add_argument("--points", type=int, default=300, help="records per half cycle (CC part)")
    parser.add_argument("--small", type=int, default=40, help="small files for the throughput run")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes (-c)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--keep", action="store_true", help="keep the temporary var dir (logs, database)")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    big = args.out / f"land_{args.cycles}cycles_{args.points}pts.xlsx"
    if not big.exists():
        start = time.perf_counter()
        n = generate(big, args.cycles, args.points)
        print(f"generated {big.name}: {n:,} records in {time.perf_counter() - start:.1f} s")

    var = Path(tempfile.mkdtemp(prefix="assb-bench-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT")}
    env.update({"DJANGO_SETTINGS_MODULE": "assb_lab.settings", "ASSB_VAR_DIR": str(var), "ASSB_HTTPS": "0",
                "DEBUG": "0", "CELERY_TASK_ALWAYS_EAGER": "0", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    os.environ.clear()
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    import requests

    from cycling.analysis import analyse
    from cycling.models import DataFile
    from cycling.parsers import read_land
    from cycling.services import cell_spec

    (big_cell, warm_cell, small_cell), device = make_cell_and_device()
    data = big.read_bytes()
    smalls = small_exports(args.small)

    # Bare parse + analysis of the same file, in this process (what the worker must do at the least).
    start = time.perf_counter()
    export = read_land(io.BytesIO(data), name=big.name)
    cycles = analyse(export, cell_spec(big_cell)).cycles
    bare_s = time.perf_counter() - start
    n_records, n_cycles = len(export.records), len(cycles)
    del export, cycles

    stack = Stack(env, var)
    report = {}
    try:
        stack.start_server()
        worker = stack.start_worker(args.concurrency)
        session = requests.Session()
        session.headers["Authorization"] = f"Token {device.key}"
        # Warm-up: the pool processes import pandas/parsers on their first task, as a long-running worker has.
        warm = [post(session, stack.url, warm_cell, f"warm{k}.xlsx", smalls[k]) for k in range(args.concurrency)]
        wait_done(warm, 120)

        start = time.perf_counter()
        big_id = post(session, stack.url, big_cell, big.name, data)
        posted = time.perf_counter()
        done = wait_done([big_id], 900)
        e2e_s = done - start
        datafile = DataFile.objects.get(pk=big_id)
        if datafile.status != "imported":
            raise RuntimeError(f"the big file failed: {datafile.error}")
        memory = worker_memory(worker.pid)
        stages = {
            "upload_s": posted - start,
            "queue_wait_s": (datafile.started_at - datafile.created_at).total_seconds(),
            "worker_ingest_s": (datafile.finished_at - datafile.started_at).total_seconds(),
        }

        start = time.perf_counter()
        ids = [post(session, stack.url, small_cell, f"small{k:03d}.xlsx", blob) for k, blob in enumerate(smalls)]
        uploads_s = time.perf_counter() - start
        small_s = wait_done(ids, 900, interval_s=0.1) - start
        small_status = list(DataFile.objects.filter(pk__in=ids).values_list("status", flat=True))
        small_records = sum(DataFile.objects.filter(pk__in=ids).values_list("n_records", flat=True))
        memory_end = worker_memory(worker.pid)
    finally:
        stack.stop()

    ratio = e2e_s / bare_s
    report = {
        "file": big.name, "file_bytes": len(data), "records": n_records, "cycles": n_cycles,
        "bare_parse_analysis_s": bare_s, "end_to_end_s": e2e_s, "ratio": ratio, **stages,
        "worker_peak_mib": memory["pool_peak_mib"], "worker_main_peak_mib": memory["main_peak_mib"],
        "worker_peak_mib_after_small": memory_end["pool_peak_mib"],
        "small": {"files": args.small, "concurrency": args.concurrency, "bytes_each": len(smalls[0]),
                  "records_total": small_records, "uploads_s": uploads_s, "total_s": small_s,
                  "files_per_min": args.small / small_s * 60,
                  "imported": small_status.count("imported"), "failed": small_status.count("failed")},
        "targets": {"ratio_max": 2.0, "worker_peak_mib_max": 1536},
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
    }
    width = 44
    rows = [
        ("file", f"{big.name} ({len(data) / 1e6:.1f} MB, {n_records:,} records, {n_cycles} cycles)"),
        ("bare read_land + analyse", f"{bare_s:8.2f} s"),
        ("end to end (POST -> imported)", f"{e2e_s:8.2f} s"),
        ("  of which HTTP upload", f"{stages['upload_s']:8.2f} s"),
        ("  of which queue wait", f"{stages['queue_wait_s']:8.2f} s"),
        ("  of which worker ingest", f"{stages['worker_ingest_s']:8.2f} s"),
        ("ratio end-to-end / bare (target <= 2)", f"{ratio:8.2f}  {'OK' if ratio <= 2 else 'MISSED'}"),
        ("worker pool peak VmHWM (target < 1.5 GB)",
         f"{memory['pool_peak_mib']:8.0f} MiB  {'OK' if memory['pool_peak_mib'] < 1536 else 'MISSED'}"),
        ("worker main process VmHWM", f"{memory['main_peak_mib']:8.0f} MiB"),
        (f"{args.small} small files, -c {args.concurrency}",
         f"{small_s:8.2f} s  ({args.small / small_s * 60:.0f} files/min, uploads {uploads_s:.1f} s, "
         f"{small_status.count('imported')} imported)"),
    ]
    print()
    for label, value in rows:
        print(f"{label:<{width}}{value}")
    (args.out / "bench_ingest.json").write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out / 'bench_ingest.json'}")
    if args.keep:
        print(f"var dir kept: {var}")
    else:
        shutil.rmtree(var, ignore_errors=True)
    return 0 if ratio <= 2 and memory["pool_peak_mib"] < 1536 else 1


if __name__ == "__main__":
    raise SystemExit(main())
