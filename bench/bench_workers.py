"""Do more workers import more files? Ingest throughput with 1 vs 2 worker processes on the production stack.

    python bench/bench_workers.py [--files 12] [--cycles 100] [--points 60] [--footprint-records 250000]

One run, one PostgreSQL database (`assb_workers`, made anew and dropped after) and one Redis db (6, flushed):
1. `--files` x 2 different LAND exports (one cell each) are stored as pending data files.
2. One worker process (`celery worker -c 1`) is started; the first batch is sent to the queue at once and
   the time until the last file is imported gives files/min (and records/min) for one process.
3. Footprint: that worker then imports one bigger export (`--footprint-records`); the database rows it
   added (every table) and the Parquet bytes it wrote are reported, scaled to 10^6 records.
4. The worker is stopped; two worker nodes of one process each are started (what `--scale worker=2` adds)
   and the second batch is timed the same way. The ratio of the two rates is the scaling (target >= 1.7x
   on a machine with at least 2 free cores).

Needs only the runtime requirements (requirements.txt). Prints a table; --json writes the figures.
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
footprint = stored("FOOTPRINT", study_cell("coated", n_cycles=500, points_per_half_cycle=fp_points, seed=99)[0])
print(json.dumps({"batches": batches, "footprint": footprint}))
"""

SEND = """
import json, sys, django
django.setup()
from cycling.tasks import ingest_datafile
for pk in json.loads(sys.argv[1]):
    ingest_datafile.delay(pk)
print("[]")
"""

def connect(stack):
    import psycopg

    return psycopg.connect(stack.env["DATABASE_URL"], autocommit=True)


def table_rows(stack) -> dict[str, int]:
    """Exact row count of every table of the app (pg_stat is only an estimate)."""
    with connect(stack) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def timed_batch(stack, ids: list[int], timeout_s: float) -> dict:
    """Send all ids at once; seconds until every one is imported (or failed)."""
    started = time.monotonic()
    stack.script(SEND, json.dumps(ids))
    with connect(stack) as conn:
        while True:
            rows = conn.execute("SELECT status, n_records FROM cycling_datafile WHERE id = ANY(%s)", (ids,)).fetchall()
            done = [r for r in rows if r[0] in ("imported", "failed")]
            if len(done) == len(ids) or time.monotonic() - started > timeout_s:
                break
            time.sleep(0.2)
    elapsed = time.monotonic() - started
    imported = [r for r in rows if r[0] == "imported"]
    return {"files": len(ids), "imported": len(imported), "failed": sum(r[0] == "failed" for r in rows),
            "seconds": round(elapsed, 2), "files_per_min": round(60 * len(imported) / elapsed, 1),
            "records_per_min": round(60 * sum(r[1] or 0 for r in imported) / elapsed),
            "records_per_file": round(sum(r[1] or 0 for r in imported) / max(1, len(imported)))}


def table_bytes(stack) -> int:
    """Bytes of every table of the app, indexes and TOAST included."""
    with connect(stack) as conn:
        conn.execute("VACUUM ANALYZE")  # settle the free-space map so the size reflects the rows
        return int(conn.execute("SELECT sum(pg_total_relation_size(relid)) FROM pg_stat_user_tables").fetchone()[0])


def footprint(stack, datafile_id: int, timeout_s: float) -> dict:
    before, bytes_before = table_rows(stack), table_bytes(stack)
    batch = timed_batch(stack, [datafile_id], timeout_s)
    after, bytes_after = table_rows(stack), table_bytes(stack)
    with connect(stack) as conn:
        n_records, n_cycles, records_file, upload_bytes = conn.execute(
            "SELECT n_records, n_cycles, records_file, size_bytes FROM cycling_datafile WHERE id = %s",
            (datafile_id,)).fetchone()
    parquet_bytes = os.path.getsize(stack.var / "media" / records_file)
    added = {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t, 0)}
    scale = 1e6 / n_records
    return {"records": n_records, "cycles": n_cycles, "seconds": batch["seconds"], "rows_added": added,
            "rows_total": sum(added.values()), "parquet_bytes": parquet_bytes, "upload_bytes": upload_bytes, "db_bytes": bytes_after - bytes_before,
            "per_1e6_records": {"rows": round(sum(added.values()) * scale), "parquet_mb": round(parquet_bytes * scale / 1e6, 1),
                                "upload_mb": round(upload_bytes * scale / 1e6, 1),
                                "db_mb": round((bytes_after - bytes_before) * scale / 1e6, 2),
                                "worker_seconds": round(batch["seconds"] * scale, 1)}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=12, help="files per batch (two batches)")
    parser.add_argument("--cycles", type=int, default=100, help="cycles per file")
    parser.add_argument("--points", type=int, default=60, help="records per half-cycle")
    parser.add_argument("--footprint-records", type=int, default=250_000, help="records of the footprint file")
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
        one = timed_batch(stack, world["batches"][0], args.timeout_s)
        print("footprint file ...", flush=True)
        fp = footprint(stack, world["footprint"], args.timeout_s)
        stack.stop_workers()
        print("2 worker processes ...", flush=True)
        stack.start_workers(2, 1, tag="two")
        two = timed_batch(stack, world["batches"][1], args.timeout_s)

    ratio = round(two["files_per_min"] / one["files_per_min"], 2) if one["files_per_min"] else float("nan")
    report = {"machine": {"cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2),
                          "python": platform.python_version()},
              "file": {"cycles": args.cycles, "records": one["records_per_file"]},
              "one_process": one, "two_processes": two, "ratio": ratio, "target_ratio": 1.7, "footprint": fp}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    per = fp["per_1e6_records"]
    print(f"""
| ingest throughput ({args.cycles}-cycle files, {report['file']['records']} records each) | 1 process | 2 processes |
|---|---|---|
| files imported / failed | {one['imported']} / {one['failed']} | {two['imported']} / {two['failed']} |
| seconds for the batch | {one['seconds']} | {two['seconds']} |
| files/min | {one['files_per_min']} | {two['files_per_min']} |
| records/min | {one['records_per_min']} | {two['records_per_min']} |
| ratio 2 / 1 (target >= 1.7) | | {ratio} |

footprint: one export of {fp['records']} records, {fp['cycles']} cycles, imported in {fp['seconds']} s by one process
  database rows added: {fp['rows_total']} ({', '.join(f'{t} {n}' for t, n in fp['rows_added'].items())})
  original upload (xlsx): {fp['upload_bytes']} bytes; Parquet records file: {fp['parquet_bytes']} bytes; database growth: {fp['db_bytes']} bytes (tables + indexes)
  per 10^6 records: {per['rows']} rows (rows scale with cycles, not records), {per['parquet_mb']} MB Parquet,
  {per['upload_mb']} MB original upload, {per['db_mb']} MB database,
  ~{per['worker_seconds']} s of one worker process
machine: {report['machine']['cpus']} CPUs, 1-min load average at the end {report['machine']['load_avg_1min']}""")
    sys.exit(0 if one["failed"] == two["failed"] == 0 else 1)


if __name__ == "__main__":
    main()
