"""Benchmark read_land against the usual pandas+openpyxl route on a seeded 500-cycle LAND workbook.

    python bench/bench_parse.py [--records 300000] [--cycles 500] [--repeat 1] [--precision land|full]
                                [--out bench/out]
    python bench/bench_parse.py --near-limit [--records 448000] [--repeat 5]

--near-limit asks how close the whole ``land_summary`` path (read_land, then summarize_cycles, cross_check
and run_metrics, as the command does them) comes to the floor: fastexcel's bare read of the same Record-Tab
to Arrow. The two alternate in fresh subprocesses (bare, ours, bare, ours, ...) so machine load hits both
alike; the ratio of the medians is the figure (target <= 1.5x), with the median per-pair ratio and the load
average beside it. Both children import the same modules before the clock; the analysis's scipy, which
cycling.analysis loads lazily on first use, falls inside land_summary's clock and its measured import time is
taken out of that run (with --analysis-after-parse both load it only after the read). Writes
bench_parse_limit.json (bench_parse_limit_late.json).

The workbook carries LAND's own precision (write_land's default, like the real export in tests/data/land);
--precision full writes 17-significant-digit floats instead. Both readers read the same file, each in its
own subprocess so that peak memory (ru_maxrss) is its own; both must return the same canonical frame
(checked, or the bench fails). Wall and CPU seconds are reported: on a shared machine the CPU ratio is the
steadier one. Prints a table and writes bench/out/bench_parse.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE_RENAME = {
    "Record": "record", "TestTime/Sec": "test_time_s", "StepTime/Sec": "step_time_s", "Current/mA": "current_ma",
    "Voltage/V": "voltage_v", "Capacity/mAh": "capacity_mah", "Energy/mWh": "energy_mwh",
    "Cycle-Index": "cycle", "Step-Index": "step", "Step-State": "state", "SysTime": "sys_time",
}


def generate(path: Path, records: int, cycles: int, seed: int, precision: str = "land") -> int:
    from cycling.simulate import study_cell
    from cycling.testing import write_land

    per_half = max(10, math.ceil((records / cycles - 22) / 2))
    while True:
        frame, _ = study_cell(group="coated", n_cycles=cycles, points_per_half_cycle=per_half, seed=seed)
        if len(frame) >= records:
            break
        per_half += max(1, math.ceil((records - len(frame)) / cycles / 2))
    write_land(frame, path, variant="modern", constant_memory=True, precision=precision)
    return len(frame)


def run_read_land(path: str):
    from cycling.parsers import read_land

    return read_land(path).records


def run_baseline(path: str):
    """What existing tools do: every sheet through openpyxl, then the same tidy-up to canonical columns."""
    import numpy as np
    import pandas as pd

    sheets = pd.read_excel(path, sheet_name=None, engine="openpyxl")
    parts = [frame for name, frame in sheets.items() if name.startswith("Record-Tab")]
    frame = pd.concat(parts, ignore_index=True).rename(columns=BASELINE_RENAME)
    for name in ("test_time_s", "step_time_s", "current_ma", "voltage_v", "capacity_mah", "energy_mwh"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
    for name in ("record", "cycle", "step"):
        frame[name] = frame[name].astype(np.int64)
    state = frame["state"].astype(str).str.upper()
    frame["step_kind"] = np.where(state.str.startswith("C"), "charge",
                                  np.where(state.str.startswith("D"), "discharge", "rest"))
    frame["step_mode"] = np.where(state.str.endswith("CV"), "CV", np.where(frame["step_kind"] == "rest", "", "CC"))
    frame["sys_time"] = pd.to_datetime(frame["sys_time"], errors="coerce").astype("datetime64[ns]")
    columns = ["record", "test_time_s", "step_time_s", "current_ma", "voltage_v", "capacity_mah", "energy_mwh",
               "cycle", "step", "step_kind", "step_mode", "sys_time"]
    return frame[columns].sort_values("record").reset_index(drop=True)


def run_bare_fastexcel(path: str):
    """The floor: fastexcel's own read of the Record-Tab to Arrow, nothing checked or converted."""
    import fastexcel

    return fastexcel.read_excel(path).load_sheet("Record-Tab").to_arrow()


def run_land_summary(path: str):
    """What ``manage.py land_summary`` computes, minus printing: parse, per-cycle table, checks, run figures."""
    from cycling.parsers import read_land

    export = read_land(path)
    # Already loaded unless --analysis-after-parse: then scipy's memory comes after the parse's peak (and
    # its import time is inside the clock; IMPORT_SECONDS says how much, so it can be told apart).
    start, cpu = time.perf_counter(), time.process_time()
    from cycling.analysis import CellSpec, cross_check, run_metrics, summarize_cycles

    IMPORT_SECONDS.update(wall=time.perf_counter() - start, cpu=time.process_time() - cpu)
    cycles = summarize_cycles(export.records, CellSpec(ACTIVE_MASS_MG, None, 160.0, None))
    cross_check(cycles, export.cycle_table)
    run_metrics(cycles)
    return cycles, len(export.records)


