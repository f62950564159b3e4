"""Equivalent-circuit fitting, R_int and Kramers-Kronig checks of EIS spectra; no Django here.

Fitting is weighted complex non-linear least squares (scipy ``least_squares``, trust-region reflective) on
impedance.py's element definitions, with positive parameters fitted in log space and exponents linearly.
impedance.py's own ``CustomCircuit`` is not used: this project's app package shadows the library's name
(see ``_impedancepy``), ``CustomCircuit`` drags in matplotlib/altair, and ``curve_fit`` offers no time
limit. A test checks that both give the same parameters on the same data.

Circuit convention: top-level parallel blocks are listed from high to low frequency; for the sulfide cells
``DEFAULT_CIRCUIT`` is R0 (bulk electrolyte, high-frequency intercept) - p(R1,CPE1) (grain boundary or
In-Li|LGPS interphase) - p(R2,CPE2) (cathode|LGPS interface: R_int) - Wo1 (diffusion tail).

Trust: ``fit_spectrum`` adds a series L0 when the top end is inductive (leads, holder) and keeps it only if
the AIC says so; ``fit_refusal`` gives no R_int for sweeps that cannot determine it (too few points, no arc,
span too short, interface arc outside the measured range); ``kramers_kronig`` is lin-KK with the mu
criterion, series L and C terms and residuals on both parts.
"""

from __future__ import annotations

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
    "KK_RULE",
    "KK_VERSION",
    "fit_circuit",
    "fit_refusal",
    "capacitive_part",
    "fit_series",
    "fit_spectrum",
    "inductive_tail",
    "with_inductor",
    "initial_guess",
    "kramers_kronig",
    "library_versions",
    "validate_circuit",
]

