"""Whole `summarize` processes against the bare fastexcel read of the same LAND workbook, in one run.

Run:  python bench/bench_cli.py [--records 448000] [--cycles 500] [--repeat 3] [--json FILE]

Writes a seeded LAND workbook (cycling.simulate.study_cell + cycling.testing.write_land, as bench_parse.py)
and times, alternating, three whole processes started from nothing (interpreter start-up included):
  bare      python -c "fastexcel.read_excel(FILE).load_sheet('Record-Tab').to_arrow()"  (the floor)
  cli       python -m cycling.cli summarize FILE --active-mass-mg M   (the pure core, no Django)
  manage    python manage.py summarize FILE --active-mass-mg M       (delegates to the same code after Django)
Wall time (median) and peak RSS (each child's own ru_maxrss, from os.wait4). Targets (issue 29): cli wall
<= 1.5x bare, cli peak RSS <= 1.2x bare.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
ACTIVE_MASS_MG = "6.597"  # write_land's default active mass
TARGET_WALL, TARGET_RSS = 1.5, 1.2


def commands(path: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "bare": [py, "-c", "import sys, fastexcel; fastexcel.read_excel(sys.argv[1]).load_sheet('Record-Tab')"
                           ".to_arrow()", str(path)],
        "cli": [py, "-m", "cycling.cli", "summarize", str(path), "--active-mass-mg", ACTIVE_MASS_MG],
        "manage": [py, "manage.py", "summarize", str(path), "--active-mass-mg", ACTIVE_MASS_MG],
    }


def run(cmd: list[str]) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "assb_lab.settings"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {err.decode()[-500:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
            "stdout": out}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=448_000)
    ap.add_argument("--cycles", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench_parse import generate

    with tempfile.TemporaryDirectory(prefix="assb-bench-cli-") as tmp:
        path = Path(tmp) / "land-448k.xlsx"
        t0 = time.perf_counter()
        n = generate(path, args.records, args.cycles, args.seed)
        made_s = time.perf_counter() - t0
        cmds = commands(path)
        runs: dict[str, list[dict]] = {k: [] for k in cmds}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():  # alternating: a drift of the machine's load hits all three
                runs[name].append(run(cmd))
        cli_out = json.loads(runs["cli"][-1]["stdout"])
        if cli_out["n_records"] != n or runs["manage"][-1]["stdout"] != runs["cli"][-1]["stdout"]:
            raise SystemExit("cli and manage.py printed different summaries or missed records")
    result = {"records": n, "cycles": cli_out["n_cycles"], "generate_s": round(made_s, 1),
              "repeat": args.repeat, "load_average_1min": round(os.getloadavg()[0], 2)}
    for name, rs in runs.items():
        result[name] = {"wall_s": round(statistics.median(r["wall_s"] for r in rs), 2),
                        "cpu_s": round(statistics.median(r["cpu_s"] for r in rs), 2),
                        "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in rs), 1)}
    for name in ("cli", "manage"):
        result[f"{name}_wall_x"] = round(result[name]["wall_s"] / result["bare"]["wall_s"], 2)
        result[f"{name}_cpu_x"] = round(result[name]["cpu_s"] / result["bare"]["cpu_s"], 2)
        result[f"{name}_rss_x"] = round(result[name]["peak_rss_mb"] / result["bare"]["peak_rss_mb"], 2)
    result["ok"] = result["cli_wall_x"] <= TARGET_WALL and result["cli_rss_x"] <= TARGET_RSS
    print(f"{n} records, {result['cycles']} cycles, {args.repeat} runs each (median), load {result['load_average_1min']}")
    print(f"{'process':8} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'wall x':>7} {'cpu x':>7} {'rss x':>7}")
    for name in ("bare", "cli", "manage"):
        r = result[name]
        ratios = ("", "", "") if name == "bare" else (result[f"{name}_wall_x"], result[f"{name}_cpu_x"],
                                                      result[f"{name}_rss_x"])
        print(f"{name:8} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['peak_rss_mb']:8.1f} {ratios[0]!s:>7} "
              f"{ratios[1]!s:>7} {ratios[2]!s:>7}")
    print(f"target cli <= {TARGET_WALL}x wall and <= {TARGET_RSS}x peak RSS of bare: {'met' if result['ok'] else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