IMPORT_SECONDS: dict[str, float] = {}
ACTIVE_MASS_MG = 6.597  # write_land's default (cycling.testing.DEFAULT_ACTIVE_MASS_MG), not imported: see child
METHODS = {"read_land": run_read_land, "baseline": run_baseline, "fastexcel": run_bare_fastexcel,
           "land_summary": run_land_summary}


def child(method: str, path: str, frame_out: str) -> None:
    # Imports are not what is being compared: load them before the clock starts, the same for both sides of
    # a comparison. land_summary has the analysis (scipy) loaded before it parses, so its floor has too.
    import pandas  # noqa: F401

    import cycling.parsers  # noqa: F401

    method, _, late = method.partition(":")
    if method in ("fastexcel", "land_summary"):
        import fastexcel  # noqa: F401
        import pyarrow  # noqa: F401

        if not late:
            import cycling.analysis  # noqa: F401
    else:
        import openpyxl  # noqa: F401

    cpu = time.process_time()
    start = time.perf_counter()
    frame = METHODS[method](path)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, before the frame is saved
    extra = {}
    if method == "fastexcel":
        records = frame.num_rows
    elif method == "land_summary":
        frame, records = frame
        extra["cycles"] = len(frame)
        extra["import_seconds"], extra["import_cpu_seconds"] = IMPORT_SECONDS["wall"], IMPORT_SECONDS["cpu"]
    else:
        records = len(frame)
    if frame_out:
        frame.to_parquet(frame_out)  # for the parent's same-output check, outside the clock
    print(json.dumps({"method": method, "seconds": seconds, "cpu_seconds": cpu_seconds, "records": records,
                      "peak_mib": peak_kib / 1024, **extra}))


def run_child(method: str, path: Path, frame_out: Path | str = "") -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", method, str(path), str(frame_out)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(method: str, runs: list[dict]) -> dict:
    if "import_seconds" in runs[0]:  # the analysis import, when it fell inside the clock, taken out
        runs = [{**r, "seconds": r["seconds"] - r["import_seconds"],
                 "cpu_seconds": r["cpu_seconds"] - r["import_cpu_seconds"]} for r in runs]
    return {"method": method, "records": runs[0]["records"], "runs": len(runs),
            "seconds": statistics.median(r["seconds"] for r in runs),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
            "peak_mib": max(r["peak_mib"] for r in runs),
            "all_seconds": [round(r["seconds"], 3) for r in runs]}


def measure(method: str, path: Path, repeat: int, frame_out: Path) -> dict:
    """Median of ``repeat`` runs, each in a fresh subprocess; peak memory is the largest seen."""
    runs = [run_child(method, path, frame_out if i == 0 else "") for i in range(repeat)]
    return summarise(method, runs)


def near_limit(path: Path, repeat: int, cycles: int, out_dir: Path, *, analysis_after_parse: bool = False) -> None:
    """land_summary's path against fastexcel's bare read of the same sheet, alternating, in one run."""
    load_before = os.getloadavg()
    late = ":late" if analysis_after_parse else ""
    pairs = [(run_child("fastexcel" + late, path), run_child("land_summary" + late, path)) for _ in range(repeat)]
    load_after = os.getloadavg()
    bare = summarise("fastexcel", [b for b, _ in pairs])
    ours = summarise("land_summary", [o for _, o in pairs])
    if ours["records"] != bare["records"] or any(o["cycles"] != cycles for _, o in pairs):
        raise SystemExit(f"land_summary read {ours['records']} records / {pairs[0][1]['cycles']} cycles; "
                         f"fastexcel {bare['records']} rows, {cycles} cycles written: the comparison means nothing")
    ratio = ours["seconds"] / bare["seconds"]
    cpu_ratio = ours["cpu_seconds"] / bare["cpu_seconds"]
    pair_ratio = statistics.median(o["seconds"] / b["seconds"] for b, o in pairs)
    labels = {"fastexcel": "fastexcel bare Record-Tab -> Arrow", "land_summary": "land_summary (parse + analysis)"}
    if analysis_after_parse:
        print("cycling.analysis (scipy) imported after the parse, not before it as land_summary does today "
              f"(its import, median {statistics.median(o['import_cpu_seconds'] for _, o in pairs):.2f} s CPU, "
              "is taken out of the times)")
    print(f"{ours['records']:,} records, {cycles} cycles, {repeat} alternating pair(s); load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after ({os.cpu_count()} CPUs)")
    print(f"\n{'method':<38}{'wall s':>9}{'CPU s':>9}{'peak MiB':>10}   runs (s)")
    for result in (bare, ours):
        print(f"{labels[result['method']]:<38}{result['seconds']:>9.2f}{result['cpu_seconds']:>9.2f}"
              f"{result['peak_mib']:>10.0f}   {result['all_seconds']}")
    print(f"\nland_summary / bare read: {ratio:.2f}x wall (median pair {pair_ratio:.2f}x), {cpu_ratio:.2f}x CPU "
          f"(target <= 1.5x); peak {ours['peak_mib']:.0f} MiB (target < 700 MiB)")
    report = {"file": path.name, "file_bytes": path.stat().st_size, "records": ours["records"], "cycles": cycles,
              "repeat": repeat, "results": [bare, ours], "ratio": ratio, "ratio_median_pair": pair_ratio,
              "ratio_cpu": cpu_ratio, "loadavg_before": load_before, "loadavg_after": load_after,
              "analysis_after_parse": analysis_after_parse,
              "python": platform.python_version(), "machine": platform.machine()}
    name = "bench_parse_limit_late.json" if analysis_after_parse else "bench_parse_limit.json"
    (out_dir / name).write_text(json.dumps(report, indent=2))
    print(f"wrote {out_dir / name}")


