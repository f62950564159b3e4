"""When a sweep cannot give R_int: too few points, no arc, too short a span, an interface arc outside the data,
or an R_int its standard error does not determine. Each refusal is a finding a researcher can act on."""

from __future__ import annotations

import math

import numpy as np

from ..circuits import Circuit
from .common import (
    _TIME_CONSTANT_KINDS,
    MIN_ARC_FRACTION,
    MIN_ARC_OF_MODULUS,
    MIN_DECADES_BELOW_ARC,
    MIN_DECADES_PER_TIME_CONSTANT,
    MIN_FIT_POINTS,
    R_INT_REFUSE_RELATIVE_ERROR,
    _char_freq_hz,
    _top_level,
    library_versions,
)
from .result import FitResult, _r_int_definition


def fit_refusal(f: np.ndarray, z: np.ndarray, circ: Circuit, *, n_free: int | None = None) -> str:
    """Why ``circ`` cannot be fitted to these points (empty string: it can).

    Three checks, each a finding a researcher can act on: too few points for the free parameters (two
    points, i.e. four numbers, per parameter and at least ``MIN_FIT_POINTS``), no arc at all (-Z'' never
    rises above ``MIN_ARC_FRACTION`` of the real-axis span), and a frequency span shorter than one decade per
    time constant of the circuit (each parallel block and each diffusion element needs about a decade).
    """
    n_free = len(circ.parameter_names) if n_free is None else n_free
    needed = max(MIN_FIT_POINTS, 2 * n_free)
    if len(f) < needed:
        return (
            f"only {len(f)} points for the {n_free} free parameters of {circ.text}: at least {needed} are "
            "needed (an aborted or truncated sweep?); no R_int is given"
        )
    span = float(np.ptp(z.real))
    height = float(np.max(-z.imag))
    if height <= MIN_ARC_FRACTION * span or height <= MIN_ARC_OF_MODULUS * float(np.median(np.abs(z))):
        return (
            f"no arc: -Z'' rises to only {height:.3g} ohm, below {100 * MIN_ARC_FRACTION:g} % of the real-axis "
            f"span ({span:.3g} ohm) or {100 * MIN_ARC_OF_MODULUS:g} % of |Z|, so there is no semicircle to fit; "
            "no R_int is given"
        )
    n_tc = sum(
        1 for node in _top_level(circ)
        if node.op == "p" or (node.op == "e" and node.element.kind in _TIME_CONSTANT_KINDS)
    )
    decades = float(np.log10(f.max() / f.min()))
    if decades < MIN_DECADES_PER_TIME_CONSTANT * n_tc:
        return (
            f"the sweep spans {decades:.1f} decades ({f.min():.3g} to {f.max():.3g} Hz), too short for the "
            f"{n_tc} time constants of {circ.text} (at least {MIN_DECADES_PER_TIME_CONSTANT * n_tc:g} decades "
            "are needed); no R_int is given"
        )
    return ""


def _refused_result(circ, f, weighting, r_int_elements, area, reason, elapsed_s) -> FitResult:
    n = len(circ.parameter_names)
    nan = float("nan")
    return FitResult(
        circuit=circ.text, parameter_names=circ.parameter_names, values=[nan] * n, stderr=[nan] * n,
        units=circ.parameter_units, fixed=[], weighting=weighting, n_points=len(f), chi_square=nan,
        chi_square_reduced=nan, r_int_elements=r_int_elements, r_int_definition=_r_int_definition(circ, r_int_elements),
        r_int_ohm=nan, r_int_stderr_ohm=nan, area_cm2=area, r_int_area_ohm_cm2=None,
        r_int_area_stderr_ohm_cm2=None, converged=False, message="not fitted: " + reason, n_evaluations=0,
        elapsed_s=elapsed_s, library_versions=library_versions(), warnings=[reason[0].upper() + reason[1:]],
        refused=reason,
    )


def _refuse_unmeasured_arc(result: FitResult, circ: Circuit, f: np.ndarray) -> None:
    """No R_int when the fitted interface arc peaks outside the measured frequencies, or when the sweep stops
    less than ``MIN_DECADES_BELOW_ARC`` below its apex: its diameter then comes from extrapolation, not from
    the data (the sweep stopped before or inside the arc, or the arc is a ghost)."""
    x = np.asarray(result.values)
    for node in _top_level(circ):
        if node.op != "p":
            continue
        members = {c.element.name for c in node.children if c.op == "e"}
        hit = sorted(members & set(result.r_int_elements))
        if not hit:
            continue
        apex = _char_freq_hz(circ, node, x)
        if math.isfinite(apex) and not (f.min() <= apex <= f.max()):
            reason = (
                f"the interface arc ({', '.join(hit)}) of the fit peaks at {apex:.3g} Hz, outside the measured "
                f"{f.min():.3g} to {f.max():.3g} Hz: the data do not determine it; no R_int is given"
            )
        elif math.isfinite(apex) and f.min() > apex / 10**MIN_DECADES_BELOW_ARC:
            # The arc's low-frequency half is where it returns to the real axis: without it the diameter is
            # an extrapolation, and the standard error (with the tail's parameters on their bounds) is too
            # small (a bare sweep stopped at 30 Hz: +2.2 % with a standard error of 0.5 %).
            reason = (
                f"the sweep stops at {f.min():.3g} Hz, less than {MIN_DECADES_BELOW_ARC:g} decade below the "
                f"interface arc ({', '.join(hit)}) peaking at {apex:.3g} Hz: the arc does not close within the "
                "data, so its diameter is extrapolated (an aborted sweep?); no R_int is given"
            )
        else:
            continue
        result.refused = reason
        result.warnings.append(reason[0].upper() + reason[1:])
        result.r_int_ohm = result.r_int_stderr_ohm = float("nan")
        result.r_int_area_ohm_cm2 = result.r_int_area_stderr_ohm_cm2 = None
        return


def _refuse_undetermined_r_int(result: FitResult) -> None:
    """No R_int when its standard error is as large as the value: one standard error either side then spans
    zero, so the data do not determine it. A sweep aborted above the interface arc (e.g. stopped at 3 kHz on
    the study's cells) still fits, with a ghost arc of a few percent of the true R_int and a standard error
    twice its size; marking it (> 20 %) would still put a number on the plot."""
    if not result.has_r_int:
        return
    relative = result.r_int_stderr_ohm / abs(result.r_int_ohm) if result.r_int_ohm else math.inf
    if not (relative < R_INT_REFUSE_RELATIVE_ERROR):  # NaN standard error too
        reason = (
            f"R_int = {result.r_int_ohm:.4g} ohm has a standard error of {result.r_int_stderr_ohm:.4g} ohm "
            f"({100 * relative:.0f} % of the value): the data do not determine the interface arc (a sweep "
            "stopped before it?); no R_int is given"
        )
        result.refused = reason
        result.warnings.append(reason[0].upper() + reason[1:])
        result.r_int_ohm = result.r_int_stderr_ohm = float("nan")
        result.r_int_area_ohm_cm2 = result.r_int_area_stderr_ohm_cm2 = None
