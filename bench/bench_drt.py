"""Benchmark: the DRT (impedance/drt.py) of study spectra, against the circuit fit of the same spectra side by side.

1. Single spectrum: 79-point study spectra (In-Li | LGPS | NMC532, 7 MHz to 0.1 Hz, 0.5 % noise, the leads'
   0.2 uH, half bare / half coated), ``drt_fit`` with lambda by GCV and with a given lambda, against
   ``fit_spectrum`` (the ingest's circuit fit, circuit chosen from the data) on the same arrays: wall and CPU
   time per spectrum (median, p95).
2. Series: one cell's 51 spectra (every 10 cycles to 500, ``study_series``) in one process: total wall/CPU
   time of the DRTs vs the circuit fits, and the interface process's resistance vs the truth's R2.
3. ``--accuracy``: the worst errors over ``--seeds`` seeded spectra per case of tests/impedance/test_drt.py's
   truth (ZARC arcs, diffusion, inductance): tau (decades), arc R, spurious peaks, R_inf, R_pol.

Run from the repository root: ``python bench/bench_drt.py [--n 20] [--accuracy --seeds 40]``.
Writes bench/out/drt.json (bench/out/ is git-ignored).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impedance.analysis import fit_spectrum  # noqa: E402
from impedance.drt import arc_frequency_hz, drt_fit, drt_series  # noqa: E402
from impedance.simulate import (  # noqa: E402
    STUDY_CIRCUIT_WITH_L,
    STUDY_FREQ_HZ,
    STUDY_INDUCTANCE_H,
    simulate_spectrum,
    study_params,
    study_series,
)
from impedance.simulate_drt import Arc, Diffusion, drt_truth_spectrum  # noqa: E402

FREQ_79 = np.logspace(np.log10(STUDY_FREQ_HZ[0]), np.log10(STUDY_FREQ_HZ[-1]), 79)


def timed(fn, *args, **kwargs):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0, time.process_time() - c0


def stats(values) -> dict:
    a = np.asarray(values, dtype=float)
    return {"median_ms": round(1000 * float(np.median(a)), 1), "p95_ms": round(1000 * float(np.percentile(a, 95)), 1)}


def single(n: int) -> dict:
    spectra = []
    for k in range(n):
        kind = ("bare", "coated")[k % 2]
        params = study_params(kind, cycle=0, inductance_h=STUDY_INDUCTANCE_H)
        spectra.append(simulate_spectrum(STUDY_CIRCUIT_WITH_L, params, FREQ_79, seed=1000 + k))
    drt_fit(spectra[0])  # warm-up (imports, BLAS)
    fit_spectrum(spectra[0])
    rows = {"drt_gcv": ([], []), "drt_given": ([], []), "circuit_fit": ([], [])}
    for s in spectra:
        for name, call in (("drt_gcv", lambda s=s: drt_fit(s)), ("drt_given", lambda s=s: drt_fit(s, lambda_=1e-3)),
                           ("circuit_fit", lambda s=s: fit_spectrum(s))):
            _, wall, cpu = timed(call)
            rows[name][0].append(wall)
            rows[name][1].append(cpu)
    return {"n_spectra": n, "n_points": len(FREQ_79),
            **{name: {"wall": stats(w), "cpu": stats(c)} for name, (w, c) in rows.items()}}


def series(kind: str) -> dict:
    cycles = list(range(0, 501, 10))
    spectra = study_series(kind, cycles=cycles)
    results, wall_drt, cpu_drt = timed(lambda: [drt_fit(s) for s in spectra])
    _, wall_fit, cpu_fit = timed(lambda: [fit_spectrum(s) for s in spectra])
    tracks = drt_series(cycles, results)
    full = [t for t in tracks if t["n_found"] == len(spectra)]
    interface = max(full, key=lambda t: t["resistance_ohm"][0]) if full else None
    r2 = np.array([s.metadata["true_params"]["R2"] for s in spectra])
    f2 = np.array([arc_frequency_hz(s.metadata["true_params"], "R2") for s in spectra])
    out = {"kind": kind, "n_spectra": len(spectra), "drt_total_s": round(wall_drt, 2), "drt_cpu_s": round(cpu_drt, 2),
           "fit_total_s": round(wall_fit, 2), "fit_cpu_s": round(cpu_fit, 2), "n_processes": len(tracks)}
    if interface is not None:
        out["interface_r_max_rel_err"] = round(float(np.max(np.abs(np.array(interface["resistance_ohm"]) / r2 - 1))), 4)
        out["interface_f_max_err_decades"] = round(float(np.max(np.abs(np.log10(np.array(interface["f_hz"]) / f2)))), 3)
        out["interface_f_hz_cycle0"] = round(interface["f_hz"][0], 1)
    return out


CASES = {
    "3 arcs, 2 decades apart": dict(arcs=[Arc(100, 1e-5, 0.9), Arc(300, 1e-3, 0.85), Arc(200, 1e-1, 0.9)]),
    "3 arcs, 1 decade apart": dict(arcs=[Arc(100, 1e-4, 0.9), Arc(300, 1e-3, 0.85), Arc(200, 1e-2, 0.9)]),
    "3 arcs + 1 uH": dict(arcs=[Arc(100, 1e-5, 0.9), Arc(300, 1e-3, 0.85), Arc(200, 1e-1, 0.9)], inductance_h=1e-6),
    "2 arcs + Wo (2 s)": dict(arcs=[Arc(100, 1e-5, 0.9), Arc(300, 1e-3, 0.85)], diffusion=Diffusion(400, 2, "Wo")),
    "2 arcs + Wo (5 s)": dict(arcs=[Arc(100, 1e-5, 0.9), Arc(300, 1e-3, 0.85)], diffusion=Diffusion(400, 5, "Wo")),
    "2 arcs + Ws (2 s) + 1 uH": dict(arcs=[Arc(100, 1e-5, 0.9), Arc(300, 1e-3, 0.85)],
                                     diffusion=Diffusion(200, 2, "Ws"), inductance_h=1e-6),
}


def accuracy(seeds: int) -> dict:
    out = {}
    for name, kw in CASES.items():
        w = {"tau_dec": 0.0, "r_rel": 0.0, "spurious": 0.0, "r_inf_rel": 0.0, "r_pol_rel": 0.0}
        arcs_outside = 0
        for seed in range(seeds):
            spectrum, truth = drt_truth_spectrum(seed=seed, **kw)
            r = drt_fit(spectrum)
            matched = set()
            for arc in truth.arcs:
                i = min(range(len(r.peaks)), key=lambda i: abs(math.log10(r.peaks[i].tau_s / arc.tau_s)))
                matched.add(i)
                dt = abs(math.log10(r.peaks[i].tau_s / arc.tau_s))
                dr = abs(r.peaks[i].resistance_ohm / arc.r_ohm - 1)
                w["tau_dec"], w["r_rel"] = max(w["tau_dec"], dt), max(w["r_rel"], dr)
                arcs_outside += dt > 0.15 or dr > 0.15
            for i, p in enumerate(r.peaks):
                diffusion = truth.diffusion is not None and p.tau_s > truth.diffusion.tau_s / 300
                if i not in matched and not diffusion:
                    w["spurious"] = max(w["spurious"], p.resistance_ohm / truth.r_pol_ohm)
            w["r_inf_rel"] = max(w["r_inf_rel"], abs(r.r_inf_ohm / truth.r_inf_ohm - 1))
            w["r_pol_rel"] = max(w["r_pol_rel"], abs(r.r_pol_ohm / truth.r_pol_ohm - 1))
        n_arcs = seeds * len(kw["arcs"])
        out[name] = {k: round(v, 4) for k, v in w.items()} | {"arcs_outside_limits": f"{arcs_outside}/{n_arcs}"}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="single spectra to time (default 20)")
    ap.add_argument("--accuracy", action="store_true", help="also the worst errors on the seeded truth")
    ap.add_argument("--seeds", type=int, default=40)
    args = ap.parse_args()
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_before": os.getloadavg()[0]}}
    report["single"] = single(args.n)
    report["series"] = [series("bare"), series("coated")]
    if args.accuracy:
        report["accuracy"] = accuracy(args.seeds)
    report["machine"]["load_after"] = os.getloadavg()[0]
    s = report["single"]
    print(f"79-point spectrum (n={s['n_spectra']}), wall median / p95, CPU median:")
    for name in ("drt_gcv", "drt_given", "circuit_fit"):
        print(f"  {name:12s} {s[name]['wall']['median_ms']:8.1f} / {s[name]['wall']['p95_ms']:8.1f} ms"
              f"   CPU {s[name]['cpu']['median_ms']:8.1f} ms")
    for r in report["series"]:
        print(f"series {r['kind']}: {r['n_spectra']} spectra: DRT {r['drt_total_s']} s (CPU {r['drt_cpu_s']}) vs "
              f"circuit fits {r['fit_total_s']} s (CPU {r['fit_cpu_s']}); interface R max err "
              f"{r.get('interface_r_max_rel_err')}, f max err {r.get('interface_f_max_err_decades')} dec, "
              f"f at cycle 0 {r.get('interface_f_hz_cycle0')} Hz")
    for name, w in report.get("accuracy", {}).items():
        print(f"accuracy {name:26s} " + " ".join(f"{k}={v}" for k, v in w.items()))
    print(f"load average {report['machine']['load_before']:.1f} -> {report['machine']['load_after']:.1f}")
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "drt.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
