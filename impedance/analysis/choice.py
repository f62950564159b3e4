"""Circuit choice: an inductive high-frequency tail adds a series L0 when the AIC supports it (fit_spectrum),
or the capacitive points alone are fitted."""

from __future__ import annotations

import numpy as np

from ..circuits import compile_circuit, validate_circuit
from ..parsers import EisSpectrum
from .common import AIC_MARGIN, DEFAULT_CIRCUIT, INDUCTIVE_MIN_POINTS, _sorted_desc, with_inductor
from .fitting import fit_circuit
from .result import FitResult


def inductive_tail(spectrum: EisSpectrum) -> dict:
    """Whether the highest frequencies show an inductive tail (Z'' > 0), as leads and cell holders add.

    Detected when the highest-frequency points run with positive Z'' for at least ``INDUCTIVE_MIN_POINTS``
    points; a single positive point can be noise on a capacitive spectrum.
    """
    f, z = _sorted_desc(spectrum)
    positive = z.imag > 0
    run = int(np.argmin(positive)) if not positive.all() else len(positive)
    detected = run >= INDUCTIVE_MIN_POINTS
    return {
        "detected": bool(detected),
        "n_points": run,
        "max_z_imag_ohm": float(z.imag[:run].max()) if run else 0.0,
        "down_to_hz": float(f[run - 1]) if run else None,
        "rule": f"Z'' > 0 at the {INDUCTIVE_MIN_POINTS} or more highest frequencies",
    }


def capacitive_part(spectrum: EisSpectrum) -> EisSpectrum:
    """The points of a sweep with Z'' < 0 (capacitive), in the file's order: the inductive top end cropped."""
    keep = spectrum.data["z_imag_ohm"].to_numpy() < 0
    data = spectrum.data.loc[keep].reset_index(drop=True)
    return EisSpectrum(
        data=data, metadata={**spectrum.metadata, "n_points": len(data)}, warnings=list(spectrum.warnings),
        source_name=spectrum.source_name,
    )


def fit_spectrum(
    spectrum: EisSpectrum,
    *,
    circuit: str | None = None,
    circuit_source: str = "",
    base_circuit: str = DEFAULT_CIRCUIT,
    capacitive_only: bool = False,
    **kwargs,
) -> FitResult:
    """Fit one sweep with the circuit given, or choose the circuit from the data, and say why.

    ``circuit`` given (e.g. the circuit a cell's R_int series already uses): that circuit is fitted and
    ``circuit_source`` is recorded. Otherwise the candidates are ``base_circuit`` and, when the spectrum
    shows an inductive high-frequency tail (:func:`inductive_tail`), the same circuit with a series L0;
    the one with the lowest AIC wins, but the larger circuit must beat the smaller by more than
    ``AIC_MARGIN`` (otherwise the extra element is not supported by the data). A refused candidate never
    wins over one that gives R_int. The reasons go to ``result.provenance``.

    ``capacitive_only=True`` is the remedy for the leads' inductance that the issue offered as an alternative:
    the points with Z'' >= 0 are dropped (:func:`capacitive_part`) and ``circuit`` (default ``base_circuit``,
    no inductor) is fitted to the rest. It is NOT the default because it is biased: the inductance does not stop
    where Z'' changes sign (0.2 uH still adds +1.3 ohm to Z'' at 1 MHz and +0.2 ohm at the anode arc's 30 kHz),
    and the fit without L0 pushes that share into the arcs. On the study's coated spectra it gives R_int
    +2.2 % high (as the plain circuit on all points does), on bare ones +0.3 %; with L0 both are within 0.05 %
    (tests/impedance/test_trust.py measures both). ``result.n_points`` counts the points fitted and the
    provenance says how many were dropped.
    """
    if capacitive_only:
        part = capacitive_part(spectrum)
        text = validate_circuit(circuit or base_circuit)
        result = fit_circuit(part, text, **kwargs)
        dropped = len(spectrum.data) - len(part.data)
        result.provenance = {
            "circuit": result.circuit,
            "chosen_by": "given" if circuit else "capacitive points only",
            "reason": (circuit_source or f"{text} fitted to the capacitive points only (Z'' < 0)")
            + f"; {dropped} inductive point(s) (Z'' >= 0) left out",
            "capacitive_only": True,
            "n_points_dropped": dropped,
        }
        return result
    if circuit is not None:
        result = fit_circuit(spectrum, circuit, **kwargs)
        result.provenance = {
            "circuit": result.circuit,
            "chosen_by": "given",
            "reason": circuit_source or "circuit given by the caller",
        }
        return result
    tail = inductive_tail(spectrum)
    candidates = [validate_circuit(base_circuit)]
    if tail["detected"]:
        candidates.append(with_inductor(base_circuit))
    candidates = list(dict.fromkeys(candidates))
    if len(candidates) == 1:
        results = [fit_circuit(spectrum, candidates[0], **kwargs)]
    else:
        # The inductor circuit first: the plain one is only its comparator, so it starts from the inductor
        # fit's values (minus L0) instead of a fresh guess and a retry, which halves the time of the choice.
        with_l = fit_circuit(spectrum, candidates[1], **kwargs)
        start = kwargs.pop("initial", None)
        if start is None and with_l.converged and not with_l.refused:
            start = {n: v for n, v in with_l.params.items() if n in compile_circuit(candidates[0]).parameter_names}
        results = [fit_circuit(spectrum, candidates[0], initial=start, **kwargs), with_l]
    best = results[0]
    for other in results[1:]:
        if not other.has_r_int:
            continue
        if not best.has_r_int or (other.aic < best.aic - AIC_MARGIN):
            best = other
    summary = [
        {
            "circuit": r.circuit, "chi_square_reduced": r.chi_square_reduced, "aic": r.aic,
            "r_int_ohm": r.r_int_ohm, "r_int_stderr_ohm": r.r_int_stderr_ohm, "converged": r.converged,
            "refused": r.refused,
        }
        for r in results
    ]
    if len(results) == 1:
        reason = "no inductive tail at the highest frequencies, so no inductor was tried"
    elif best is results[0]:
        reason = "an inductive tail was seen, but adding L0 did not lower the AIC by more than " f"{AIC_MARGIN:g}"
    else:
        reason = (
            f"inductive tail (Z'' > 0 at the {tail['n_points']} highest frequencies, down to "
            f"{tail['down_to_hz']:.3g} Hz): {best.circuit} has the lowest AIC ({best.aic:.1f} vs "
            f"{results[0].aic:.1f})"
        )
    best.n_evaluations = sum(r.n_evaluations for r in results)
    best.elapsed_s = sum(r.elapsed_s for r in results)
    best.provenance = {
        "circuit": best.circuit,
        "chosen_by": "AIC",
        "criterion": "lowest AIC = 2n ln(chi2 / 2n) + 2k over modulus-weighted residuals (n points, k free "
        f"parameters); a larger circuit must win by more than {AIC_MARGIN:g}",
        "reason": reason,
        "inductive_tail": tail,
        "candidates": summary,
    }
    return best
