"""Benchmark: fit 100 synthetic 80-point study spectra with the default circuit; time per fit and recovery.

Run from the repository root: ``python bench/bench_eis_fit.py [--n 100] [--noise 0.005]``.
Writes bench/out/eis_fit.json (bench/out/ is git-ignored).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impedance.analysis import DEFAULT_CIRCUIT, fit_circuit, kramers_kronig, library_versions  # noqa: E402
from impedance.simulate import STUDY_PARAMS, study_spectrum  # noqa: E402

CHECKED = ("R0", "R1", "R2", "CPE1_1", "CPE2_1", "Wo1_0", "Wo1_1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100, help="spectra to fit (half bare, half coated)")
    parser.add_argument("--noise", type=float, default=0.005)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "eis_fit.json")
    args = parser.parse_args()

    fit_circuit(study_spectrum("bare", 10_000))  # warm-up: imports, caches
    times, kk_times, rows = [], [], []
    for k in range(args.n):
        kind = "bare" if k % 2 == 0 else "coated"
        spectrum = study_spectrum(kind, seed=k, noise=args.noise)
        t0 = time.perf_counter()
        result = fit_circuit(spectrum)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        kk = kramers_kronig(spectrum)
        kk_times.append(time.perf_counter() - t0)
        truth = STUDY_PARAMS[kind]
        rows.append(
            {
                "kind": kind,
                "seed": k,
                "converged": result.converged,
                "n_evaluations": result.n_evaluations,
                "warnings": result.warnings,
                "r_int_ohm": result.r_int_ohm,
                "r_int_stderr_ohm": result.r_int_stderr_ohm,
                "rel_error_pct": {p: 100 * (result.params[p] / truth[p] - 1) for p in CHECKED},
                "kk_max_abs_residual_pct": kk.max_abs_residual_pct,
                "kk_passes": kk.passes,
            }
        )

    t = np.array(times) * 1000
    summary = {
        "circuit": DEFAULT_CIRCUIT,
        "n_spectra": args.n,
        "points_per_spectrum": len(study_spectrum("bare").data),
        "noise": args.noise,
        "fit_ms": {"mean": t.mean(), "p50": np.percentile(t, 50), "p95": np.percentile(t, 95), "max": t.max()},
        "kk_ms": {"mean": 1000 * np.mean(kk_times), "p95": 1000 * np.percentile(kk_times, 95)},
        "converged": sum(r["converged"] for r in rows),
        "with_warnings": sum(bool(r["warnings"]) for r in rows),
        "kk_passes": sum(r["kk_passes"] for r in rows),
        "recovery": {},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "library_versions": library_versions(),
    }
    for kind in ("bare", "coated"):
        sel = [r for r in rows if r["kind"] == kind]
        r_int = np.array([r["r_int_ohm"] for r in sel])
        block = {
            "n": len(sel),
            "r_int_true_ohm": STUDY_PARAMS[kind]["R2"],
            "r_int_mean_ohm": r_int.mean(),
            "r_int_sd_ohm": r_int.std(ddof=1),
            "r_int_mean_stderr_ohm": float(np.mean([r["r_int_stderr_ohm"] for r in sel])),
            "within_2pct": {},
            "max_abs_rel_error_pct": {},
        }
        for p in CHECKED:
            err = np.abs([r["rel_error_pct"][p] for r in sel])
            block["within_2pct"][p] = int((err < 2).sum())
            block["max_abs_rel_error_pct"][p] = float(err.max())
        summary["recovery"][kind] = block

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "fits": rows}, indent=1, default=float))
    print(json.dumps(summary, indent=1, default=lambda v: round(float(v), 3)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
