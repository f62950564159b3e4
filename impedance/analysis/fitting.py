"""Equivalent-circuit fitting: weighted complex non-linear least squares (scipy least_squares, trust-region
reflective) with positive parameters in log space, standard errors from the Jacobian, a time limit."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy.optimize import least_squares

from ..circuits import Circuit, Node, compile_circuit, validate_circuit
from ..parsers import EisSpectrum
from .common import (
    CPE_EXPONENT_WARN,
    DEFAULT_CIRCUIT,
    R_INT_ELEMENTS,
    RELATIVE_ERROR_WARN,
    WEIGHTINGS,
    _char_freq_hz,
    _params_of,
    _sorted_desc,
    library_versions,
)
from .guess import initial_guess
from .result import FitResult, _r_int_definition, _suspicious
from .rint import _refuse_undetermined_r_int, _refuse_unmeasured_arc, _refused_result, fit_refusal


class _TimeLimit(Exception):
    pass


def _as_dict(names: list[str], given, what: str) -> dict:
    if given is None:
        return {}
    if isinstance(given, Mapping):
        unknown = set(given) - set(names)
        if unknown:
            raise ValueError(f"{what}: unknown parameter(s) {sorted(unknown)}; this circuit has {names}")
        return dict(given)
    given = list(given)
    if len(given) != len(names):
        raise ValueError(f"{what}: {len(given)} values for {len(names)} parameters {names}")
    return dict(zip(names, given, strict=True))


def fit_circuit(
    spectrum: EisSpectrum,
    circuit: str = DEFAULT_CIRCUIT,
    *,
    initial: Mapping[str, float] | Sequence[float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    fixed: Mapping[str, float] | None = None,
    weighting: str = "modulus",
    r_int_elements: Iterable[str] = R_INT_ELEMENTS,
    area_cm2: float | None = None,
    time_limit_s: float = 20.0,
    max_evaluations: int = 4000,
) -> FitResult:
    """Fit ``circuit`` to one sweep by weighted complex non-linear least squares.

    ``weighting="modulus"`` divides both residual parts by |Z| (impedance.py's ``weight_by_modulus``, i.e.
    ``sigma = |Z|``); ``"unit"`` leaves them unweighted. ``fixed`` holds parameters constant (e.g. the anode
    arc of coated cells, whose interface arc lies close to it). Standard errors come from the Jacobian at the
    optimum, scaled by the reduced chi-square (no absolute noise level is known). ``area_cm2`` (or the
    file's ``area_cm2``) gives the area-specific R_int.
    """
    t0 = time.monotonic()
    circ = compile_circuit(validate_circuit(circuit))
    names = circ.parameter_names
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    r_int_elements = tuple(r_int_elements)
    for el in r_int_elements:
        if circ.element_kind(el) != "R":
            raise ValueError(f"R_int element {el!r} is not a resistor of {circ.text}")
    f, z = _sorted_desc(spectrum)
    if not (np.all(np.isfinite(z)) and np.all(f > 0)):
        raise ValueError("spectrum has non-finite impedance or non-positive frequency")

    fixed_values = _as_dict(names, fixed, "fixed")
    area = area_cm2 if area_cm2 is not None else spectrum.metadata.get("area_cm2")
    area = float(area) if area is not None and area > 0 else None
    reason = fit_refusal(f, z, circ, n_free=len(names) - len(fixed_values))
    if reason:
        return _refused_result(circ, f, weighting, r_int_elements, area, reason, time.monotonic() - t0)
    user_initial = _as_dict(names, initial, "initial")
    user_bounds = _as_dict(names, bounds, "bounds")
    deadline = t0 + time_limit_s

    def attempt(spread: bool) -> FitResult:
        guess = initial_guess(spectrum, circ.text, spread=spread)
        start = {**guess.values, **user_initial, **fixed_values}
        limits = {**guess.bounds, **user_bounds}
        return _fit_once(
            circ,
            f,
            z,
            start,
            limits,
            fixed_values,
            weighting,
            r_int_elements,
            area,
            deadline,
            time_limit_s,
            max_evaluations,
        )

    result = attempt(spread=False)
    if not user_initial and _suspicious(result) and time.monotonic() < deadline:
        # merged or mis-detected arcs send the first start into a poor local minimum: try evenly spread arcs
        second = attempt(spread=True)
        if second.chi_square < result.chi_square:
            second.n_evaluations += result.n_evaluations
            result = second
    _refuse_unmeasured_arc(result, circ, f)
    _refuse_undetermined_r_int(result)
    result.elapsed_s = time.monotonic() - t0
    return result


def _fit_once(
    circ: Circuit,
    f: np.ndarray,
    z: np.ndarray,
    start: dict[str, float],
    limits: dict[str, tuple[float, float]],
    fixed_values: dict[str, float],
    weighting: str,
    r_int_elements: tuple[str, ...],
    area: float | None,
    deadline: float,
    time_limit_s: float,
    max_evaluations: int,
) -> FitResult:
    names = circ.parameter_names
    lo = np.array([limits[n][0] for n in names], dtype=float)
    hi = np.array([limits[n][1] for n in names], dtype=float)
    if np.any(lo >= hi):
        bad = [n for n, a, b in zip(names, lo, hi, strict=True) if a >= b]
        raise ValueError(f"bounds: lower >= upper for {bad}")
    linear = circ.exponent_mask | (lo <= 0)
    x0 = np.array([start[n] for n in names], dtype=float)
    x0 = np.where(linear, np.clip(x0, lo, hi), np.clip(x0, lo * (1 + 1e-9), hi * (1 - 1e-9)))
    free = np.array([n not in fixed_values for n in names])
    if not free.any():
        raise ValueError("every parameter is fixed; nothing to fit")

    def to_x(u: np.ndarray) -> np.ndarray:
        x = x0.copy()
        x[free] = np.where(linear[free], u, np.exp(u))
        return x

    u0 = np.where(linear[free], x0[free], np.log(x0[free]))
    ulo = np.where(linear[free], lo[free], np.log(lo[free]))
    uhi = np.where(linear[free], hi[free], np.log(hi[free]))
    weight = np.abs(z) if weighting == "modulus" else np.ones_like(f)
    best = {"cost": np.inf, "u": u0.copy(), "n": 0}

    def residuals(u: np.ndarray) -> np.ndarray:
        best["n"] += 1
        if time.monotonic() > deadline:
            raise _TimeLimit
        dz = (circ(to_x(u), f) - z) / weight
        r = np.concatenate([dz.real, dz.imag])
        if not np.all(np.isfinite(r)):
            return np.full_like(r, 1e6)
        cost = float(r @ r)
        if cost < best["cost"]:
            best.update(cost=cost, u=u.copy())
        return r

    warnings: list[str] = []
    notes: list[str] = []
    converged, message, jac = True, "", None
    try:
        res = least_squares(
            residuals,
            u0,
            bounds=(ulo, uhi),
            method="trf",
            x_scale="jac",
            ftol=1e-12,
            xtol=1e-12,
            gtol=1e-12,
            max_nfev=max_evaluations,
        )
        u_opt, jac, message = res.x, res.jac, res.message
        converged = bool(res.status > 0)
        if not converged:
            warnings.append(f"optimiser stopped without converging: {res.message}")
    except _TimeLimit:
        u_opt, converged = best["u"], False
        message = f"time limit of {time_limit_s:g} s reached; best parameters so far are reported"
        warnings.append(message)
    x = to_x(u_opt)
    dz = (circ(x, f) - z) / weight
    residuals_at = np.concatenate([dz.real, dz.imag])
    chi2 = float(residuals_at @ residuals_at)
    n_free = int(free.sum())
    dof = max(2 * len(f) - n_free, 1)

    cov_x = np.full((len(names), len(names)), np.nan)
    if jac is None:  # time limit: a Jacobian at the best point by finite differences
        jac = _numeric_jacobian(lambda u: _res(circ, to_x(u), f, z, weight), u_opt)
    cov_u = np.linalg.pinv(jac.T @ jac) * (chi2 / dof)
    d = np.where(linear[free], 1.0, x[free])
    cov_free = cov_u * np.outer(d, d)
    idx = np.flatnonzero(free)
    cov_x[np.ix_(idx, idx)] = cov_free
    cov_x[~free, :] = 0.0
    cov_x[:, ~free] = 0.0
    stderr = np.sqrt(np.clip(np.diag(cov_x), 0, None))

    x, stderr, cov_x, reordered = _order_arcs(circ, x, stderr, cov_x, set(fixed_values))
    if reordered:
        warnings.append("parallel blocks were swapped so that they run from high to low frequency")
    x[~free] = x0[~free]

    for k, name in enumerate(names):
        if not free[k]:
            continue
        if circ.exponent_mask[k] and name.startswith("CPE") and x[k] < CPE_EXPONENT_WARN:
            warnings.append(f"{name} = {x[k]:.3f}: CPE exponent below {CPE_EXPONENT_WARN}")
        if x[k] != 0 and stderr[k] / abs(x[k]) > RELATIVE_ERROR_WARN:
            text = f"{name}: relative standard error {100 * stderr[k] / abs(x[k]):.0f} % (> 20 %)"
            # A loosely determined element outside R_int (e.g. a diffusion tail that barely enters the measured
            # range) is a note, not a warning: it says nothing against R_int.
            (warnings if name in r_int_elements else notes).append(text)
        if np.isclose(x[k], lo[k], rtol=1e-6) or np.isclose(x[k], hi[k], rtol=1e-6):
            warnings.append(f"{name} = {x[k]:.4g} sits on its bound")

    sel = np.array([n in r_int_elements for n in names])
    r_int = float(x[sel].sum())
    r_int_var = float(np.nansum(cov_x[np.ix_(sel, sel)]))
    r_int_err = math.sqrt(max(r_int_var, 0.0))
    return FitResult(
        circuit=circ.text,
        parameter_names=names,
        values=[float(v) for v in x],
        stderr=[float(v) for v in stderr],
        units=circ.parameter_units,
        fixed=[n for n in names if n in fixed_values],
        weighting=weighting,
        n_points=len(f),
        chi_square=chi2,
        chi_square_reduced=chi2 / dof,
        r_int_elements=r_int_elements,
        r_int_definition=_r_int_definition(circ, r_int_elements),
        r_int_ohm=r_int,
        r_int_stderr_ohm=r_int_err,
        area_cm2=area,
        r_int_area_ohm_cm2=r_int * area if area else None,
        r_int_area_stderr_ohm_cm2=r_int_err * area if area else None,
        converged=converged,
        message=str(message),
        n_evaluations=best["n"],
        elapsed_s=0.0,
        library_versions=library_versions(),
        warnings=warnings,
        covariance=cov_x.tolist(),
        notes=notes,
    )


def _res(circ: Circuit, x, f, z, weight) -> np.ndarray:
    dz = (circ(x, f) - z) / weight
    return np.concatenate([dz.real, dz.imag])


def _numeric_jacobian(fun, u: np.ndarray) -> np.ndarray:
    r0 = fun(u)
    jac = np.empty((len(r0), len(u)))
    for k in range(len(u)):
        h = 1e-6 * max(1.0, abs(u[k]))
        step = u.copy()
        step[k] += h
        jac[:, k] = (fun(step) - r0) / h
    return jac


def _order_arcs(circ: Circuit, x, stderr, cov, fixed_names: set[str]):
    """Put same-shaped top-level parallel blocks in order of falling characteristic frequency.

    The fit cannot tell two R||CPE blocks apart, so without this R1 and R2 could come out swapped and
    R_int would name the wrong arc.
    """
    top = circ.tree.children if circ.tree.op == "s" else ()
    names = circ.parameter_names

    def shape(node: Node) -> tuple:
        return (
            (node.op, node.element.kind)
            if node.op == "e"
            else (node.op, tuple(shape(c) for c in node.children))
        )

    blocks = [
        n for n in top if n.op == "p" and not any(names[k] in fixed_names for k in _params_of(circ, n))
    ]
    groups: dict[tuple, list[Node]] = {}
    for b in blocks:
        groups.setdefault(shape(b), []).append(b)
    perm = np.arange(len(names))
    changed = False
    for members in groups.values():
        if len(members) < 2:
            continue
        freqs = [_char_freq_hz(circ, m, x) for m in members]
        if any(math.isnan(v) for v in freqs):
            continue
        wanted = [members[i] for i in np.argsort(freqs)[::-1]]
        for slot, src in zip(members, wanted, strict=True):
            if slot is not src:
                changed = True
                for a, b in zip(_params_of(circ, slot), _params_of(circ, src), strict=True):
                    perm[a] = b
    if not changed:
        return x, stderr, cov, False
    return x[perm], stderr[perm], cov[np.ix_(perm, perm)], True


def fit_series(
    spectra: Iterable[EisSpectrum],
    circuit: str = DEFAULT_CIRCUIT,
    *,
    initial: Mapping[str, float] | Sequence[float] | None = None,
    **kwargs,
) -> list[FitResult]:
    """Fit spectra in order (e.g. over cycles) with the same circuit and bounds, seeding each fit with the
    previous result; a fit that fails to converge does not seed the next one."""
    results: list[FitResult] = []
    seed = initial
    for spectrum in spectra:
        result = fit_circuit(spectrum, circuit, initial=seed, **kwargs)
        results.append(result)
        if result.converged:
            seed = dict(zip(result.parameter_names, result.values, strict=True))
    return results
