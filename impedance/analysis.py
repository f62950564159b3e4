"""Equivalent-circuit fitting, R_int and Kramers-Kronig checks of EIS spectra; no Django here.

Fitting is weighted complex non-linear least squares (scipy ``least_squares``, trust-region reflective) on
impedance.py's element definitions, with positive parameters fitted in log space and exponents linearly.
impedance.py's own ``CustomCircuit`` is not used: this project's app package shadows the library's name
(see ``_impedancepy``), ``CustomCircuit`` drags in matplotlib/altair, and ``curve_fit`` offers no time
limit. A test checks that both give the same parameters on the same data.

Circuit convention: top-level parallel blocks are listed from high to low frequency; for the sulfide cells
``DEFAULT_CIRCUIT`` is R0 (bulk electrolyte, high-frequency intercept) - p(R1,CPE1) (grain boundary or
In-Li|LGPS interphase) - p(R2,CPE2) (cathode|LGPS interface: R_int) - Wo1 (diffusion tail).
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy
from scipy.optimize import least_squares
from scipy.signal import find_peaks

from . import _impedancepy
from .circuits import Circuit, Node, compile_circuit, validate_circuit
from .parsers import EisSpectrum

__all__ = [
    "DEFAULT_CIRCUIT",
    "R_INT_ELEMENTS",
    "FitResult",
    "Guess",
    "KKResult",
    "fit_circuit",
    "fit_series",
    "initial_guess",
    "kramers_kronig",
    "library_versions",
    "validate_circuit",
]

DEFAULT_CIRCUIT = "R0-p(R1,CPE1)-p(R2,CPE2)-Wo1"
R_INT_ELEMENTS: tuple[str, ...] = ("R2",)
KK_THRESHOLD_PCT = 2.0
CPE_EXPONENT_WARN = 0.6
RELATIVE_ERROR_WARN = 0.20
WEIGHTINGS = ("modulus", "unit")

_Z_SCALED = {"R", "W", "Wo_0", "Ws_0", "G_0", "Gs_0", "Zarc_0", "TLMQ_0"}


def library_versions() -> dict[str, str]:
    return {
        "impedance": _impedancepy.VERSION,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
    }


# ---------------------------------------------------------------------------------------------------------
# initial guess
class Guess(NamedTuple):
    values: dict[str, float]
    bounds: dict[str, tuple[float, float]]


def _sorted_desc(spectrum: EisSpectrum) -> tuple[np.ndarray, np.ndarray]:
    if spectrum.n_sweeps > 1:
        raise ValueError(
            f"{spectrum.source_name or 'spectrum'} holds {spectrum.n_sweeps} sweeps; fit each of spectrum.sweeps()"
        )
    f, z = spectrum.freq_hz, spectrum.z_ohm
    order = np.argsort(-f, kind="stable")
    return f[order], z[order]


def _arc_features(f: np.ndarray, z: np.ndarray):
    """High-frequency intercept, apexes of -Z'' (indices, by falling frequency), the arc/tail junction and
    the smoothed -Z'' used to find them."""
    y = -z.imag
    ys = np.convolve(np.r_[y[0], y[0], y, y[-1], y[-1]], np.ones(5) / 5, mode="valid") if len(y) >= 5 else y
    capacitive = np.flatnonzero(y > 0)
    first = capacitive[0] if len(capacitive) else 0
    if first == 0:
        r0 = float(z.real[0])
    else:  # inductive top end: interpolate where Z'' crosses zero
        r0 = float(np.interp(0.0, [-y[first - 1], -y[first]], [z.real[first - 1], z.real[first]]))
    scale = float(np.ptp(ys)) or 1.0
    maxima, props = find_peaks(ys, prominence=0.03 * scale)
    minima, _ = find_peaks(-ys, prominence=0.01 * scale)
    junction = len(f) - 1
    if len(maxima):
        after = minima[minima > maxima[0]]
        if len(after) and ys[-1] > ys[after[-1]]:
            junction = int(after[-1])
    keep = maxima <= junction
    return max(r0, 0.0), maxima[keep], props["prominences"][keep], junction, ys


def _element_bounds(kind: str, i: int, zscale: float) -> tuple[float, float]:
    key = kind if f"{kind}_{i}" not in _Z_SCALED else f"{kind}_{i}"
    if key in _Z_SCALED or kind == "R":
        return (1e-6 * zscale, 1e3 * zscale)
    table = {
        ("C", 0): (1e-15, 10.0),
        ("L", 0): (1e-13, 1e-1),
        ("CPE", 0): (1e-15, 1e3),
        ("CPE", 1): (0.2, 1.0),
        ("La", 0): (1e-13, 1.0),
        ("La", 1): (0.2, 1.0),
        ("Zarc", 2): (0.2, 1.0),
        ("TLMQ", 1): (1e-15, 1e3),
        ("TLMQ", 2): (0.2, 1.0),
        ("Gs", 2): (1e-3, 1e3),
    }
    return table.get((kind, i), (1e-9, 1e6))  # time constants (s)


def initial_guess(spectrum: EisSpectrum, circuit: str = DEFAULT_CIRCUIT, *, spread: bool = False) -> Guess:
    """Starting values and bounds read off the spectrum.

    R0 = the high-frequency real-axis intercept; each top-level parallel block (in circuit order = from high
    to low frequency) gets one apex of -Z'' (its R from the apex height, its C/CPE from the apex
    frequency); blocks without an apex of their own share the remaining arc width; a Warburg tail gets its
    size from the low-frequency rise. ``spread=True`` ignores the apexes and spreads the blocks a decade
    apart over the arc region (the fallback start).
    """
    circ = compile_circuit(validate_circuit(circuit))
    f, z = _sorted_desc(spectrum)
    zscale = float(np.max(np.abs(z))) or 1.0
    r0, peaks, prominence, junction, ys = _arc_features(f, z)
    arc_total = max(float(z.real[junction]) - r0, 0.02 * zscale)
    top = circ.tree.children if circ.tree.op == "s" else (circ.tree,)
    blocks = [n for n in top if n.op == "p" or (n.op == "e" and n.element.kind in ("Zarc", "G", "Gs"))]
    n_arcs = len(blocks)

    # apex frequency and resistance for each block, from high to low frequency
    if n_arcs:
        chosen = [] if spread else sorted(peaks[np.argsort(-prominence)[:n_arcs]].tolist())
        heights = np.array([max(ys[i], 1e-12) for i in chosen])
        arcs: list[tuple[float, float]] = []
        if len(chosen) == n_arcs:
            shares = heights / heights.sum()
            arcs = [(float(f[i]), float(arc_total * s)) for i, s in zip(chosen, shares, strict=True)]
        else:  # fewer apexes than blocks (merged arcs): blocks a decade apart around them
            centre = (
                float(np.exp(np.mean(np.log(f[chosen])))) if chosen else float(np.sqrt(f[0] * f[junction]))
            )
            offsets = (np.arange(n_arcs) - (n_arcs - 1) / 2) * 1.0
            arcs = [(centre * 10 ** (-o), arc_total / n_arcs) for o in offsets]
    tail_rise = max(float(z.real[-1] - z.real[junction]), 0.0)
    w_low = 2 * np.pi * f[-1]

    values: dict[str, float] = {}
    bounds: dict[str, tuple[float, float]] = {}
    used_r0 = False

    def set_element(el, *, arc: tuple[float, float] | None = None, top_level: bool):
        nonlocal used_r0
        kind, name = el.kind, el.name
        for i in range(el.n_params):
            key = name if el.n_params == 1 else f"{name}_{i}"
            bounds[key] = _element_bounds(kind, i, zscale)
        if kind == "R":
            if arc is not None:
                values[name] = arc[1]
            elif top_level and not used_r0:
                values[name], used_r0 = max(r0, 1e-3 * zscale), True
            else:
                values[name] = 0.01 * zscale
        elif kind == "C":
            fa, ra = arc if arc else (f[-1], arc_total)
            values[name] = 1.0 / (2 * np.pi * fa * ra)
        elif kind == "CPE":
            if arc:
                fa, ra = arc
                values[f"{name}_0"], values[f"{name}_1"] = 1.0 / (ra * (2 * np.pi * fa) ** 0.9), 0.9
            else:  # a series CPE as the tail: |Z''| at the lowest frequency
                values[f"{name}_0"] = 1.0 / (max(ys[-1], 1e-3 * zscale) * w_low**0.7)
                values[f"{name}_1"] = 0.7
        elif kind == "L":
            pos = np.maximum(z.imag[:3], 0)
            values[name] = float(max(pos.max() / (2 * np.pi * f[0]), 1e-9)) if pos.max() > 0 else 1e-9
        elif kind == "La":
            values[f"{name}_0"], values[f"{name}_1"] = 1e-7, 0.9
        elif kind == "W":
            values[name] = max(ys[-1], 0.05 * zscale) * np.sqrt(w_low)
        elif kind in ("Wo", "Ws"):
            z0 = max(3 * tail_rise, 0.1 * arc_total)
            values[f"{name}_0"] = z0
            values[f"{name}_1"] = float(np.clip(z0 / (w_low * max(ys[-1], 1e-3 * zscale)), 1e-3, 1e4))
        elif kind in ("G", "Gs", "Zarc"):
            fa, ra = arc if arc else (np.sqrt(f[0] * f[-1]), 0.1 * arc_total)
            values[f"{name}_0"], values[f"{name}_1"] = ra, 1.0 / (2 * np.pi * fa)
            if kind == "Gs":
                values[f"{name}_2"] = 1.0
            if kind == "Zarc":
                values[f"{name}_2"] = 0.9
        elif kind == "TLMQ":
            values[f"{name}_0"], values[f"{name}_1"], values[f"{name}_2"] = 0.1 * arc_total, 1e-5, 0.9

    def walk(node: Node, arc, top_level):
        if node.op == "e":
            set_element(node.element, arc=arc, top_level=top_level)
        else:
            first_r = True
            for child in node.children:
                child_arc = arc
                if arc is not None and child.op == "e" and child.element.kind == "R":
                    child_arc = arc if first_r else (arc[0], 0.01 * arc[1])
                    first_r = False
                walk(child, child_arc, top_level and node.op == "s")

    for node in top:
        arc = arcs[blocks.index(node)] if node in blocks else None
        walk(node, arc, True)
    for key, (lo, hi) in bounds.items():
        values[key] = float(np.clip(values[key], lo * 1.0001, hi / 1.0001 if hi > 0 else hi))
    return Guess(values, bounds)


# ---------------------------------------------------------------------------------------------------------
# fitting
@dataclass
class FitResult:
    """One equivalent-circuit fit. ``values``/``stderr`` follow ``parameter_names`` (impedance.py's names)."""

    circuit: str
    parameter_names: list[str]
    values: list[float]
    stderr: list[float]
    units: list[str]
    fixed: list[str]
    weighting: str
    n_points: int
    chi_square: float  # sum of squared weighted residuals
    chi_square_reduced: float  # chi_square / (2 n_points - free parameters)
    r_int_elements: tuple[str, ...]
    r_int_definition: str
    r_int_ohm: float
    r_int_stderr_ohm: float
    area_cm2: float | None
    r_int_area_ohm_cm2: float | None
    r_int_area_stderr_ohm_cm2: float | None
    converged: bool
    message: str
    n_evaluations: int
    elapsed_s: float
    library_versions: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    covariance: list[list[float]] | None = None

    @property
    def params(self) -> dict[str, float]:
        return dict(zip(self.parameter_names, self.values, strict=True))

    @property
    def errors(self) -> dict[str, float]:
        return dict(zip(self.parameter_names, self.stderr, strict=True))

    def predict(self, freq_hz) -> np.ndarray:
        return compile_circuit(self.circuit)(self.values, freq_hz)

    def to_dict(self) -> dict:
        """JSON-ready (NaN and inf become None)."""

        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return v

        return clean(asdict(self))


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


def _r_int_definition(circ: Circuit, elements: tuple[str, ...]) -> str:
    if elements == ("R2",) and circ.text == DEFAULT_CIRCUIT:
        return (
            "R2: diameter of the mid-frequency cathode|electrolyte interface arc after the high-frequency "
            f"intercept, in {DEFAULT_CIRCUIT}"
        )
    joined = " + ".join(elements)
    return f"{joined}: {'sum of the interface arc resistances' if len(elements) > 1 else 'interface arc resistance'} in {circ.text}"


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
    user_initial = _as_dict(names, initial, "initial")
    user_bounds = _as_dict(names, bounds, "bounds")
    area = area_cm2 if area_cm2 is not None else spectrum.metadata.get("area_cm2")
    area = float(area) if area is not None and area > 0 else None
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
    result.elapsed_s = time.monotonic() - t0
    return result


def _suspicious(result: FitResult) -> bool:
    return not result.converged or any(
        "sits on its bound" in w or "relative standard error" in w or "CPE exponent" in w
        for w in result.warnings
    )


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
            warnings.append(f"{name}: relative standard error {100 * stderr[k] / abs(x[k]):.0f} % (> 20 %)")
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
    index = {n: k for k, n in enumerate(names)}

    def params_of(node: Node) -> list[int]:
        if node.op == "e":
            el = node.element
            keys = [el.name] if el.n_params == 1 else [f"{el.name}_{i}" for i in range(el.n_params)]
            return [index[k] for k in keys]
        return [k for child in node.children for k in params_of(child)]

    def shape(node: Node) -> tuple:
        return (
            (node.op, node.element.kind)
            if node.op == "e"
            else (node.op, tuple(shape(c) for c in node.children))
        )

    def char_freq(node: Node) -> float:
        kinds = {c.element.kind: params_of(c) for c in node.children if c.op == "e"}
        if "R" in kinds and "CPE" in kinds:
            r, (q, a) = x[kinds["R"][0]], (x[kinds["CPE"][0]], x[kinds["CPE"][1]])
            return 1.0 / (2 * np.pi * (r * q) ** (1.0 / a))
        if "R" in kinds and "C" in kinds:
            return 1.0 / (2 * np.pi * x[kinds["R"][0]] * x[kinds["C"][0]])
        return float("nan")

    blocks = [n for n in top if n.op == "p" and not any(names[k] in fixed_names for k in params_of(n))]
    groups: dict[tuple, list[Node]] = {}
    for b in blocks:
        groups.setdefault(shape(b), []).append(b)
    perm = np.arange(len(names))
    changed = False
    for members in groups.values():
        if len(members) < 2:
            continue
        freqs = [char_freq(m) for m in members]
        if any(math.isnan(v) for v in freqs):
            continue
        wanted = [members[i] for i in np.argsort(freqs)[::-1]]
        for slot, src in zip(members, wanted, strict=True):
            if slot is not src:
                changed = True
                for a, b in zip(params_of(slot), params_of(src), strict=True):
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


# ---------------------------------------------------------------------------------------------------------
# Kramers-Kronig
@dataclass
class KKResult:
    """Lin-KK test (Schönleber et al. 2014, impedance.py's ``linKK``); residuals in % of |Z|."""

    freq_hz: np.ndarray
    residuals_real_pct: np.ndarray
    residuals_imag_pct: np.ndarray
    max_abs_residual_pct: float
    passes: bool
    threshold_pct: float
    n_rc: int
    mu: float
    fit_type: str
    z_fit: np.ndarray

    def to_dict(self) -> dict:
        return {
            "freq_hz": self.freq_hz.tolist(),
            "residuals_real_pct": self.residuals_real_pct.tolist(),
            "residuals_imag_pct": self.residuals_imag_pct.tolist(),
            "max_abs_residual_pct": self.max_abs_residual_pct,
            "passes": self.passes,
            "threshold_pct": self.threshold_pct,
            "n_rc": self.n_rc,
            "mu": self.mu,
            "fit_type": self.fit_type,
        }


def kramers_kronig(
    spectrum: EisSpectrum,
    *,
    c: float = 0.85,
    max_m: int = 50,
    fit_type: str = "complex",
    add_cap: bool = True,
    threshold_pct: float = KK_THRESHOLD_PCT,
) -> KKResult:
    """Run lin-KK; ``passes`` is max |residual| < ``threshold_pct`` over real and imaginary parts.

    ``add_cap`` adds a series capacitance so that a capacitive low-frequency tail (blocking or Warburg
    behaviour) is not mistaken for a KK violation.
    """
    f, z = _sorted_desc(spectrum)
    with contextlib.redirect_stdout(io.StringIO()):  # linKK prints progress every 10 RC elements
        m, mu, z_fit, res_re, res_im = _impedancepy.validation.linKK(
            f, z, c=c, max_M=max_m, fit_type=fit_type, add_cap=add_cap
        )
    res_re, res_im = 100 * np.asarray(res_re, dtype=float), 100 * np.asarray(res_im, dtype=float)
    worst = float(np.max(np.abs(np.concatenate([res_re, res_im]))))
    return KKResult(
        freq_hz=f,
        residuals_real_pct=res_re,
        residuals_imag_pct=res_im,
        max_abs_residual_pct=worst,
        passes=bool(worst < threshold_pct),
        threshold_pct=threshold_pct,
        n_rc=int(m),
        mu=float(mu),
        fit_type=fit_type,
        z_fit=np.asarray(z_fit),
    )
