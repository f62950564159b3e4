"""Benchmark the stored analysed record: what it adds to an ingest, and what a timeline change would cost.

    python bench/bench_records.py [--cycles 200] [--points 150] [--repeat 5] [--json FILE]

In process, no services, on one simulated study cell (seeded, made at run time). Measures, median of
`--repeat` runs each:
  1. the ingest's records step: the raw records written to Parquet (as before the analysed record) against
     `analysed_record` + the write of the analysed record, beside the bare parse-free `analyse` of the same
     records for scale (target: the analysed record adds <= 5 % of analyse + write);
  2. the cell's cycle on a timeline change: offset added on read (read `cycle` and add) against the
     alternative of storing it (read the whole Parquet, add the column, write it again), per file.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _write(frame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, compression="zstd", row_group_size=100_000)  # as the ingest writes
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--points", type=int, default=150, help="records per half cycle (CC part)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import pandas as pd
    import pyarrow.parquet as pq

    from cycling.analysis import CellSpec, analyse
    from cycling.analysis.record import analysed_record
    from cycling.parsers.export import Export
    from cycling.simulate import STUDY_ACTIVE_MASS_MG, study_cell

    records, _ = study_cell("coated", n_cycles=args.cycles, points_per_half_cycle=args.points)
    export = Export(records=records, cycle_table=None, step_table=None)
    spec = CellSpec(active_mass_mg=STUDY_ACTIVE_MASS_MG, area_cm2=0.785, theoretical_mah_g=160.0)
    result = analyse(export, spec)
    cycle = result.records["cycle"].to_numpy()

    analyse_s = _median_s(lambda: analyse(export, spec), args.repeat)
    raw_s = _median_s(lambda: _write(records), args.repeat)
    analysed_s = _median_s(lambda: _write(analysed_record(records, cycle, result.cycles)), args.repeat)
    stored = _write(analysed_record(records, cycle, result.cycles))
    raw_bytes = len(_write(records))

    def offset_on_read():
        table = pq.read_table(io.BytesIO(stored), columns=["cycle"])
        return table.column("cycle").to_numpy() + 7

    def rewrite():
        frame = pd.read_parquet(io.BytesIO(stored))
        return _write(frame.assign(cell_cycle=frame["cycle"] + 7))

    read_s = _median_s(offset_on_read, args.repeat)
    rewrite_s = _median_s(rewrite, args.repeat)
    added_s = analysed_s - raw_s
    report = {
        "records": len(records), "cycles": len(result.cycles), "analyse_s": analyse_s,
        "write_raw_s": raw_s, "write_analysed_s": analysed_s, "added_s": added_s,
        "added_percent_of_analyse_and_write": 100 * added_s / (analyse_s + raw_s),
        "parquet_raw_bytes": raw_bytes, "parquet_analysed_bytes": len(stored),
        "offset_on_read_s": read_s, "rewrite_per_file_s": rewrite_s,
    }
    print(f"{len(records):,} records, {len(result.cycles)} cycles (median of {args.repeat})")
    print(f"analyse (cycle rule, table, dQ/dV)        {analyse_s * 1000:8.1f} ms")
    print(f"write raw records (before)                {raw_s * 1000:8.1f} ms  {raw_bytes / 1e6:7.3f} MB")
    print(f"analysed_record + write (now)             {analysed_s * 1000:8.1f} ms  {len(stored) / 1e6:7.3f} MB")
    print(f"added to analyse + write                  {added_s * 1000:8.1f} ms  "
          f"({report['added_percent_of_analyse_and_write']:+.1f} %, target <= 5 %)")
    print(f"timeline change, offset added on read     {read_s * 1000:8.2f} ms per file read")
    print(f"timeline change, Parquet rewritten        {rewrite_s * 1000:8.1f} ms per file")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
