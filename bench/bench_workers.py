"""Do more workers import more files? Ingest throughput with 1 vs 2 worker processes on the production stack.

    python bench/bench_workers.py [--files 24] [--cycles 100] [--points 60] [--footprint-records 250000]
        [--db-name assb_workers] [--redis-db 6]

One run, one PostgreSQL database (`--db-name`, made anew and dropped after) and one Redis db (`--redis-db`, flushed):
1. `--files` x 2 different LAND exports (one cell each) are stored as pending data files.
2. One worker process (`celery worker -c 1`) is started; the harness queues the first batch at once. Timed,
   from the database's timestamps: the first claim -> the last file imported and its cell's alert rules
   evaluated (the task every ingest sends). Worker start-up and queueing are outside the window.
3. Footprint: that worker then imports one bigger export (`--footprint-records`); the database rows it
   added (every table) and the Parquet bytes it wrote are reported, scaled to 10^6 records.
4. The worker is stopped; two worker nodes of one process each are started (what `--scale worker=2` adds)
   and the second batch is timed the same way. The ratio of the two rates is the scaling (target >= 1.7x
   on a machine with at least 2 free cores).
During each batch, CPU per file is read from /proc for every kind of process (worker pool, worker main,
PostgreSQL backends of the bench database, Redis, the harness), with where the pool processes' wall time
went and PostgreSQL transactions / rows per file: on a loaded machine these say what the ratio cannot.

Needs only the runtime requirements (requirements.txt) and Linux /proc. Prints a table; --json writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import ROOT, add_stack_options, make_stack, require  # noqa: E402

SETUP = """
import io, json, sys, django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from cells.demo import COATED, load_study_registry
from cells.models import Cell
from cycling import services
from cycling.simulate import study_cell
from cycling.testing import write_land

n_files, n_cycles, points, footprint_records = map(int, sys.argv[1:5])
template = next(c for c in load_study_registry() if c.group.name == COATED)

def stored(name, records):
    cell = Cell.objects.get(pk=template.pk)
    cell.pk, cell.id, cell.name = None, None, name
    cell._state.adding = True
    cell.save()
    buf = io.BytesIO()
    write_land(records, buf)
    upload = SimpleUploadedFile(f"{name}.xlsx", buf.getvalue())
    return services.datafile_create(cell=cell, upload=upload, kind="cycling", enqueue=False)[0].pk

batches = [[stored(f"W{b}-{k:02d}", study_cell("coated", n_cycles=n_cycles, points_per_half_cycle=points,
                                                seed=1000 * b + k)[0]) for k in range(n_files)] for b in (1, 2)]