DEFAULT_CIRCUIT = "R0-p(R1,CPE1)-p(R2,CPE2)-Wo1"
R_INT_ELEMENTS: tuple[str, ...] = ("R2",)
KK_MU_CRITERION = 0.85  # Schönleber et al. 2014
CPE_EXPONENT_WARN = 0.6
RELATIVE_ERROR_WARN = 0.20
WEIGHTINGS = ("modulus", "unit")
MIN_FIT_POINTS = 10
MIN_ARC_FRACTION = 0.05  # of the Z' span: below it there is no arc to fit
MIN_ARC_OF_MODULUS = 0.01  # of the median |Z|: an "arc" that low is noise on a resistor
MIN_DECADES_PER_TIME_CONSTANT = 1.0
MIN_DECADES_BELOW_ARC = 0.5  # the sweep must reach this far below the interface arc's apex (its closing half)
INDUCTIVE_MIN_POINTS = 2
AIC_MARGIN = 2.0  # the usual threshold of "substantial support" for the larger model (Burnham & Anderson)
R_INT_MARK_RELATIVE_ERROR = RELATIVE_ERROR_WARN  # R_int with a larger standard error is marked on plots
R_INT_REFUSE_RELATIVE_ERROR = 1.0  # a standard error as large as R_int itself: the data say nothing about it
_TIME_CONSTANT_KINDS = {"W", "Wo", "Ws", "G", "Gs", "Zarc", "TLMQ"}

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
    notes: list[str] = field(default_factory=list)  # facts about the fit that do not concern R_int
    refused: str = ""  # why these data cannot give R_int (then r_int_ohm is NaN); empty when it is given
    provenance: dict = field(default_factory=dict)  # which circuit, and why (see fit_spectrum)

    @property
    def has_r_int(self) -> bool:
        return not self.refused and math.isfinite(self.r_int_ohm)

    @property
    def aic(self) -> float:
        """Akaike information criterion of the weighted residuals: 2n ln(chi2 / 2n) + 2k (k free params)."""
        n_res = 2 * self.n_points
        k = len(self.parameter_names) - len(self.fixed)
        if not (self.chi_square > 0 and math.isfinite(self.chi_square)):
            return float("nan")
        return n_res * math.log(self.chi_square / n_res) + 2 * k

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
    if elements == R_INT_ELEMENTS and circ.text in (DEFAULT_CIRCUIT, with_inductor(DEFAULT_CIRCUIT)):
        return (
            "R2: diameter of the mid-frequency cathode|electrolyte interface arc after the high-frequency "
            f"intercept, in {circ.text}"
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


def with_inductor(circuit: str) -> str:
    """The circuit with a series inductance L0 in front (unchanged if it already has an inductor)."""
    circ = compile_circuit(validate_circuit(circuit))
    if any(el.kind in ("L", "La") for el in circ.elements):
        return circ.text
    name = "L0"
    k = 0
    while circ.element_kind(name) is not None:
        k += 1
        name = f"L{k}"
    return validate_circuit(f"{name}-{circ.text}")


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


def _suspicious(result: FitResult) -> bool:
    return not result.converged or any(
        "sits on its bound" in w or "relative standard error" in w or "CPE exponent" in w
        for w in result.warnings + result.notes
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


def _params_of(circ: Circuit, node: Node) -> list[int]:
    """Indices (into ``circ.parameter_names``) of the parameters of a node of the circuit tree."""
    index = {n: k for k, n in enumerate(circ.parameter_names)}
    if node.op == "e":
        el = node.element
        keys = [el.name] if el.n_params == 1 else [f"{el.name}_{i}" for i in range(el.n_params)]
        return [index[k] for k in keys]
    return [k for child in node.children for k in _params_of(circ, child)]


def _char_freq_hz(circ: Circuit, node: Node, x) -> float:
    """Apex frequency of an R||CPE or R||C block (NaN for other shapes)."""
    kinds = {c.element.kind: _params_of(circ, c) for c in node.children if c.op == "e"}
    if "R" in kinds and "CPE" in kinds:
        r, (q, a) = x[kinds["R"][0]], (x[kinds["CPE"][0]], x[kinds["CPE"][1]])
        return float(1.0 / (2 * np.pi * (r * q) ** (1.0 / a)))
    if "R" in kinds and "C" in kinds:
        return float(1.0 / (2 * np.pi * x[kinds["R"][0]] * x[kinds["C"][0]]))
    return float("nan")


def _top_level(circ: Circuit) -> tuple[Node, ...]:
    return circ.tree.children if circ.tree.op == "s" else (circ.tree,)


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


# ---------------------------------------------------------------------------------------------------------
# Kramers-Kronig
KK_VERSION = 2  # 2: pass/fail against the noise estimated from the residuals and their structure (was: max < 2 %)
KK_NOISE_FLOOR_PCT = 0.2  # of |Z|: the accuracy of good impedance analysers (~0.1-0.2 %, 0.1-0.2 deg); below it a smooth residual may be the instrument
KK_AMPLITUDE_LIMIT = 6.0  # noise standard deviations
KK_STRUCTURE_LIMIT = 4.5  # standard errors of a window's mean residual
KK_STRUCTURE_WINDOWS = (5, 10, 20)  # consecutive points: half a decade to two decades at 10 points per decade
KK_RULE = (
    "lin-KK (Schönleber et al. 2014) passes unless its residuals are larger or smoother than the noise of the "
    "data: noise sigma = the residuals' point-to-point scatter (1.4826 x median |difference| / sqrt 2, at least "
    f"{KK_NOISE_FLOOR_PCT:g} % of |Z|); fails if one residual exceeds {KK_AMPLITUDE_LIMIT:g} sigma or the mean "
    f"residual of a run of {', '.join(map(str, KK_STRUCTURE_WINDOWS))} consecutive points, real or imaginary, "
    f"exceeds {KK_STRUCTURE_LIMIT:g} sigma / sqrt(run)"
)


@dataclass
class KKResult:
    """Lin-KK test (Schönleber et al. 2014); residuals in % of |Z| on the real and the imaginary part.

    ``noise_pct`` is the noise estimated from the residuals themselves, ``amplitude`` the largest residual
    and ``structure`` the largest run-mean statistic, both in units of that noise (see
    :func:`kramers_kronig`); ``threshold_pct`` is the amplitude limit in % of |Z| for this spectrum.
    """

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
    c: float = KK_MU_CRITERION
    add_cap: bool = True
    add_inductance: bool = True
    series_resistance_ohm: float = float("nan")
    inductance_h: float | None = None
    capacitance_f: float | None = None
    noise_pct: float = float("nan")
    amplitude: float = float("nan")
    amplitude_limit: float = KK_AMPLITUDE_LIMIT
    structure: float = float("nan")
    structure_limit: float = KK_STRUCTURE_LIMIT
    structure_window: dict = field(default_factory=dict)
    finding: str = ""  # why it fails, in words (empty when it passes)

    def to_dict(self) -> dict:
        return {
            "version": KK_VERSION,
            "freq_hz": self.freq_hz.tolist(),
            "residuals_real_pct": self.residuals_real_pct.tolist(),
            "residuals_imag_pct": self.residuals_imag_pct.tolist(),
            "max_abs_residual_pct": self.max_abs_residual_pct,
            "passes": self.passes,
            "threshold_pct": self.threshold_pct,
            "noise_pct": self.noise_pct,
            "amplitude": self.amplitude,
            "amplitude_limit": self.amplitude_limit,
            "structure": self.structure,
            "structure_limit": self.structure_limit,
            "structure_window": self.structure_window,
            "finding": self.finding,
            "n_rc": self.n_rc,
            "mu": self.mu,
            "c": self.c,
            "fit_type": self.fit_type,
            "add_cap": self.add_cap,
            "add_inductance": self.add_inductance,
            "method": "lin-KK (Schönleber et al. 2014): M RC elements with time constants log-spaced from "
            "1/omega_max to 1/omega_min, M raised until mu < c",
            "rule": KK_RULE,
        }


def _kk_design(w: np.ndarray, tau: np.ndarray, add_inductance: bool, add_cap: bool) -> np.ndarray:
    """Columns of the linear lin-KK model: series R, the M Voigt RC elements, optional L and 1/C."""
    cols = [np.ones_like(w, dtype=complex), 1.0 / (1.0 + 1j * np.outer(w, tau))]
    if add_inductance:
        cols.append((1j * w)[:, None])
    if add_cap:
        cols.append((1.0 / (1j * w))[:, None])
    return np.column_stack([c if c.ndim == 2 else c[:, None] for c in cols])


def kk_noise_pct(residuals_pct: np.ndarray) -> float:
    """Noise of a residual sequence (in its unit) from its point-to-point differences.

    For white noise of standard deviation s a difference of neighbours has standard deviation s sqrt 2; the
    median absolute difference (x 1.4826, the normal MAD factor) ignores single outliers, and differencing
    removes a smooth trend (drift), so the estimate is the noise with or without drift.
    """
    d = np.diff(np.asarray(residuals_pct, dtype=float))
    if len(d) == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(d)) / math.sqrt(2))


