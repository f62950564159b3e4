"""Benchmark: the analysis pipeline (cycling.analysis.analyse: cycle identity, cycle table with dQ/dV of every
cycle, sanity findings, run metrics) plus the peak table, of a 500-cycle simulated run with >= 300,000 records.
Target: < 5 s. Run: python bench/bench_analysis.py"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from types import SimpleNamespace  # noqa: E402

from cycling.analysis import CellSpec, analyse, dqdv_all, dqdv_peak_table, run_metrics, summarize_cycles  # noqa: E402
from cycling.simulate import study_cell  # noqa: E402

TARGET_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=502)
    parser.add_argument("--points", type=int, default=300, help="records per half cycle (CC part)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    records, info = study_cell("coated", n_cycles=args.cycles, points_per_half_cycle=args.points)
    t_sim = time.perf_counter() - t0
    spec = CellSpec(info["active_mass_mg"], info["area_cm2"], info["theoretical_mah_g"])
    export = SimpleNamespace(records=records, cycle_table=None, warnings=[])
    print(f"simulated {len(records):,} records, {args.cycles} cycles in {t_sim:.2f} s")

    best = {}
    for _ in range(args.repeat):
        times = {}
        t = time.perf_counter()
        curves = dqdv_all(records)
        times["dqdv_all"] = time.perf_counter() - t
        t = time.perf_counter()
        cycles = summarize_cycles(records, spec, curves=curves)
        times["summarize_cycles"] = time.perf_counter() - t
        t = time.perf_counter()
        run = run_metrics(cycles)
        times["run_metrics"] = time.perf_counter() - t
        t = time.perf_counter()
        peaks = dqdv_peak_table(curves)
        times["dqdv_peak_table"] = time.perf_counter() - t
        times["parts"] = sum(times.values())
        t = time.perf_counter()
        result = analyse(export, spec)
        times["analyse (pipeline)"] = time.perf_counter() - t
        t = time.perf_counter()
        dqdv_peak_table(result.curves)
        times["total"] = times["analyse (pipeline)"] + time.perf_counter() - t
        best = times if not best or times["total"] < best["total"] else best
    for name, secs in best.items():
        print(f"{name:>18}: {secs:6.3f} s")
    assert result.run["decay_percent_per_cycle"] == run["decay_percent_per_cycle"]
    print(f"cycles={len(cycles)} peaks={len(peaks)} findings={len(result.findings)} decay={run['decay_percent_per_cycle']:.4f} %/cycle "
          f"ICE={run['initial_ce_percent']:.2f} %")
    ok = best["total"] < TARGET_S and len(records) >= 300_000
    print(("OK" if ok else "SLOW") + f": {best['total']:.2f} s for {len(records):,} records (target < {TARGET_S} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
