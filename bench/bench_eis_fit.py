"""Benchmark: EIS fit and lin-KK, the baseline code (git ref, default ``main``) against this tree, side by side.

Both run on the same generated study spectra (In-Li | LGPS | NMC532, 7 MHz to 0.1 Hz, 80 points, 0.5 %
noise, half bare / half coated, with the leads' 0.2 uH inductance unless ``--no-inductance``). The baseline
is the ``impedance`` package of the git ref, exported to a temporary directory and run in a child process
(its pure modules need no Django): its ``fit_circuit`` with the then default circuit and its
``kramers_kronig``. This tree runs ``fit_spectrum`` (circuit chosen from the data) and its own lin-KK.

Reports per fit: wall and CPU time (median, p95; CPU time is less disturbed by other load on the machine), R_int
within max(1 %, 3 x noise) of the truth, lin-KK passes on the valid spectra, and how many of the same spectra
with R2 ramped over the sweep (``--kk-drift``, default 10/20/30 %) each lin-KK rule fails.
Run from the repository root: ``python bench/bench_eis_fit.py [--n 60] [--baseline main]``.
Writes bench/out/eis_fit.json (bench/out/ is git-ignored).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impedance.analysis import fit_spectrum, kramers_kronig, library_versions  # noqa: E402
from impedance.parsers import EisSpectrum  # noqa: E402
from impedance.simulate import STUDY_INDUCTANCE_H, study_spectrum  # noqa: E402

# The child: the baseline's own fit and KK on the same arrays, timed the same way.
CHILD = r"""
import json, sys, time
import numpy as np, pandas as pd
sys.path.insert(0, sys.argv[1])
from impedance.analysis import fit_circuit, kramers_kronig
from impedance.parsers import EisSpectrum
arrays = np.load(sys.argv[2])
f, z = arrays["freq_hz"], arrays["z_ohm"]
out = []
def spectrum(k):
    return EisSpectrum(data=pd.DataFrame({"freq_hz": f[k], "z_real_ohm": z[k].real, "z_imag_ohm": z[k].imag}))
fit_circuit(spectrum(0))  # warm-up
for k in range(len(f)):
    s = spectrum(k)
    t0, c0 = time.perf_counter(), time.process_time(); r = fit_circuit(s)
    t_fit, c_fit = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time(); kk = kramers_kronig(s)
    t_kk, c_kk = time.perf_counter() - t0, time.process_time() - c0
    out.append({"fit_s": t_fit, "kk_s": t_kk, "fit_cpu_s": c_fit, "kk_cpu_s": c_kk, "r_int_ohm": r.r_int_ohm, "circuit": r.circuit,
                "kk_passes": bool(kk.passes), "kk_max_pct": kk.max_abs_residual_pct, "n_rc": int(kk.n_rc)})
drifted = np.load(sys.argv[3])
drift_passes = [bool(kramers_kronig(EisSpectrum(data=pd.DataFrame({"freq_hz": drifted["freq_hz"][k],
    "z_real_ohm": drifted["z_ohm"][k].real, "z_imag_ohm": drifted["z_ohm"][k].imag}))).passes)
    for k in range(len(drifted["freq_hz"]))]