def kk_structure(residuals: Sequence[np.ndarray], noise: float, windows: Sequence[int] = KK_STRUCTURE_WINDOWS):
    """The largest |mean| of a run of consecutive residuals in units of its standard error noise/sqrt(run).

    White noise averages out over a run (its mean has standard error noise/sqrt(run)); a cell that drifts
    during the sweep leaves residuals of one sign over a decade or more, which do not. Returns (statistic,
    (sequence index, first point, run length)).
    """
    best, where = 0.0, (0, 0, 0)
    for k, r in enumerate(residuals):
        r = np.asarray(r, dtype=float)
        for run in windows:
            if run > max(len(r) // 2, 1):
                continue  # a run over most of the sweep is the fit's own offset, not structure
            means = np.convolve(r, np.ones(run) / run, mode="valid")
            score = np.abs(means) * math.sqrt(run) / noise
            i = int(np.argmax(score))
            if score[i] > best:
                best, where = float(score[i]), (k, i, run)
    return best, where


def kramers_kronig(
    spectrum: EisSpectrum,
    *,
    c: float = KK_MU_CRITERION,
    max_m: int | None = None,
    fit_type: str = "complex",
    add_cap: bool = True,
    add_inductance: bool = True,
    amplitude_limit: float = KK_AMPLITUDE_LIMIT,
    structure_limit: float = KK_STRUCTURE_LIMIT,
    noise_floor_pct: float = KK_NOISE_FLOOR_PCT,
) -> KKResult:
    """Lin-KK test of one sweep: residuals on the real and imaginary part, and whether they are only noise.

    The model is a series resistance, M Voigt RC elements with fixed time constants tau_k log-spaced from
    1/omega_max to 1/omega_min, plus (``add_inductance``) a series inductance for the leads/holder tail and
    (``add_cap``) a series capacitance for a blocking or diffusion tail. Its coefficients are linear, so each M
    is one weighted (1/|Z|) linear least-squares solve. M starts at the number of decades measured (fewer RC
    elements than decades cannot cover the span, and mu is meaningless there: a poor fit with few elements can
    show negative resistances by accident, which is how impedance.py 1.7.1 stops at M = 5 on these cells and
    then reports 50 % residuals on valid data) and rises until mu = 1 - sum|R_k<0| / sum|R_k>=0| falls below
    ``c`` (over-fitting starts, Schönleber et al. 2014, eq. 21). ``fit_type``: ``"complex"`` fits both parts,
    ``"real"`` or ``"imag"`` fits one and tests the other (the original transform test).

    Decision (``KK_RULE``). A fixed limit on the residuals (the earlier 2 % of |Z|) is a statement about the
    noise, not about Kramers-Kronig: 0.5 % noise already reaches 1.9 % somewhere among 160 residuals, and a
    drifting cell's residuals can stay below it. So the limits are in units of the data's own noise sigma,
    estimated from the residuals' point-to-point differences (:func:`kk_noise_pct`, floored at
    ``noise_floor_pct``), and the test looks at the residuals' shape as well as their size:

    * amplitude: max |residual| / sigma below ``amplitude_limit`` (6: the largest of 160 normal values passes
      6 sigma about once in 10^6 spectra, and sigma itself is estimated to ~10 %; the largest of 2000 generated
      valid spectra with 0.5 % noise is 5.2). It catches a single bad point;
    * structure: for runs of 5, 10 and 20 consecutive points of either part, |mean residual| * sqrt(run) /
      sigma below ``structure_limit`` (4.5). White noise averages out over a run, so the statistic of a
      stationary cell stays near 2-3 (largest of 2000 generated valid spectra: 3.74, the margin is 0.76); a
      cell that drifts during the sweep leaves residuals of one sign over a decade or more (weakest of 100
      generated spectra: 4.95 with R2 ramped 20 % on bare cells, 4.81 with 30 % on coated ones).

    What it cannot see: a sweep runs from high to low frequency and spends most of its time at the lowest
    frequencies (two periods per point: 69 % of a 7 MHz-0.1 Hz sweep is below 1 Hz), where the interface arc
    has closed and a drifting R2 only shifts Z'. lin-KK absorbs most of that shift, and what is left of a 10 %
    ramp is 3.5 (coated) to 5.4 (bare) noise sigmas summed over all 160 residuals at 0.5 % noise: below what
    any test can separate from noise every time. At 0.2 % noise the rule fails every 10 % ramp on bare cells.
    The noise floor (``noise_floor_pct``, 0.2 %) keeps the smooth systematic errors of real analysers (their
    accuracy is 0.1-0.2 % and 0.1-0.2 deg) from counting as drift on very clean data.
    """
    if fit_type not in ("complex", "real", "imag"):
        raise ValueError(f"fit_type must be 'complex', 'real' or 'imag', got {fit_type!r}")
    f, z = _sorted_desc(spectrum)
    if len(f) < 3:
        raise ValueError(f"lin-KK needs at least 3 points, got {len(f)}")
    w = 2 * np.pi * f
    weight = np.abs(z)
    decades = float(np.log10(f.max() / f.min()))
    m_start = max(1, min(int(math.ceil(decades)), len(f) // 2))
    m_stop = max(m_start, min(max_m or len(f) - 4, len(f) - 4, 100))
    n_extra = int(add_inductance) + int(add_cap)
    for m in range(m_start, m_stop + 1):
        tau = np.logspace(np.log10(1 / w.max()), np.log10(1 / w.min()), m) if m > 1 else np.array(
            [1 / np.sqrt(w.max() * w.min())])
        a = _kk_design(w, tau, add_inductance, add_cap)
        coef = np.zeros(a.shape[1])
        if fit_type == "complex":
            lhs = np.vstack([a.real / weight[:, None], a.imag / weight[:, None]])
            coef = np.linalg.lstsq(lhs, np.r_[z.real / weight, z.imag / weight], rcond=None)[0]
        elif fit_type == "real":  # RC elements and R from Z'; L and C (no real part) from what Z'' leaves
            k = 1 + m
            coef[:k] = np.linalg.lstsq(a.real[:, :k] / weight[:, None], z.real / weight, rcond=None)[0]
            if n_extra:
                rest = (z.imag - a.imag[:, :k] @ coef[:k]) / weight
                coef[k:] = np.linalg.lstsq(a.imag[:, k:] / weight[:, None], rest, rcond=None)[0]
        else:  # imag: everything but R from Z'', then R from what Z' leaves
            coef[1:] = np.linalg.lstsq(a.imag[:, 1:] / weight[:, None], z.imag / weight, rcond=None)[0]
            left = z.real - a.real[:, 1:] @ coef[1:]
            coef[0] = float(np.sum(left / weight**2) / np.sum(1 / weight**2))
        r_k = coef[1 : 1 + m]
        positive = float(r_k[r_k >= 0].sum())
        mu = 1.0 - float(-r_k[r_k < 0].sum()) / positive if positive > 0 else 0.0
        if mu < c:
            break
    z_fit = a @ coef
    res_re = 100 * (z.real - z_fit.real) / weight
    res_im = 100 * (z.imag - z_fit.imag) / weight
    worst = float(np.max(np.abs(np.concatenate([res_re, res_im]))))
    extra = coef[1 + m :]
    inductance = float(extra[0]) if add_inductance else None
    inv_c = float(extra[-1]) if add_cap else None

    # Both parts carry the same noise (in % of |Z|); pool their estimates. A part that is only a prediction
    # (fit_type "real"/"imag") is tested, the fitted part is matched to its noise by construction.
    tested = {"complex": (res_re, res_im), "real": (res_im,), "imag": (res_re,)}[fit_type]
    noise = float(np.sqrt(np.mean([kk_noise_pct(r) ** 2 for r in (res_re, res_im)])))
    noise = max(noise, noise_floor_pct) if math.isfinite(noise) else noise_floor_pct
    amplitude = float(max(np.max(np.abs(r)) for r in tested)) / noise
    structure, (part, first, run) = kk_structure(tested, noise)
    part_name = {"complex": ("real", "imaginary"), "real": ("imaginary",), "imag": ("real",)}[fit_type][part]
    window = {}
    if run:
        window = {
            "part": part_name, "n_points": run, "from_hz": float(f[first]), "to_hz": float(f[first + run - 1]),
            "mean_residual_pct": float(np.mean(tested[part][first : first + run])),
        }
    findings = []
    if amplitude >= amplitude_limit:
        findings.append(
            f"a residual of {worst:.2f} % of |Z| is {amplitude:.1f} times the noise ({noise:.2f} % of |Z|; "
            f"limit {amplitude_limit:g})"
        )
    if structure >= structure_limit:
        findings.append(
            f"the {window['part']} residuals of the {run} points from {window['from_hz']:.3g} to "
            f"{window['to_hz']:.3g} Hz average {window['mean_residual_pct']:+.2f} % of |Z|, {structure:.1f} "
            f"standard errors from zero (limit {structure_limit:g}): smooth, one-signed residuals are what a "
            "cell that drifts during the sweep leaves, noise averages out"
        )
    return KKResult(
        freq_hz=f,
        residuals_real_pct=res_re,
        residuals_imag_pct=res_im,
        max_abs_residual_pct=worst,
        passes=not findings,
        threshold_pct=amplitude_limit * noise,
        n_rc=int(m),
        mu=float(mu),
        fit_type=fit_type,
        z_fit=z_fit,
        c=c,
        add_cap=add_cap,
        add_inductance=add_inductance,
        series_resistance_ohm=float(coef[0]),
        inductance_h=inductance,
        capacitance_f=(1.0 / inv_c) if inv_c else None,
        noise_pct=noise,
        amplitude=amplitude,
        amplitude_limit=amplitude_limit,
        structure=structure,
        structure_limit=structure_limit,
        structure_window=window,
        finding="; ".join(findings),
    )
