"""Benchmark read_land against the usual pandas+openpyxl route on a seeded 500-cycle LAND workbook.

    python bench/bench_parse.py [--records 300000] [--cycles 500] [--out bench/out]

Each reader runs in its own subprocess so that peak memory (ru_maxrss) is its own. Prints a table and
writes bench/out/bench_parse.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE_RENAME = {
    "Record": "record", "TestTime/Sec": "test_time_s", "StepTime/Sec": "step_time_s", "Current/mA": "current_ma",
    "Voltage/V": "voltage_v", "Capacity/mAh": "capacity_mah", "Energy/mWh": "energy_mwh",
    "Cycle-Index": "cycle", "Step-Index": "step", "Step-State": "state", "SysTime": "sys_time",
}


def generate(path: Path, records: int, cycles: int, seed: int) -> int:
    from cycling.simulate import study_cell
    from cycling.testing import write_land

    per_half = max(10, math.ceil((records / cycles - 22) / 2))
    while True:
        frame, _ = study_cell(group="coated", n_cycles=cycles, points_per_half_cycle=per_half, seed=seed)
        if len(frame) >= records:
            break
        per_half += max(1, math.ceil((records - len(frame)) / cycles / 2))
    write_land(frame, path, variant="modern", constant_memory=True)
    return len(frame)


def run_read_land(path: str) -> int:
    from cycling.parsers import read_land

    return len(read_land(path).records)


def run_baseline(path: str) -> int:
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
    return len(frame[columns].sort_values("record").reset_index(drop=True))


def child(method: str, path: str) -> None:
    # Imports are not what is being compared: load them before the clock starts, for both readers.
    import openpyxl  # noqa: F401
    import pandas  # noqa: F401

    import cycling.parsers  # noqa: F401

    start = time.perf_counter()
    n = {"read_land": run_read_land, "baseline": run_baseline}[method](path)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"method": method, "seconds": seconds, "records": n, "peak_mib": peak_kib / 1024}))


def measure(method: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", method, str(path)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20210225)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"land_{args.cycles}cycles_{args.records}.xlsx"
    start = time.perf_counter()
    n = generate(path, args.records, args.cycles, args.seed)
    generated_s = time.perf_counter() - start
    print(f"generated {path.name}: {n:,} records, {args.cycles} cycles, "
          f"{path.stat().st_size / 1e6:.1f} MB in {generated_s:.1f} s")

    results = [measure("read_land", path), measure("baseline", path)]
    for result in results:
        result["records_per_s"] = result["records"] / result["seconds"]
    ours, base = results
    ratio = base["seconds"] / ours["seconds"]
    print(f"\n{'method':<34}{'seconds':>10}{'records/s':>14}{'peak MiB':>11}")
    labels = {"read_land": "read_land (python-calamine)", "baseline": "pandas.read_excel(openpyxl)+tidy"}
    for result in results:
        print(f"{labels[result['method']]:<34}{result['seconds']:>10.2f}{result['records_per_s']:>14,.0f}"
              f"{result['peak_mib']:>11.0f}")
    print(f"\nspeed-up: {ratio:.1f}x (target >= 10x); read_land peak memory {ours['peak_mib']:.0f} MiB "
          "(target < 1024 MiB)")
    report = {
        "file": path.name, "file_bytes": path.stat().st_size, "records": n, "cycles": args.cycles,
        "seed": args.seed, "results": results, "speedup": ratio,
        "python": platform.python_version(), "machine": platform.machine(),
    }
    (args.out / "bench_parse.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out / 'bench_parse.json'}")


if __name__ == "__main__":
    main()