print(json.dumps({"rows": out, "drifted_kk_passes": drift_passes}))
"""


def _export(ref: str, into: Path) -> None:
    archive = subprocess.run(["git", "archive", ref, "impedance"], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def _summary(rows: list[dict], truth: np.ndarray, tolerance: float) -> dict:
    fit_ms = 1000 * np.array([r["fit_s"] for r in rows])
    kk_ms = 1000 * np.array([r["kk_s"] for r in rows])
    fit_cpu_ms = 1000 * np.array([r["fit_cpu_s"] for r in rows])
    kk_cpu_ms = 1000 * np.array([r["kk_cpu_s"] for r in rows])
    r_int = np.array([np.nan if r["r_int_ohm"] is None else r["r_int_ohm"] for r in rows], dtype=float)
    rel = r_int / truth - 1
    return {
        "fit_ms": {"p50": float(np.median(fit_ms)), "p95": float(np.percentile(fit_ms, 95)), "mean": float(fit_ms.mean())},
        "kk_ms": {"p50": float(np.median(kk_ms)), "p95": float(np.percentile(kk_ms, 95))},
        "fit_cpu_ms": {"p50": float(np.median(fit_cpu_ms)), "p95": float(np.percentile(fit_cpu_ms, 95))},
        "kk_cpu_ms": {"p50": float(np.median(kk_cpu_ms)), "p95": float(np.percentile(kk_cpu_ms, 95))},
        "r_int_within_tolerance": int(np.sum(np.abs(rel) <= tolerance)),
        "r_int_mean_rel_error_pct": float(100 * np.nanmean(rel)),
        "r_int_max_abs_rel_error_pct": float(100 * np.nanmax(np.abs(rel))),
        "kk_passes": int(sum(r["kk_passes"] for r in rows)),
        "kk_max_residual_pct_median": float(np.median([r["kk_max_pct"] for r in rows])),
        "circuits": sorted({r["circuit"] for r in rows}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60, help="spectra (half bare, half coated)")
    parser.add_argument("--noise", type=float, default=0.005)
    parser.add_argument("--baseline", default="main", help="git ref of the baseline code")
    parser.add_argument("--no-inductance", action="store_true", help="spectra without the leads' inductance")
    parser.add_argument("--cycle", type=int, default=0, help="cycles of R_int growth (100: the demo's bare cells)")
    parser.add_argument("--kk-drift", type=float, nargs="*", default=[0.1, 0.2, 0.3],
                        help="R2 ramps over the sweep (0.1 = 10 %%) whose lin-KK failures are counted")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "eis_fit.json")
    args = parser.parse_args()
    inductance = None if args.no_inductance else STUDY_INDUCTANCE_H
    tolerance = max(0.01, 3 * args.noise)

    spectra = [
        study_spectrum("bare" if k % 2 == 0 else "coated", seed=k, noise=args.noise, inductance_h=inductance,
                       cycle=args.cycle)
        for k in range(args.n)
    ]
    truth = np.array([s.metadata["true_params"]["R2"] for s in spectra])
    # the same spectra with R2 ramped over the sweep's clock: how many lin-KK catches, before and after
    drifted = [
        study_spectrum("bare" if k % 2 == 0 else "coated", seed=k, noise=args.noise, inductance_h=inductance,
                       cycle=args.cycle, drift={"R2": ramp})
        for ramp in args.kk_drift for k in range(args.n)
    ]

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        _export(args.baseline, tmp_path / "code")
        np.savez(tmp_path / "spectra.npz", freq_hz=np.array([s.freq_hz for s in spectra]),
                 z_ohm=np.array([s.z_ohm for s in spectra]))
        np.savez(tmp_path / "drifted.npz", freq_hz=np.array([s.freq_hz for s in drifted]),
                 z_ohm=np.array([s.z_ohm for s in drifted]))
        child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "code"), str(tmp_path / "spectra.npz"),
                                str(tmp_path / "drifted.npz")], cwd=tmp, check=True, capture_output=True, text=True)
        answer = json.loads(child.stdout.strip().splitlines()[-1])
        before, drifted_before = answer["rows"], answer["drifted_kk_passes"]

    fit_spectrum(spectra[0])  # warm-up
    after = []
    for s in spectra:
        plain = EisSpectrum(data=s.data[["freq_hz", "z_real_ohm", "z_imag_ohm"]].copy())
        t0, c0 = time.perf_counter(), time.process_time()
        result = fit_spectrum(plain)
        t_fit, c_fit = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        kk = kramers_kronig(plain)
        t_kk, c_kk = time.perf_counter() - t0, time.process_time() - c0
        after.append({"fit_s": t_fit, "kk_s": t_kk, "fit_cpu_s": c_fit, "kk_cpu_s": c_kk, "r_int_ohm": result.r_int_ohm if result.has_r_int else None,
                      "circuit": result.circuit, "kk_passes": kk.passes, "kk_max_pct": kk.max_abs_residual_pct,
                      "n_rc": kk.n_rc})

    drifted_after = [bool(kramers_kronig(EisSpectrum(data=d.data[["freq_hz", "z_real_ohm", "z_imag_ohm"]].copy())).passes)
                     for d in drifted]

    def caught(passes: list[bool]) -> dict:
        # failures per ramp and cell: the drifted spectra a lin-KK check flags (the more the better)
        out = {}
        for i, ramp in enumerate(args.kk_drift):
            block = passes[i * args.n:(i + 1) * args.n]
            out[f"{100 * ramp:g} %"] = {"bare": sum(not p for p in block[0::2]), "coated": sum(not p for p in block[1::2]),
                                        "of_each": len(block[0::2])}
        return out

    summary = {
        "spectra": {"n": args.n, "points": 80, "noise": args.noise, "inductance_h": inductance, "cycle": args.cycle,
                    "tolerance_pct": 100 * tolerance},
        "before": {"ref": args.baseline, **_summary(before, truth, tolerance), "kk_drift_failed": caught(drifted_before)},
        "after": {"ref": "working tree", **_summary(after, truth, tolerance), "kk_drift_failed": caught(drifted_after)},
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "library_versions": library_versions(),
    }
    for key in ("fit_ms", "fit_cpu_ms", "kk_cpu_ms"):
        summary[f"ratio_after_over_before_{key}_p50"] = summary["after"][key]["p50"] / summary["before"][key]["p50"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "before": before, "after": after}, indent=1, default=float))
    print(json.dumps(summary, indent=1, default=lambda v: round(float(v), 3)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