def same_output(ours: Path, theirs: Path) -> None:
    """Both readers must hand back the same canonical records, or the comparison means nothing."""
    import pandas as pd

    a, b = pd.read_parquet(ours), pd.read_parquet(theirs)
    pd.testing.assert_frame_equal(a, b, check_dtype=True, check_exact=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--near-limit", action="store_true",
                        help="land_summary's whole path against fastexcel's bare read (default 448,000 records)")
    parser.add_argument("--analysis-after-parse", action="store_true",
                        help="with --near-limit: both children load cycling.analysis (scipy) only after reading")
    parser.add_argument("--records", type=int, default=None, help="default 300,000 (448,000 with --near-limit)")
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20210225)
    parser.add_argument("--repeat", type=int, default=1, help="runs per reader (median reported)")
    parser.add_argument("--precision", choices=["land", "full"], default="land",
                        help="values as LAND writes them (default) or full 17-digit floats")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--reuse", action="store_true", help="reuse the workbook if it was generated before")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "PATH", "FRAME_OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    if args.records is None:
        args.records = 448_000 if args.near_limit else 300_000
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.precision == "land" else "_full"
    path = args.out / f"land_{args.cycles}cycles_{args.records}{suffix}.xlsx"
    start = time.perf_counter()
    if args.reuse and path.exists():
        n = None
        print(f"reusing {path.name} ({path.stat().st_size / 1e6:.1f} MB)")
    else:
        n = generate(path, args.records, args.cycles, args.seed, args.precision)
        print(f"generated {path.name} ({args.precision} precision): {n:,} records, {args.cycles} cycles, "
              f"{path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s")
    if args.near_limit:
        near_limit(path, args.repeat, args.cycles, args.out, analysis_after_parse=args.analysis_after_parse)
        return

    with tempfile.TemporaryDirectory() as tmp:
        frames = {m: Path(tmp) / f"{m}.parquet" for m in ("read_land", "baseline")}
        results = [measure(m, path, args.repeat, frames[m]) for m in ("read_land", "baseline")]
        same_output(frames["read_land"], frames["baseline"])
    for result in results:
        result["records_per_s"] = result["records"] / result["seconds"]
    ours, base = results
    n = ours["records"]
    ratio = base["seconds"] / ours["seconds"]
    cpu_ratio = base["cpu_seconds"] / ours["cpu_seconds"]
    print("both readers returned the same canonical records")
    print(f"\n{'method':<34}{'wall s':>9}{'CPU s':>9}{'records/s':>12}{'peak MiB':>10}")
    labels = {"read_land": "read_land (fastexcel)", "baseline": "pandas.read_excel(openpyxl)+tidy"}
    for result in results:
        print(f"{labels[result['method']]:<34}{result['seconds']:>9.2f}{result['cpu_seconds']:>9.2f}"
              f"{result['records_per_s']:>12,.0f}{result['peak_mib']:>10.0f}")
    print(f"\nspeed-up: {ratio:.1f}x wall, {cpu_ratio:.1f}x CPU (target >= 10x); read_land peak memory "
          f"{ours['peak_mib']:.0f} MiB (target < 1024 MiB)")
    report = {
        "file": path.name, "file_bytes": path.stat().st_size, "records": n, "cycles": args.cycles,
        "seed": args.seed, "precision": args.precision, "repeat": args.repeat, "results": results,
        "speedup": ratio, "speedup_cpu": cpu_ratio, "same_output": True,
        "python": platform.python_version(), "machine": platform.machine(),
    }
    (args.out / "bench_parse.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out / 'bench_parse.json'}")


if __name__ == "__main__":
    main()
