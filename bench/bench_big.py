"""Benchmark the ingest of one big cycler file (10^6 to 10^7 records) against the bare library read of it.

    python bench/bench_big.py [--records 1000000] [--formats bdf-csv,bdf-parquet,neware-csv] [--keep DIR]

A seeded run (cycling.simulate.study_cell, 500 cycles) is written at run time into a temporary folder, cycle
block by cycle block (the writers of the product: cycling.parsers.bdf.BdfWriter, cycling.writers), as a BDF
csv, a BDF parquet and a Neware csv. Each file is then, each in a fresh subprocess:
  - read bare by the library our reader rests on, as a user calls it: pyarrow.csv.read_csv (BDF csv),
    pyarrow.parquet.read_table (BDF parquet), pandas.read_csv (Neware csv);
  - ingested as the worker does it: embedded settings (SQLite, a temporary var folder migrated once), the
    file stored as an upload, then ``datafile_ingest`` (parse -> analysis -> stored Parquet of records and
    per-cycle rows). After the ingest, the same process times the curves and the dQ/dV of one cycle in the
    middle of the run (cycling.selectors.cell_curves / cell_dqdv, as the API calls them).
Printed side by side: wall time, CPU time and peak RSS (ru_maxrss of the child, imports included on both
sides) with the ratios ingest/bare. Targets: peak RSS <= 2 GB, wall <= 1.5x bare, one cycle < 300 ms.
Writes bench/out/bench_big.json. The files are deleted at the end unless --keep names a folder to keep them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FORMATS = {"bdf-csv": ".bdf.csv", "bdf-parquet": ".bdf.parquet", "neware-csv": ".csv"}
CYCLES = 500
BLOCK_CYCLES = 25  # cycles written per block: the generator's memory stays a few hundred MB at 10^7


def simulate(n: int, seed: int):
    """The seeded records of one cell: 500 cycles (as bench_readers), points per half cycle to make ~n."""
    from cycling.simulate import study_cell

    cycles = max(2, min(CYCLES, n // 600))
    per_half = max(10, math.ceil((n / cycles - 22) / 2))
    frame, _ = study_cell(group="coated", n_cycles=cycles, points_per_half_cycle=per_half, seed=seed)
    return frame


def write_files(folder: Path, n: int, seed: int, wanted: list[str]) -> dict[str, Path]:
    """Each wanted format written from the same records, block by block of whole cycles."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from cycling.parsers.bdf import BdfWriter
    from cycling.writers import WRITERS

    frame = simulate(n, seed)
    cycle = frame["cycle"].to_numpy()
    edges = np.searchsorted(cycle, np.arange(cycle.min(), cycle.max() + BLOCK_CYCLES, BLOCK_CYCLES), side="left")
    blocks = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    final = {fmt: folder / f"big_{n}_{seed}{FORMATS[fmt]}" for fmt in wanted}
    # Each written under a .partial name first: an interrupted run never leaves a file --keep would reuse.
    paths = {fmt: path.with_name(path.name + ".partial") for fmt, path in final.items()}
    if "bdf-csv" in paths:
        writer = BdfWriter()
        with paths["bdf-csv"].open("wb") as out:
            for k, (a, b) in enumerate(blocks):
                table = pa.Table.from_pandas(writer.frame(frame.iloc[a:b]), preserve_index=False)
                if k == 0:
                    out.write((",".join(table.schema.names) + "\n").encode())
                pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(include_header=False,
                                                                             quoting_style="needed"))
    if "bdf-parquet" in paths:
        writer, sink = BdfWriter(), None
        for a, b in blocks:
            table = pa.Table.from_pandas(writer.frame(frame.iloc[a:b]), preserve_index=False)
            sink = sink or pq.ParquetWriter(paths["bdf-parquet"], table.schema, compression="zstd")
            sink.write_table(table)
        sink.close()
    if "neware-csv" in paths:
        import io

        with paths["neware-csv"].open("wb") as out:
            for k, (a, b) in enumerate(blocks):
                text = io.BytesIO()
                WRITERS["neware"](frame.iloc[a:b].reset_index(drop=True), text)
                body = text.getvalue()
                out.write(body if k == 0 else body[body.index(b"\n") + 1:])  # one header line
    for fmt, path in paths.items():
        path.replace(final[fmt])
    return final


