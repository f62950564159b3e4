"""Benchmark the cycling ingest service in process: CPU and wall time of `datafile_ingest` on one LAND file.

    python bench/bench_ingest_cpu.py [--cycles 200] [--points 150] [--repeat 5] [--reprocess] [--json FILE]

Embedded settings in a fresh temporary ASSB_VAR_DIR (SQLite, `migrate` first), no web server, no broker:
the file is stored once per repeat on a cell of its own (so no deduplication) and ingested here. Reports
the median CPU time of this process (time.process_time: less sensitive than wall time to other load on a
shared machine) and wall time, for the first ingest (parse + analyse + Parquet + rows) and, with
--reprocess, for a reprocess of the same file (read from our own Parquet). Runs the same way on any
checkout, so a change is measured against its base side by side (run both, alternating, on one machine).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--points", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reprocess", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="assb-ingest-cpu-"))
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT"):
        os.environ.pop(key, None)
    os.environ.update({"DJANGO_SETTINGS_MODULE": "assb_lab.settings", "ASSB_VAR_DIR": str(var), "DEBUG": "0",
                       "LOG_LEVEL": "WARNING", "CELERY_TASK_ALWAYS_EAGER": "0"})
    try:
        import django

        django.setup()
        from django.core.files.uploadedfile import SimpleUploadedFile
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from unittest import mock

        from bench_ingest import make_cell_and_device

        from cells.models import Cell
        from cycling import services
        from cycling.simulate import study_cell
        from cycling.testing import write_land

        records, _ = study_cell("coated", n_cycles=args.cycles, points_per_half_cycle=args.points)
        buf = io.BytesIO()
        write_land(records, buf)
        data = buf.getvalue()
        (template, *_), _ = make_cell_and_device()

        first_cpu, first_wall, again_cpu, again_wall = [], [], [], []
        for k in range(args.repeat + 1):  # the first round warms imports and caches: not counted
            cell = Cell.objects.get(pk=template.pk)
            cell.pk = cell.id = None
            cell.name = f"BENCH-CPU-{k}"
            cell.save()
            with mock.patch.object(services, "datafile_enqueue"):
                datafile, _ = services.datafile_create(cell=cell, upload=SimpleUploadedFile("run.xlsx", data),
                                                       kind="cycling", enqueue=False)
            cpu, wall = time.process_time(), time.perf_counter()
            status = services.datafile_ingest(datafile_id=datafile.pk)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if status != "imported":
                raise RuntimeError(f"the ingest ended {status}")
            if k:
                first_cpu.append(cpu)
                first_wall.append(wall)
            if args.reprocess:
                with mock.patch.object(services, "datafile_enqueue"):
                    services.datafile_reprocess(datafile=datafile, reason="bench")
                cpu, wall = time.process_time(), time.perf_counter()
                services.datafile_ingest(datafile_id=datafile.pk)
                if k:
                    again_cpu.append(time.process_time() - cpu)
                    again_wall.append(time.perf_counter() - wall)
        report = {"records": len(records), "cycles": args.cycles, "repeat": args.repeat,
                  "ingest_cpu_s": statistics.median(first_cpu), "ingest_wall_s": statistics.median(first_wall),
                  "ingest_cpu_all_s": first_cpu}
        print(f"{len(records):,} records, {args.cycles} cycles, median of {args.repeat}")
        print(f"ingest (parse, analyse, store)     CPU {report['ingest_cpu_s']:.3f} s   wall "
              f"{report['ingest_wall_s']:.3f} s   (CPU runs: {', '.join(f'{x:.3f}' for x in first_cpu)})")
        if args.reprocess:
            report.update(reprocess_cpu_s=statistics.median(again_cpu), reprocess_wall_s=statistics.median(again_wall))
            print(f"reprocess (from our Parquet)      CPU {report['reprocess_cpu_s']:.3f} s   wall "
                  f"{report['reprocess_wall_s']:.3f} s")
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