# About footprint_records records: 2 half-cycles per cycle, 500 cycles like the study's long run.
fp_points = max(10, footprint_records // (2 * 500))
footprint = (stored("FOOTPRINT", study_cell("coated", n_cycles=500, points_per_half_cycle=fp_points, seed=99)[0])
             if footprint_records else None)
print(json.dumps({"batches": batches, "footprint": footprint}))
"""

TASK = "cycling.tasks.ingest_datafile"  # the name `ingest_datafile.delay()` sends under

CLK_TCK = os.sysconf("SC_CLK_TCK")


def connect(stack):
    import psycopg

    return psycopg.connect(stack.env["DATABASE_URL"], autocommit=True)


def table_rows(stack) -> dict[str, int]:
    """Exact row count of every table of the app (pg_stat is only an estimate)."""
    with connect(stack) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of one process so far (Linux /proc), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat)


def sched_s(pid: int) -> tuple[float, float] | None:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of a process's main thread (/proc schedstat)."""
    try:
        run_ns, wait_ns, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return None
    return int(run_ns) / 1e9, int(wait_ns) / 1e9


def group_pids(pgid: int) -> list[int]:
    """Every process of one process group (a worker node: its main process and its pool processes)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp (field 5 of stat)
            out.append(int(stat.parent.name))
    return out


def redis_pid(stack) -> int | None:
    import redis

    try:
        return int(redis.Redis.from_url(stack.redis).info("server")["process_id"])
    except Exception:  # a remote Redis: its CPU is not ours to read
        return None


class CpuMeter:
    """CPU seconds per kind of process over one batch, read from /proc at every poll of the harness.

    Kinds: the worker pool processes (the ingests themselves), the worker main processes (Celery's consumer:
    broker polling, heartbeats, gossip), the PostgreSQL backends of the bench database (serving the workers),
    the Redis server (the whole server: other users of it count too), the harness (this process and its
    own PostgreSQL backend). A process that ends between two polls loses at most one poll interval.
    """

    def __init__(self, stack, conn):
        self.conn, self.harness_backend = conn, conn.info.backend_pid
        self.kind: dict[int, str] = {}
        for proc, _log in stack.workers:
            for pid in group_pids(proc.pid):
                self.kind[pid] = "worker main" if pid == proc.pid else "worker pool"
        pid = redis_pid(stack)
        if pid is not None:
            self.kind[pid] = "redis (whole server)"
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        # The pool processes' main threads: where their wall time goes (on a CPU, waiting for one, blocked).
        self.pool = [pid for pid, kind in self.kind.items() if kind == "worker pool"]
        self.sched_first = {pid: sched_s(pid) for pid in self.pool}
        self.wall_first = time.time()
        self.harness_start = time.process_time()
        self.sample(initial=True)

    def _backends(self) -> None:
        for (pid,) in self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"):
            self.kind.setdefault(pid, "harness" if pid == self.harness_backend else "postgresql backends")

    def sample(self, initial: bool = False) -> None:
        self._backends()
        for pid in self.kind:
            cpu = proc_cpu_s(pid)
            if cpu is None:
                continue
            # A backend first seen during the batch was opened during it: all its CPU is the batch's.
            self.first.setdefault(pid, cpu if initial else 0.0)
            self.last[pid] = cpu

    def pool_time(self) -> dict[str, float]:
        """Per pool process, the share of the batch's wall time its main thread was on a CPU, runnable but
        waiting for one (other processes had the cores), or neither (blocked on PostgreSQL, disk, Redis, or
        idle between tasks)."""
        wall = (time.time() - self.wall_first) * max(1, len(self.pool))
        run = wait = 0.0
        for pid in self.pool:
            a, b = self.sched_first.get(pid), sched_s(pid)
            if a and b:
                run, wait = run + b[0] - a[0], wait + b[1] - a[1]
        return {"on_cpu": round(run / wall, 3), "waiting_for_cpu": round(wait / wall, 3),
                "blocked_or_idle": round(max(0.0, wall - run - wait) / wall, 3)}

    def totals(self) -> dict[str, float]:
        out = {k: 0.0 for k in ("worker pool", "worker main", "postgresql backends", "redis (whole server)", "harness")}
        for pid, cpu in self.last.items():
            out[self.kind[pid]] += cpu - self.first[pid]
        out["harness"] += time.process_time() - self.harness_start
        return {k: round(v, 2) for k, v in out.items()}


def task_sender(stack):
    """A bare Celery client on the stack's Redis, connected: the harness queues the ingest tasks itself
    (no Django start-up of a separate process in or around the timing)."""
    from celery import Celery

    client = Celery(broker=stack.redis, set_as_current=False)
    client.conf.update(task_serializer="json", accept_content=["json"])
    with client.connection_for_write() as conn:
        conn.ensure_connection(max_retries=3)
    client.producer_pool  # noqa: B018  (sets up the producers now, not while the batch is sent)
    return client


DONE_SQL = """
SELECT d.id, d.status, d.n_records, extract(epoch FROM d.started_at), extract(epoch FROM d.finished_at),
       extract(epoch FROM r.evaluated_at)
FROM cycling_datafile d LEFT JOIN monitoring_runstate r ON r.cell_id = d.cell_id
WHERE d.id = ANY(%s)
"""


DB_COUNTERS = ("xact_commit", "tup_inserted", "tup_updated", "tup_deleted")


def db_counters(conn, settle_s: float = 12.0) -> tuple[dict[str, int], int]:
    """The bench database's transaction and row counters (pg_stat_database), once they stopped moving:
    PostgreSQL backends report them at most once a second, an idle one within 10 s. Also returns how many
    reads that took (each is a transaction of its own)."""
    sql = f"SELECT {', '.join(DB_COUNTERS)} FROM pg_stat_database WHERE datname = current_database()"
    deadline, before, reads = time.monotonic() + settle_s, None, 0
    while True:
        now, reads = conn.execute(sql).fetchone(), reads + 1
        # Our own two statements per read are transactions too: stable means "moved by only those".
        if before is not None and (now[0] - before[0] <= 2 and now[1:] == before[1:] or time.monotonic() > deadline):
            return dict(zip(DB_COUNTERS, now, strict=True)), reads
        before = now
        time.sleep(1.1)


def timed_batch(stack, ids: list[int], timeout_s: float, poll_s: float) -> dict:
    """Queue all ids at once and time the batch with the database's own timestamps (polling adds no error):
    from the first claim (a worker took the batch's first file: `started_at`) until the last file is
    imported (`finished_at`) and its cell's alert-rule evaluation, the task every ingest sends on commit,
    has run (`RunState.evaluated_at`, stamped when that evaluation starts: the last evaluation's own few
    tens of ms are not counted). Worker start-up and queueing are outside the window."""
    client = task_sender(stack)
    with connect(stack) as conn:
        (counters, _), polls = db_counters(conn), 0
        meter = CpuMeter(stack, conn)
        sent = time.time()
        for pk in ids:
            client.send_task(TASK, args=[pk])
        while True:
            time.sleep(poll_s)
            rows = conn.execute(DONE_SQL, (ids,)).fetchall()
            meter.sample()
            polls += 1
            done = [r for r in rows if r[1] == "failed" or (r[1] == "imported" and r[5] is not None and r[5] >= r[4])]
            if len(done) == len(ids) or time.time() - sent > timeout_s:
                break
        cpu, pool = meter.totals(), meter.pool_time()
        after, reads = db_counters(conn)
    client.close()
    db = {k: after[k] - counters[k] for k in DB_COUNTERS}
    db["xact_commit"] -= 2 * polls + reads  # the harness's own polls (two statements each) and reads
    imported = [r for r in rows if r[1] == "imported"]
    first_claim = min((float(r[3]) for r in rows if r[3] is not None), default=sent)
    last_import = max((float(r[4]) for r in imported), default=time.time())
    last_evaluation = max((float(r[5]) for r in imported if r[5] is not None), default=last_import)
    elapsed = max(last_import, last_evaluation) - first_claim
    ingest_s = last_import - first_claim  # the ingests alone, without the evaluations queued behind them
    n = max(1, len(imported))
    return {"files": len(ids), "imported": len(imported), "failed": sum(r[1] == "failed" for r in rows),
            "seconds": round(elapsed, 2), "files_per_min": round(60 * len(imported) / elapsed, 1),
            "ingest_seconds": round(ingest_s, 2), "ingest_files_per_min": round(60 * len(imported) / ingest_s, 1),
            "queue_to_first_claim_s": round(first_claim - sent, 3),
            "records_per_min": round(60 * sum(r[2] or 0 for r in imported) / elapsed),
            "records_per_file": round(sum(r[2] or 0 for r in imported) / n),
            "cpu_s": cpu, "cpu_ms_per_file": {k: round(1000 * v / n) for k, v in cpu.items()},
            "busy_cores": round(sum(v for k, v in cpu.items() if k != "redis (whole server)") / elapsed, 2),
            "pool_time": pool, "db_per_file": {k: round(v / n, 1) for k, v in db.items()}}


def table_bytes(stack) -> int:
    """Bytes of every table of the app, indexes and TOAST included."""
    with connect(stack) as conn:
        conn.execute("VACUUM ANALYZE")  # settle the free-space map so the size reflects the rows
        return int(conn.execute("SELECT sum(pg_total_relation_size(relid)) FROM pg_stat_user_tables").fetchone()[0])


def footprint(stack, datafile_id: int, timeout_s: float, poll_s: float) -> dict:
    before, bytes_before = table_rows(stack), table_bytes(stack)
    batch = timed_batch(stack, [datafile_id], timeout_s, poll_s)
    after, bytes_after = table_rows(stack), table_bytes(stack)
    with connect(stack) as conn:
        n_records, n_cycles, records_file, upload_bytes = conn.execute(
            "SELECT n_records, n_cycles, records_file, size_bytes FROM cycling_datafile WHERE id = %s",
            (datafile_id,)).fetchone()
    parquet_bytes = os.path.getsize(stack.var / "media" / records_file)
    added = {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t, 0)}
    scale = 1e6 / n_records
    return {"records": n_records, "cycles": n_cycles, "seconds": batch["ingest_seconds"], "rows_added": added,
            "rows_total": sum(added.values()), "parquet_bytes": parquet_bytes, "upload_bytes": upload_bytes, "db_bytes": bytes_after - bytes_before,
            "per_1e6_records": {"rows": round(sum(added.values()) * scale), "parquet_mb": round(parquet_bytes * scale / 1e6, 1),
                                "upload_mb": round(upload_bytes * scale / 1e6, 1),
                                "db_mb": round((bytes_after - bytes_before) * scale / 1e6, 2),
                                "worker_seconds": round(batch["ingest_seconds"] * scale, 1),
                                "worker_cpu_s": round(batch["cpu_s"]["worker pool"] * scale, 1)}}


def cpu_table(one: dict, two: dict) -> str:
    """CPU per imported file by kind of process, and how many cores the batch kept busy on average."""
    lines = ["| CPU per file (ms) | 1 process | 2 processes |", "|---|---|---|"]
    for kind in one["cpu_ms_per_file"]:
        lines.append(f"| {kind} | {one['cpu_ms_per_file'][kind]} | {two['cpu_ms_per_file'][kind]} |")
    total = [sum(v for k, v in b["cpu_ms_per_file"].items() if k != "redis (whole server)") for b in (one, two)]
    lines.append(f"| all of the above but Redis | {total[0]} | {total[1]} |")
    for key, label in (("xact_commit", "PostgreSQL transactions"), ("tup_inserted", "rows inserted"),
                       ("tup_updated", "rows updated"), ("tup_deleted", "rows deleted")):
        lines.append(f"| {label} per file (ingest + evaluation) | {one['db_per_file'][key]} | {two['db_per_file'][key]} |")
    lines.append(f"| busy cores (CPU s / wall s, Redis excluded) | {one['busy_cores']} | {two['busy_cores']} |")
    for key, label in (("on_cpu", "on a CPU"), ("waiting_for_cpu", "runnable, waiting for a CPU"),
                       ("blocked_or_idle", "blocked (PostgreSQL, disk, broker) or idle")):
        lines.append(f"| pool process wall time: {label} | {one['pool_time'][key]:.0%} | {two['pool_time'][key]:.0%} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=24, help="files per batch (two batches)")
    parser.add_argument("--cycles", type=int, default=100, help="cycles per file")
    parser.add_argument("--points", type=int, default=60, help="records per half-cycle")
    parser.add_argument("--footprint-records", type=int, default=250_000,
                        help="records of the footprint file (0: no footprint)")
    parser.add_argument("--poll-s", type=float, default=0.5, help="how often the harness looks whether the batch is done")
    parser.add_argument("--timeout-s", type=float, default=300)
    parser.add_argument("--json", help="also write the figures here")
    add_stack_options(parser, redis_db=6, db_name="assb_workers")
    args = parser.parse_args()
    require("psycopg", "redis", "celery")
    sys.path.insert(0, str(ROOT))

    with make_stack("production", args) as stack:
        stack.prepare()
        print(f"storing 2 x {args.files} exports of {args.cycles} cycles and one footprint file ...", flush=True)
        world = stack.script(SETUP, str(args.files), str(args.cycles), str(args.points), str(args.footprint_records))
        print("1 worker process ...", flush=True)
        stack.start_workers(1, 1, tag="one")
        one = timed_batch(stack, world["batches"][0], args.timeout_s, args.poll_s)
        fp = None
        if world["footprint"] is not None:
            print("footprint file ...", flush=True)
            fp = footprint(stack, world["footprint"], args.timeout_s, args.poll_s)
        stack.stop_workers()
        print("2 worker processes ...", flush=True)
        stack.start_workers(2, 1, tag="two")
        two = timed_batch(stack, world["batches"][1], args.timeout_s, args.poll_s)

    def ratio(key):
        return round(two[key] / one[key], 2) if one[key] else float("nan")

    report = {"machine": {"cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2),
                          "python": platform.python_version()},
              "file": {"cycles": args.cycles, "records": one["records_per_file"]},
              "one_process": one, "two_processes": two, "ratio": ratio("files_per_min"),
              "ratio_ingest_only": ratio("ingest_files_per_min"), "target_ratio": 1.7, "footprint": fp}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"""
Timed: from the first claim (a worker took the batch's first file) until every file is imported and its
cell's alert rules evaluated; worker start-up and queueing are not in it. Both batches: the same kind of files.

| ingest throughput ({args.cycles}-cycle files, {report['file']['records']} records each) | 1 process | 2 processes |
|---|---|---|
| files imported / failed | {one['imported']} / {one['failed']} | {two['imported']} / {two['failed']} |
| seconds, first claim -> last file imported and evaluated | {one['seconds']} | {two['seconds']} |
| files/min | {one['files_per_min']} | {two['files_per_min']} |
| records/min | {one['records_per_min']} | {two['records_per_min']} |
| ratio 2 / 1 (target >= 1.7) | | **{report['ratio']}** |
| ingests alone: first claim -> last imported (s) / files/min | {one['ingest_seconds']} / {one['ingest_files_per_min']} | {two['ingest_seconds']} / {two['ingest_files_per_min']} (ratio {report['ratio_ingest_only']}) |

{cpu_table(one, two)}""")
    if fp is not None:
        per = fp["per_1e6_records"]
        print(f"""
footprint: one export of {fp['records']} records, {fp['cycles']} cycles, imported in {fp['seconds']} s by one process
  database rows added: {fp['rows_total']} ({', '.join(f'{t} {n}' for t, n in fp['rows_added'].items())})
  original upload (xlsx): {fp['upload_bytes']} bytes; Parquet records file: {fp['parquet_bytes']} bytes; database growth: {fp['db_bytes']} bytes (tables + indexes)
  per 10^6 records: {per['rows']} rows (rows scale with cycles, not records), {per['parquet_mb']} MB Parquet,
  {per['upload_mb']} MB original upload, {per['db_mb']} MB database,
  ~{per['worker_seconds']} s of one worker process ({per['worker_cpu_s']} CPU s)""")
    print(f"machine: {report['machine']['cpus']} CPUs, 1-min load average at the end {report['machine']['load_avg_1min']}")
    sys.exit(0 if one["failed"] == two["failed"] == 0 else 1)


if __name__ == "__main__":
    main()