def child_bare(fmt: str, path: str) -> dict:
    import pandas as pd
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    def read() -> int:
        if fmt == "bdf-csv":
            return pacsv.read_csv(path).num_rows  # pyarrow's defaults (threads, its own allocator)
        if fmt == "bdf-parquet":
            return pq.read_table(path).num_rows
        return len(pd.read_csv(path, low_memory=False))

    return _timed(read)


def child_ingest(fmt: str, path: str) -> dict:
    """The worker's ingest of the file (embedded settings of the var folder the parent migrated)."""
    import uuid

    import django

    django.setup()
    from django.core.files import File

    from cells.models import Cell, CellGroup, Material, Project
    from cycling.models import CycleSummary, DataFile
    from cycling.selectors import cell_curves, cell_dqdv
    from cycling.services import datafile_create, datafile_ingest

    tag = uuid.uuid4().hex[:8]
    project = Project.objects.create(name=f"big-{tag}")
    group = CellGroup.objects.create(project=project, name="coated")
    nmc = Material.objects.create(name=f"NMC-{tag}", kind="cathode_active", theoretical_capacity_mah_g=160.0)
    lgps = Material.objects.create(name=f"LGPS-{tag}", kind="solid_electrolyte")
    inli = Material.objects.create(name=f"In-Li-{tag}", kind="anode", potential_vs_li_v=0.62)
    cell = Cell.objects.create(name=f"BIG-{tag}", project=project, group=group, cathode_material=nmc,
                               electrolyte=lgps, anode=inli,
                               cathode_active_fraction=0.70, composite_loading_mg_cm2=12.0, die_diameter_mm=10.0,
                               theoretical_capacity_mah_g=160.0)
    with open(path, "rb") as handle:
        datafile, _ = datafile_create(cell=cell, upload=File(handle, name=Path(path).name), kind="cycling",
                                      enqueue=False)
    from cycling.parsers.registry import READERS

    list(READERS)  # the readers imported before the clock starts, as in a worker that has run a task

    def ingest() -> int:
        status = datafile_ingest(datafile_id=datafile.pk)
        if status != DataFile.Status.IMPORTED:
            raise SystemExit(f"{path}: {status}: {DataFile.objects.get(pk=datafile.pk).error}")
        return DataFile.objects.get(pk=datafile.pk).n_records

    out = _timed(ingest)
    cycles = sorted(CycleSummary.objects.filter(datafile=datafile).values_list("cycle", flat=True))
    middle = str(cycles[len(cycles) // 2])
    cell_curves(cell, [str(cycles[0])]), cell_dqdv(cell, [str(cycles[0])])  # their imports, as in a served process
    for name, call in (("curves_ms", lambda: cell_curves(cell, [middle])),
                       ("dqdv_ms", lambda: cell_dqdv(cell, [middle]))):
        start = time.perf_counter()
        traces = call()["traces"]
        out[name] = (time.perf_counter() - start) * 1000
        out[name.replace("_ms", "_traces")] = len(traces)
    out["n_cycles"] = len(cycles)
    return out


def _timed(call) -> dict:
    start_use = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    n = call()
    wall = time.perf_counter() - start
    use = resource.getrusage(resource.RUSAGE_SELF)
    return {"n": int(n), "wall_s": wall, "cpu_s": use.ru_utime + use.ru_stime - start_use.ru_utime - start_use.ru_stime,
            "peak_rss_mb": _peak_rss_mb(), "ru_maxrss_mb": use.ru_maxrss / 1024}


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). ru_maxrss is printed too, but Linux carries the parent's peak over
    a vfork+exec into it (the parent is kept small: the files are written in a child of their own)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(which: str, fmt: str, path: Path, env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", which, fmt, str(path)], capture_output=True,
                         text=True, cwd=ROOT, env=env)
    if out.returncode:
        raise SystemExit(f"{which} {fmt} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated subset of " + ", ".join(FORMATS))
    parser.add_argument("--keep", default=None, help="write the files into this folder and keep them")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--child", nargs=3, metavar=("WHICH", "FORMAT", "PATH"))
    parser.add_argument("--write", nargs=4, metavar=("FOLDER", "RECORDS", "SEED", "FORMATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        folder, n, seed, formats = args.write
        write_files(Path(folder), int(n), int(seed), formats.split(","))
        return 0
    if args.child:
        which, fmt, path = args.child
        print(json.dumps(child_ingest(fmt, path) if which == "ingest" else child_bare(fmt, path)))
        return 0
    wanted = [f for f in args.formats.split(",") if f]
    unknown = set(wanted) - set(FORMATS)
    if unknown:
        parser.error(f"unknown format(s) {', '.join(sorted(unknown))}: choose from {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="bench-big-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp) / "files"
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        paths = {fmt: path for fmt, path in ((f, folder / f"big_{args.records}_{args.seed}{FORMATS[f]}")
                                             for f in wanted) if path.exists()} if args.keep else {}
        missing = [f for f in wanted if f not in paths]
        if missing:  # in a child: the simulated run's memory is not this process's, whose peak children inherit
            subprocess.run([sys.executable, __file__, "--write", str(folder), str(args.records), str(args.seed),
                            ",".join(missing)], cwd=ROOT, check=True)
            paths.update({f: folder / f"big_{args.records}_{args.seed}{FORMATS[f]}" for f in missing})
            print(f"wrote {', '.join(missing)} in {time.perf_counter() - start:.0f} s", flush=True)
        var = Path(tmp) / "var"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT")}
        env.update({"DJANGO_SETTINGS_MODULE": "assb_lab.settings", "ASSB_VAR_DIR": str(var), "ASSB_HTTPS": "0",
                    "DEBUG": "0", "LOG_LEVEL": "WARNING"})
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        results = []
        for fmt in wanted:
            bare = run_child("bare", fmt, paths[fmt], env)
            ours = run_child("ingest", fmt, paths[fmt], env)
            if ours["n"] != bare["n"]:
                raise SystemExit(f"{fmt}: the ingest stored {ours['n']} records, the bare read gave {bare['n']}")
            results.append({"format": fmt, "records": bare["n"], "size_mb": paths[fmt].stat().st_size / 1e6,
                            "bare": bare, "ingest": ours, "wall_ratio": ours["wall_s"] / bare["wall_s"],
                            "cpu_ratio": ours["cpu_s"] / bare["cpu_s"],
                            "rss_ratio": ours["peak_rss_mb"] / bare["peak_rss_mb"]})
            print(json.dumps(results[-1]), flush=True)
    print(f"\n{'format':<12} {'records':>10} {'MB':>7} {'bare s':>7} {'ingest s':>8} {'wall x':>6} {'bare cpu':>8} "
          f"{'ingest cpu':>10} {'cpu x':>6} {'bare MB':>8} {'ingest MB':>9} {'RSS x':>6} {'curves ms':>9} {'dqdv ms':>8}")
    for r in results:
        b, o = r["bare"], r["ingest"]
        print(f"{r['format']:<12} {r['records']:>10,} {r['size_mb']:>7.0f} {b['wall_s']:>7.1f} {o['wall_s']:>8.1f} "
              f"{r['wall_ratio']:>6.2f} {b['cpu_s']:>8.1f} {o['cpu_s']:>10.1f} {r['cpu_ratio']:>6.2f} "
              f"{b['peak_rss_mb']:>8.0f} {o['peak_rss_mb']:>9.0f} {r['rss_ratio']:>6.2f} {o['curves_ms']:>9.0f} "
              f"{o['dqdv_ms']:>8.0f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_big.json").write_text(json.dumps({"records": args.records, "seed": args.seed, "load": os.getloadavg(),
                                                    "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
