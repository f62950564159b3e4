"""Benchmark every cycler reader against the plain library read of the same file, side by side.

    python bench/bench_readers.py [--records 100000] [--repeat 3] [--reuse] [--formats arbin,maccor] [--limit 2]

Seeded records (cycling.simulate) are written in each text format by cycling.writers (Arbin csv, Maccor
text, BioLogic .mpt, Neware csv) and as an Arbin xlsx workbook. Each file is read (a) by read_export and
(b) by the library call it rests on: pandas.read_csv with the right separator and header line for text,
python-calamine's to_python for the workbook, pyarrow.csv.read_csv for the BDF file once more as
'bdf-arrow' (the library the BDF reader wraps), fastnda.read for the Neware .nda and .ndax samples (the only
binaries we have, 439 and 1,464 records: each is read 200 times in one process, so the ratio is our fixed
per-call cost over fastnda's; no bigger valid file can be made without a Neware writer). Each read runs in
its own subprocess, so its peak RSS
(VmHWM) is its own. read_export must return every record (checked). Prints a table and writes
bench/out/bench_readers.json; the target is read_export no slower than 2x the plain read (median CPU
seconds over --repeat runs, ours and plain alternating: steadier than wall time on a shared machine), and
the exit status is 1 when a format misses it. --reuse keeps the generated files under bench/out/files
(named by record count and seed), so a rerun skips the writing. User and system CPU are reported apart:
on a loaded virtual machine the kernel's page-fault time (system) swings from run to run, and numpy's
transparent-huge-page requests make it worse (--no-thp runs both sides without them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NEWARE = ROOT / "tests" / "data" / "cyclers" / "neware"
BINARY = {"nda": NEWARE / "navani__test.nda", "ndax": NEWARE / "navani__test.ndax"}
NDA_REPEAT = 200

# format -> (file suffix, separator, header line index) for the plain pandas read.
TEXT = {"arbin": (".csv", ",", 0), "maccor": (".001", "\t", 2), "biologic": (".mpt", "\t", 9),
        "neware": (".csv", ",", 0), "bdf": (".bdf.csv", ",", 0)}


def records(n: int, seed: int):
    from cycling.simulate import study_cell

    cycles = max(2, min(500, n // 600))  # like bench_parse; at ~1700 cycles the simulator's clock runs back
    per_half = max(10, math.ceil((n / cycles - 22) / 2))
    frame, _ = study_cell(group="coated", n_cycles=cycles, points_per_half_cycle=per_half, seed=seed)
    return frame


def write_files(folder: Path, n: int, seed: int, wanted: list[str], reuse: bool = False) -> dict[str, Path]:
    """The seeded file of each wanted format; with ``reuse`` one already in ``folder`` is kept."""
    from cycling.parsers.bdf import write_bdf
    from cycling.writers import WRITERS

    writers = {**WRITERS, "bdf": write_bdf}

    frame = None
    paths = {}
    for fmt, (suffix, _, _) in TEXT.items():
        path = folder / f"bench_{fmt}_{n}_{seed}{suffix}"
        paths[fmt] = path
        if fmt not in wanted and not (fmt == "arbin" and "arbin-xlsx" in wanted) and not (
                fmt == "bdf" and "bdf-arrow" in wanted):
            continue
        if reuse and path.exists():
            continue
        frame = records(n, seed) if frame is None else frame
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as handle:
            writers[fmt](frame, handle)
        partial.replace(path)  # an interrupted write never passes for a cached file
    if "bdf-arrow" in wanted:
        paths["bdf-arrow"] = paths["bdf"]  # the same BDF file against the library the reader wraps
    if "arbin-xlsx" in wanted:
        path = folder / f"bench_arbin_{n}_{seed}.xlsx"
        if not (reuse and path.exists()):
            _arbin_xlsx(path, paths["arbin"])
        paths["arbin-xlsx"] = path
    return {fmt: path for fmt, path in paths.items() if fmt in wanted}


def _arbin_xlsx(path: Path, csv_path: Path) -> Path:
    import pandas as pd
    import xlsxwriter

    frame = pd.read_csv(csv_path)
    partial = path.with_name(path.name + ".partial")
    book = xlsxwriter.Workbook(str(partial), {"constant_memory": True})
    info = book.add_worksheet("Global_Info")
    info.write_row(3, 0, ["Channel", "Start DateTime", "Software Version"])
    info.write_row(4, 0, [1, "2024-01-01 00:00:00", "bench"])
    sheet = book.add_worksheet("Channel_1_1")
    sheet.write_row(0, 0, list(frame.columns))
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        sheet.write_row(i, 0, row)
    book.close()
    partial.replace(path)
    return path


def child(which: str, fmt: str, path: str) -> dict:
    # Libraries are imported before the clock starts: the bench compares reads, not interpreter start-up.
    import fastnda
    import pandas as pd
    import pyarrow.csv as pacsv
    import python_calamine

    from cycling.parsers import read_export
    from cycling.parsers.registry import READERS

    list(READERS)  # the registry's readers imported before the clock starts
    before_mb = _peak_rss_mb()
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    start_use = resource.getrusage(resource.RUSAGE_SELF)
    if which == "read_export":
        repeat = NDA_REPEAT if fmt in BINARY else 1
        for _ in range(repeat):
            n = len(read_export(path).records)
    elif fmt in BINARY:
        for _ in range(NDA_REPEAT):
            n = len(fastnda.read(path, cycle_mode="auto"))
    elif fmt == "bdf-arrow":
        n = pacsv.read_csv(path).num_rows  # pyarrow's defaults (threads, its own allocator), as a user calls it
    elif fmt == "arbin-xlsx":
        rows = python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_name("Channel_1_1").to_python()
        n = len(rows) - 1
    else:
        _, sep, header = TEXT[fmt]
        n = len(pd.read_csv(path, sep=sep, skiprows=header, low_memory=False))
    cpu_s, wall_s, use = time.process_time() - start_cpu, time.perf_counter() - start_wall, resource.getrusage(
        resource.RUSAGE_SELF)
    # user and system time apart: on a loaded machine the kernel's page-fault time is the noisy part
    return {"wall_s": wall_s, "cpu_s": cpu_s, "user_s": use.ru_utime - start_use.ru_utime,
            "sys_s": use.ru_stime - start_use.ru_stime, "n": n, "peak_rss_mb": _peak_rss_mb(),
            "rss_after_imports_mb": before_mb}


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would carry the parent's over the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(which: str, fmt: str, path: Path, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", which, fmt, str(path)], capture_output=True,
                         text=True, check=True, cwd=ROOT, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side per format (median reported)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the generated files in OUT/files")
    parser.add_argument("--limit", type=float, default=2.0, help="highest CPU ratio read_export/plain that passes")
    parser.add_argument("--formats", default="arbin,maccor,biologic,neware,bdf,bdf-arrow,arbin-xlsx,nda,ndax",
                        help="comma-separated subset (arbin-xlsx is slow to write at 10^6 records)")
    parser.add_argument("--no-thp", action="store_true",
                        help="both sides with NUMPY_MADVISE_HUGEPAGE=0: numpy then asks for no transparent huge "
                             "pages, whose faults cost most of the system time on some virtual machines")
    parser.add_argument("--child", nargs=3, metavar=("WHICH", "FORMAT", "PATH"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    out = Path(args.out)
    wanted = args.formats.split(",")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-readers-") as tmp:
        folder = out / "files" if args.reuse else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        paths = write_files(folder, args.records, args.seed, wanted, reuse=args.reuse)
        paths.update({fmt: path for fmt, path in BINARY.items() if fmt in wanted})
        env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "0"} if args.no_thp else None
        results = [_compare(fmt, path, args.repeat, env) for fmt, path in paths.items()]
    load_after = os.getloadavg()
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after, on {os.cpu_count()} CPUs; "
          f"median of {args.repeat} runs per side; numpy huge pages {'off' if args.no_thp else 'as the host has it'}")
    print(f"{'format':<11} {'records':>9} {'MB':>6} {'ours cpu s':>10} {'plain cpu s':>11} {'cpu x':>6} "
          f"{'user x':>6} {'wall x':>6} {'ours RSS MB':>11} {'plain RSS MB':>12} {'RSS x':>6} {'after imports':>13}")
    for r in results:
        print(f"{r['format']:<11} {r['records']:>9} {r['size_mb']:>6.1f} {r['read_export']['cpu_s']:>10.2f} "
              f"{r['plain']['cpu_s']:>11.2f} {r['cpu_ratio']:>6.2f} {r['user_ratio']:>6.2f} {r['wall_ratio']:>6.2f} "
              f"{r['read_export']['peak_rss_mb']:>11.0f} {r['plain']['peak_rss_mb']:>12.0f} {r['rss_ratio']:>6.2f} "
              f"{r['plain']['rss_after_imports_mb']:>13.0f}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_readers.json").write_text(json.dumps(
        {"load_average": [load_before, load_after], "repeat": args.repeat, "no_thp": args.no_thp,
         "results": results}, indent=2))
    slow = [r["format"] for r in results if r["cpu_ratio"] > args.limit]
    if slow:
        print(f"slower than {args.limit:g}x the plain read: {', '.join(slow)}")
        return 1
    return 0


def _compare(fmt: str, path: Path, repeat: int, env: dict | None) -> dict:
    """Median CPU and wall time of ``repeat`` runs of each side (alternating, so a burst of load hits both)."""
    ours, plain = [], []
    for _ in range(repeat):
        ours.append(measure("read_export", fmt, path, env))
        plain.append(measure("plain", fmt, path, env))
        if ours[-1]["n"] != plain[-1]["n"]:
            raise SystemExit(f"{fmt}: read_export gave {ours[-1]['n']} records, the plain read {plain[-1]['n']}")

    def summary(runs: list[dict]) -> dict:
        return {**{key: statistics.median([r[key] for r in runs]) for key in ("cpu_s", "wall_s", "user_s", "sys_s")},
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "rss_after_imports_mb": statistics.median([r["rss_after_imports_mb"] for r in runs]),
                "cpu_runs_s": [r["cpu_s"] for r in runs], "n": runs[0]["n"]}

    a, b = summary(ours), summary(plain)
    return {"format": fmt, "records": a["n"], "size_mb": path.stat().st_size / 1e6, "read_export": a, "plain": b,
            "cpu_ratio": a["cpu_s"] / b["cpu_s"], "wall_ratio": a["wall_s"] / b["wall_s"],
            "user_ratio": a["user_s"] / b["user_s"],
            "rss_ratio": a["peak_rss_mb"] / b["peak_rss_mb"]}


if __name__ == "__main__":
    sys.exit(main())
