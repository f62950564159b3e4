"""Distribution of relaxation times (DRT) of one impedance sweep: Tikhonov-regularised, non-negative, no Django.

Model (``drt_fit``)::

    Z(w) = R_inf + j w L + 1 / (j w C_s) + integral gamma(ln tau) / (1 + j w tau) d ln tau

gamma is a non-negative sum of Gaussian radial basis functions on a log-spaced tau grid; R_inf, the series
inductance L (only when the top end of the sweep is inductive) and the series capacitance C_s (only when the
bottom end shows a blocking/diffusion tail) are free, non-negative parameters fitted together with gamma to
the real and imaginary parts at once, each residual weighted by 1/|Z| (proportional noise). The problem is
linear in all unknowns, so one regularisation strength lambda is one ``scipy.optimize.nnls`` solve on the
stacked system [A; sqrt(lambda) R] with R the square root of the integrated squared second derivative of
gamma. lambda is chosen by generalised cross-validation (GCV, Wahba 1977) over a log grid unless given.

Why C_s: a finite-length diffusion element with a blocking end (Wo) or a blocking electrode is a series
capacitance plus a set of RC elements (coth(s)/s = 1/s^2 + sum 2/(s^2 + k^2 pi^2)); without the C_s term
gamma would have to diverge at long tau to mimic it. With it, the diffusion's RC part stays in gamma as peaks
at tau_W/(k pi)^2 and the capacitive part goes to C_s. The tau grid is also limited to the measured band: from
1/(2 pi f_max) (shorter time constants are indistinguishable from R_inf and L: a grid reaching beyond it
trades R_inf against gamma, R_inf off by 24 % with a 1 uH lead inductance) to 1/(2 pi f_min) widened by
``GRID_MARGIN_DECADES`` (an arc whose apex lies just below f_min is still represented) unless C_s is fitted:
then beyond f_min a long-tau RC and C_s are the same thing to the data (R_pol 7 % high on one seed in ten).

lambda: plain GCV is flat at small lambda on these problems and picks an under-regularised solution on about
one spectrum in five (split and spurious peaks); the modified GCV of Cummins et al. (2001), with the trace
weighted by ``GCV_RHO`` = 2, over lambda in ``LAMBDA_GRID`` (from 10^-3.5: below it the solutions ring at
0.5 % noise) does not.

Peaks (``drt_peaks``): the maxima of gamma; a maximum is a process only if it rises above the minimum that
separates it from its neighbours by ``PEAK_MIN_PROMINENCE`` of the largest gamma (or ``PEAK_MIN_DEPTH`` of its
own height: a small arc well apart from a large one, as the anode arc of a bare cell) and carries at least
``PEAK_MIN_AREA`` of the polarisation; smaller wiggles are merged into the neighbour on their higher side.
Each process's resistance is the area of gamma between the minima that bound it (the first and last take the
grid's ends), so the areas add up exactly to the polarisation resistance r_pol = integral gamma d ln tau.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares, nnls
from threadpoolctl import threadpool_limits

from .parsers import EisSpectrum

__all__ = [
    "DRT_VERSION",
    "DrtError",
    "DrtPeak",
    "DrtResult",
    "drt_fit",
    "drt_peaks",
    "arc_frequency_hz",
    "compare_with_fit",
    "drt_series",
    "match_peaks",
]

DRT_VERSION = 1
BASIS_PER_DECADE = 8  # Gaussian RBF centres per decade of tau
GRID_MARGIN_DECADES = 0.5  # the tau grid reaches this far beyond 1/(2 pi f_min)
OUTPUT_PER_DECADE = 20  # gamma is reported on this finer grid
LAMBDA_GRID = np.logspace(-3.5, 0, 15)  # candidates for GCV (dimensionless: data in units of |Z|)
MIN_POINTS = 10
MIN_ARC_OF_MODULUS = 0.01  # -Z'' must rise above this fraction of the median |Z| somewhere: else no arc
MIN_DECADES = 1.0
PEAK_MIN_PROMINENCE = 0.05  # of the largest gamma
PEAK_MIN_DEPTH = 0.5  # or the valley towards its neighbour is at least this fraction of its own height down
PEAK_MIN_AREA = 0.02  # of r_pol
INDUCTIVE_MIN_POINTS = 2  # positive Z'' at this many of the highest frequencies: fit a series L
TAIL_MIN_PHASE_DEG = 10.0  # the lowest-frequency point's -phase above this and -Z'' still rising: fit C_s
BASIS = "gaussian-rbf"
GCV_RHO = 2.0
PENALTY_ORDER = 2
PEAK_SHAPE = "zarc"
SHORT_MARGIN_FACTOR = 0.0  # derivative of gamma whose squared integral is penalised
PEAK_RULE = (
    f"a maximum of gamma is a process if it stands {100 * PEAK_MIN_PROMINENCE:g} % of the largest gamma (or "
    f"{100 * PEAK_MIN_DEPTH:g} % of its own height) above the minimum towards its neighbours and its area is at least {100 * PEAK_MIN_AREA:g} % of r_pol; "
    "smaller maxima are merged into the neighbouring process"
)


class DrtError(ValueError):
    """The sweep cannot give a DRT (too few points, too short a span, no arc); the message says why."""


@dataclass
class DrtPeak:
    """One process of the DRT: where gamma peaks, and the resistance (area) between its bounding minima."""

    tau_s: float
    f_hz: float
    resistance_ohm: float
    gamma_max_ohm: float
    tau_from_s: float
    tau_to_s: float
    area_method: str = "split at minima"

    def as_dict(self) -> dict:
        return {"tau_s": self.tau_s, "f_hz": self.f_hz, "resistance_ohm": self.resistance_ohm,
                "gamma_max_ohm": self.gamma_max_ohm, "tau_from_s": self.tau_from_s, "tau_to_s": self.tau_to_s,
                "area_method": self.area_method}


@dataclass
class DrtResult:
    """gamma(ln tau) in ohm on ``tau_s`` (so that its integral over ln tau is ``r_pol_ohm``), the series terms,
    the processes and how lambda was chosen."""

    tau_s: np.ndarray
    gamma_ohm: np.ndarray
    r_inf_ohm: float
    inductance_h: float | None
    capacitance_f: float | None
    r_pol_ohm: float
    lambda_: float
    lambda_method: str
    peaks: list[DrtPeak]
    residual_rel: float
    freq_hz: np.ndarray
    z_fit: np.ndarray
    n_points: int
    tail: str
    elapsed_s: float
    gcv: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def method(self) -> dict:
        """Provenance: what was fitted, how, and which version of this module did it."""
        return {
            "method": "Tikhonov-regularised non-negative DRT (scipy nnls), real and imaginary parts together, "
            "1/|Z| weighting, penalty on the second derivative of gamma",
            "basis": f"{BASIS}, {BASIS_PER_DECADE} per decade",
            "lambda": self.lambda_,
            "lambda_method": self.lambda_method,
            "series_terms": ["R_inf"] + (["L"] if self.inductance_h is not None else [])
            + (["C_s"] if self.capacitance_f is not None else []),
            "tail": self.tail,
            "peak_rule": PEAK_RULE,
            "version": DRT_VERSION,
        }

    def as_json(self) -> dict:
        """The CLI contract: exactly these keys."""
        return {
            "tau_s": [float(v) for v in self.tau_s],
            "gamma_ohm": [float(v) for v in self.gamma_ohm],
            "r_inf_ohm": float(self.r_inf_ohm),
            "r_pol_ohm": float(self.r_pol_ohm),
            "lambda": float(self.lambda_),
            "peaks": [{"tau_s": p.tau_s, "f_hz": p.f_hz, "resistance_ohm": p.resistance_ohm} for p in self.peaks],
            "residual_rel": float(self.residual_rel),
        }


def _sorted(f, z) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(f, dtype=float)
    z = np.asarray(z, dtype=complex)
    order = np.argsort(-f, kind="stable")
    return f[order], z[order]


def drt_refusal(f: np.ndarray, z: np.ndarray) -> str:
    """Why these points cannot give a DRT (empty string: they can)."""
    ok = np.isfinite(f) & np.isfinite(z.real) & np.isfinite(z.imag) & (f > 0)
    if ok.sum() < MIN_POINTS:
        return (f"only {int(ok.sum())} valid points: a DRT needs at least {MIN_POINTS} (an aborted or truncated "
                "sweep?)")
    f, z = f[ok], z[ok]
    decades = float(np.log10(f.max() / f.min()))
    if decades < MIN_DECADES:
        return f"the sweep spans {decades:.2f} decades ({f.min():.3g} to {f.max():.3g} Hz): at least {MIN_DECADES:g} needed"
    height = float(np.max(-z.imag))
    if height <= MIN_ARC_OF_MODULUS * float(np.median(np.abs(z))):
        return (f"no arc: -Z'' rises to only {height:.3g} ohm, {100 * MIN_ARC_OF_MODULUS:g} % of the median |Z| "
                f"or less ({float(np.median(np.abs(z))):.3g} ohm): a resistor has no relaxation times")
    return ""


def _grids(f: np.ndarray, basis_per_decade: int, margin: float):
    lo = math.log10(1 / (2 * math.pi * f.max()))
    hi = math.log10(1 / (2 * math.pi * f.min())) + margin
    m = max(int(round((hi - lo) * basis_per_decade)) + 1, 3)
    centres = np.linspace(lo, hi, m) * math.log(10)  # ln tau
    width = (centres[1] - centres[0])  # Gaussian exp(-((y - c) / width)^2): FWHM 1.67 spacings
    return centres, width


def _basis(y: np.ndarray, centres: np.ndarray, width: float) -> np.ndarray:
    return np.exp(-(((y[:, None] - centres[None, :]) / width) ** 2))


def _design(w: np.ndarray, centres: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Z of each basis function with unit coefficient (by quadrature on a fine ln tau grid), and the
    second-derivative penalty's Gram matrix."""
    y = np.arange(centres[0] - 5 * width, centres[-1] + 5 * width, width / 6)
    dy = y[1] - y[0]
    phi = _basis(y, centres, width)
    wt = w[:, None] * np.exp(y)[None, :]
    denom = 1.0 / (1.0 + wt**2)  # 1/(1 + j w tau) = (1 - j w tau)/(1 + (w tau)^2), in real arithmetic
    a = ((denom @ phi) - 1j * ((wt * denom) @ phi)) * dy
    u = (y[:, None] - centres[None, :]) / width
    if PENALTY_ORDER == 2:
        d = phi * (4 * u**2 - 2) / width**2
    elif PENALTY_ORDER == 1:
        d = phi * (-2 * u) / width
    else:
        d = phi
    gram = (d.T @ d) * dy
    return a, gram


def _gcv(a_w: np.ndarray, reg: np.ndarray, b: np.ndarray, x: np.ndarray, lam: float) -> float:
    """GCV score with the influence matrix of the active (positive) coefficients."""
    free = x > 0
    n = len(b)
    r = a_w @ x - b
    if not free.any():
        return float(r @ r) * n / n**2
    af = a_w[:, free]
    rf = reg[:, free]
    m = af.T @ af + lam * (rf.T @ rf)
    try:
        h = np.linalg.solve(m, af.T)
    except np.linalg.LinAlgError:
        return math.inf
    trace = float(np.sum(af * h.T))
    dof = n - GCV_RHO * trace
    return float(r @ r) * n / dof**2 if dof > 0 else math.inf


def drt_fit(
    spectrum: EisSpectrum | None = None,
    *,
    freq_hz: Sequence[float] | np.ndarray | None = None,
    z_ohm: Sequence[complex] | np.ndarray | None = None,
    lambda_: float | None = None,
    inductance: bool | None = None,
    series_capacitance: bool | None = None,
    basis_per_decade: int = BASIS_PER_DECADE,
    margin_decades: float = GRID_MARGIN_DECADES,
) -> DrtResult:
    """The DRT of one sweep (``spectrum``, or ``freq_hz`` and complex ``z_ohm``).

    ``lambda_`` fixes the regularisation strength (dimensionless: the data are divided by |Z|); None picks it
    by GCV over ``LAMBDA_GRID``. ``inductance`` / ``series_capacitance``: True/False forces the series L / C_s
    term, None decides from the data (L when the ``INDUCTIVE_MIN_POINTS`` highest frequencies have Z'' > 0;
    C_s when the lowest-frequency point's -phase exceeds ``TAIL_MIN_PHASE_DEG`` and -Z'' still rises there).
    Raises :class:`DrtError` when the sweep cannot give a DRT.
    """
    # The matrices are small (~160 x 80): a multi-threaded BLAS only contends for the cores (0.8 s vs 0.13 s
    # per spectrum on two shared cores).
    with threadpool_limits(limits=1, user_api="blas"):
        return _drt_fit(spectrum, freq_hz, z_ohm, lambda_, inductance, series_capacitance, basis_per_decade,
                        margin_decades)


def _drt_fit(spectrum, freq_hz, z_ohm, lambda_, inductance, series_capacitance, basis_per_decade,
             margin_decades) -> DrtResult:
    t0 = time.perf_counter()
    if spectrum is not None:
        if spectrum.n_sweeps > 1:
            raise DrtError(f"{spectrum.source_name or 'spectrum'} holds {spectrum.n_sweeps} sweeps: one DRT per sweep")
        f, z = _sorted(spectrum.freq_hz, spectrum.z_ohm)
    else:
        if freq_hz is None or z_ohm is None:
            raise TypeError("give a spectrum, or freq_hz and z_ohm")
        f, z = _sorted(freq_hz, z_ohm)
    if lambda_ is not None and not (math.isfinite(lambda_) and lambda_ > 0):
        raise DrtError(f"lambda must be a positive number, not {lambda_!r}")
    reason = drt_refusal(f, z)
    if reason:
        raise DrtError(reason)
    ok = np.isfinite(f) & np.isfinite(z.real) & np.isfinite(z.imag) & (f > 0)
    f, z = f[ok], z[ok]
    w = 2 * np.pi * f
    weight = np.abs(z)
    scale = float(np.median(weight))  # unknowns in units of scale: lambda is dimensionless
    if inductance is None:
        run = int(np.argmin(z.imag > 0)) if not (z.imag > 0).all() else len(z)
        inductance = run >= INDUCTIVE_MIN_POINTS
    if series_capacitance is None:
        phase = -math.degrees(math.atan2(z.imag[-1], z.real[-1]))
        series_capacitance = phase > TAIL_MIN_PHASE_DEG and -z.imag[-1] > -z.imag[-2]
    if series_capacitance:
        margin_decades = 0.0  # beyond f_min an RC with long tau and C_s are the same thing to the data
    centres, width = _grids(f, basis_per_decade, margin_decades)
    a_gamma, gram = _design(w, centres, width)
    cols = [np.ones(len(w), dtype=complex)[:, None], a_gamma]
    names = ["r_inf"]
    if inductance:
        cols.append((1j * w / w.max())[:, None])  # coefficient: w_max L in units of scale
        names.append("L")
    if series_capacitance:
        cols.append((w.min() / (1j * w))[:, None])  # coefficient: 1/(w_min C) in units of scale
        names.append("C")
    a = np.column_stack(cols)
    a_w = np.vstack([a.real / weight[:, None], a.imag / weight[:, None]]) * scale
    b = np.r_[z.real / weight, z.imag / weight]
    n_gamma = len(centres)
    # square root of the penalty's Gram matrix, zero on the series terms
    evals, evecs = np.linalg.eigh(gram)
    root = (evecs * np.sqrt(np.clip(evals, 0, None))).T
    reg = np.zeros((n_gamma, a.shape[1]))
    reg[:, 1 : 1 + n_gamma] = root * width ** (PENALTY_ORDER - 0.5)  # penalty scaled to the basis width: lambda independent of grid
    zeros = np.zeros(n_gamma)

    def solve(lam: float) -> np.ndarray:
        x, _ = nnls(np.vstack([a_w, math.sqrt(lam) * reg]), np.r_[b, zeros], maxiter=50 * a.shape[1])
        return x

    gcv = {}
    if lambda_ is None:
        scores = []
        for lam in LAMBDA_GRID:
            x = solve(float(lam))
            scores.append(_gcv(a_w, reg, b, x, float(lam)))
        best = int(np.argmin(scores))
        lam_used = float(LAMBDA_GRID[best])
        method = "gcv"
        gcv = {"lambda": [float(v) for v in LAMBDA_GRID], "score": [float(s) for s in scores]}
    else:
        lam_used, method = float(lambda_), "given"
    x = solve(lam_used)
    coef = x * scale
    r_inf = float(coef[0])
    gamma_coef = coef[1 : 1 + n_gamma]
    extra = dict(zip(names[1:], coef[1 + n_gamma :], strict=True))
    l_h = float(extra["L"] / w.max()) if "L" in extra else None
    c_f = None
    if "C" in extra:
        c_f = float(1.0 / (w.min() * extra["C"])) if extra["C"] > 0 else math.inf
    z_fit = a @ coef
    residual_rel = float(np.sqrt(np.mean(np.abs(z - z_fit) ** 2 / weight**2)))
    # gamma on the output grid; the polarisation is the exact integral of the basis (sqrt(pi) width each)
    # (it reaches 3 basis widths beyond the end centres, whose Gaussians are half outside: so that the
    # trapezoid integral of the reported gamma is r_pol also when gamma is large at an end of the grid)
    lo_y, hi_y = centres[0] - 3 * width, centres[-1] + 3 * width
    out_y = np.linspace(lo_y, hi_y, int(round((hi_y - lo_y) / math.log(10) * OUTPUT_PER_DECADE)) + 1)
    gamma = _basis(out_y, centres, width) @ gamma_coef
    r_pol = float(gamma_coef.sum() * math.sqrt(math.pi) * width)
    tail = ("series capacitance C_s fitted (blocking/diffusion tail at the lowest frequencies)" if series_capacitance
            else "no low-frequency tail seen: no series capacitance")
    tail += (f"; tau grid limited to the measured band (long end widened by {margin_decades:g} decade, "
             f"({math.exp(centres[0]):.3g} to {math.exp(centres[-1]):.3g} s)")
    warnings = []
    if method == "gcv" and best in (0, len(LAMBDA_GRID) - 1):
        warnings.append(f"GCV chose lambda at the end of its range ({lam_used:g}): the DRT may be "
                        + ("under-" if best == 0 else "over-") + "regularised")
    tau = np.exp(out_y)
    peaks = drt_peaks(tau, gamma, r_pol)
    return DrtResult(
        tau_s=tau, gamma_ohm=gamma, r_inf_ohm=r_inf, inductance_h=l_h, capacitance_f=c_f, r_pol_ohm=r_pol,
        lambda_=lam_used, lambda_method=method, peaks=peaks, residual_rel=residual_rel, freq_hz=f, z_fit=z_fit,
        n_points=len(f), tail=tail, elapsed_s=time.perf_counter() - t0, gcv=gcv, warnings=warnings,
    )


def _area(y: np.ndarray, g: np.ndarray, i: int, j: int) -> float:
    """Trapezoid area of g over samples i..j (inclusive) of y."""
    if j <= i:
        return 0.0
    return float(np.sum((g[i:j] + g[i + 1 : j + 1]) * np.diff(y[i : j + 1])) / 2)


def drt_peaks(tau_s: np.ndarray, gamma_ohm: np.ndarray, r_pol_ohm: float | None = None) -> list[DrtPeak]:
    """The processes of a DRT (see the module docstring for the rule); their areas add up to r_pol."""
    tau = np.asarray(tau_s, dtype=float)
    g = np.asarray(gamma_ohm, dtype=float)
    y = np.log(tau)
    n = len(g)
    if n < 3 or not np.any(g > 0):
        return []
    total = _area(y, g, 0, n - 1)
    r_pol = total if r_pol_ohm is None else float(r_pol_ohm)
    # local maxima (plateaus count once) and the minima between consecutive maxima
    maxima = [i for i in range(n) if (i == 0 or g[i] > g[i - 1]) and (i == n - 1 or g[i] >= g[i + 1]) and g[i] > 0]
    gmax = float(g.max())
    while True:
        if len(maxima) <= 1:
            break
        bounds = [int(maxima[k] + np.argmin(g[maxima[k] : maxima[k + 1] + 1])) for k in range(len(maxima) - 1)]
        edges = [0, *bounds, n - 1]
        scores = []
        for k, m in enumerate(maxima):
            lo_min = g[edges[k]] if k > 0 else None
            hi_min = g[edges[k + 1]] if k < len(maxima) - 1 else None
            # prominence: above the higher of the minima separating it from its neighbours
            sep = max(v for v in (lo_min, hi_min) if v is not None)
            prom = (g[m] - sep) / gmax
            depth = (g[m] - sep) / g[m]  # a small process well apart from a large one: the valley reaches low
            area = _area(y, g, edges[k], edges[k + 1]) / total if total > 0 else 0.0
            distinct = prom >= PEAK_MIN_PROMINENCE or depth >= PEAK_MIN_DEPTH
            scores.append((distinct and area >= PEAK_MIN_AREA, prom, area, k))
        weak = [s for s in scores if not s[0]]
        if not weak:
            break
        _, _, _, k = min(weak, key=lambda s: (s[1], s[2]))
        maxima.pop(k)  # its area joins the neighbour (the boundary between them disappears)
    if not maxima:
        return []
    bounds = [int(maxima[k] + np.argmin(g[maxima[k] : maxima[k + 1] + 1])) for k in range(len(maxima) - 1)]
    edges = [0, *bounds, n - 1]
    split = np.array([_area(y, g, edges[k], edges[k + 1]) for k in range(len(maxima))])
    areas, method = split, "split at minima"
    while PEAK_SHAPE != "none" and len(maxima) > 1:
        fitted = _deconvolve(y, g, maxima, split)
        if fitted is None:
            break
        small = int(np.argmin(fitted))
        if fitted[small] >= PEAK_MIN_AREA * fitted.sum():
            areas, method = fitted, f"{PEAK_SHAPE} peak shapes fitted to gamma"
            break
        maxima.pop(small)  # a shape the fit leaves (nearly) empty is no process of its own
        bounds = [int(maxima[k] + np.argmin(g[maxima[k] : maxima[k + 1] + 1])) for k in range(len(maxima) - 1)]
        edges = [0, *bounds, n - 1]
        split = np.array([_area(y, g, edges[k], edges[k + 1]) for k in range(len(maxima))])
        areas = split
    areas = areas * (r_pol / areas.sum()) if areas.sum() > 0 else areas  # the areas add up to r_pol exactly
    peaks = []
    for k, m in enumerate(maxima):
        t_peak = float(tau[m])
        if 0 < m < n - 1:  # the vertex of the parabola through the maximum and its neighbours (sub-grid)
            denom = g[m - 1] - 2 * g[m] + g[m + 1]
            if denom < 0:
                shift = 0.5 * (g[m - 1] - g[m + 1]) / denom
                t_peak = float(math.exp(y[m] + shift * (y[m + 1] - y[m])))
        peaks.append(DrtPeak(tau_s=t_peak, f_hz=float(1 / (2 * math.pi * t_peak)),
                             resistance_ohm=float(areas[k]), gamma_max_ohm=float(g[m]),
                             tau_from_s=float(tau[edges[k]]), tau_to_s=float(tau[edges[k + 1]]), area_method=method))
    return peaks


def _shape(y: np.ndarray, centre: float, spread: float) -> np.ndarray:
    """Unit-area peak in ln tau: a ZARC's DRT with exponent ``spread`` (0..1), or a Gaussian of that sigma."""
    if PEAK_SHAPE == "gaussian":
        return np.exp(-0.5 * ((y - centre) / spread) ** 2) / (spread * math.sqrt(2 * math.pi))
    n = spread
    c = math.cos((1 - n) * math.pi)
    return math.sin((1 - n) * math.pi) / (2 * math.pi * (np.cosh(n * (y - centre)) - c))


def _deconvolve(y: np.ndarray, g: np.ndarray, maxima: list[int], split: np.ndarray) -> np.ndarray | None:
    """Areas of overlapping peaks: a sum of peak shapes (one per kept maximum) fitted to gamma by least
    squares. Splitting at the minima gives a small process the tail of its large neighbour (a decade apart,
    +25 % on a 100 ohm arc next to a 300 ohm one); the fit gives each peak its own tails."""
    k = len(maxima)
    lo_s, hi_s, s0 = (0.05, 3.0, 0.5) if PEAK_SHAPE == "gaussian" else (0.3, 0.995, 0.85)
    x0 = np.concatenate([np.log(np.maximum(split, 1e-12 * split.sum())), y[maxima], np.full(k, s0)])
    lo = np.concatenate([np.full(k, -np.inf), y[maxima] - 0.5 * math.log(10), np.full(k, lo_s)])
    hi = np.concatenate([np.full(k, np.inf), y[maxima] + 0.5 * math.log(10), np.full(k, hi_s)])

    def resid(p):
        out = -g.copy()
        for i in range(k):
            out += math.exp(p[i]) * _shape(y, p[k + i], p[2 * k + i])
        return out

    try:
        sol = least_squares(resid, x0, bounds=(lo, hi), x_scale="jac", max_nfev=100 * k, ftol=1e-6, xtol=1e-6)
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not np.all(np.isfinite(sol.x)):
        return None
    return np.exp(sol.x[:k])


def match_peaks(series: Sequence[Sequence[DrtPeak]], *, max_shift_decades: float = 0.5) -> list[list[int | None]]:
    """Tracks of processes across a series of DRTs (e.g. a cell's spectra over cycles), matched by tau.

    Returns one list per track, holding for each spectrum the index of its peak in that track (or None). A
    peak joins the track whose last seen log10 tau is nearest, if within ``max_shift_decades``; each track takes
    at most one peak per spectrum (the nearest pairs are matched first); an unmatched peak starts a new track.
    Tracks are ordered by their median tau (fast processes first).
    """
    tracks: list[list[int | None]] = []
    last: list[float] = []
    for s, peaks in enumerate(series):
        logs = [math.log10(p.tau_s) for p in peaks]
        pairs = sorted((abs(lt - last[t]), i, t) for i, lt in enumerate(logs) for t in range(len(tracks)))
        used_p, used_t = set(), set()
        for dist, i, t in pairs:
            if dist > max_shift_decades or i in used_p or t in used_t:
                continue
            tracks[t].append(i)
            last[t] = logs[i]
            used_p.add(i)
            used_t.add(t)
        for t in range(len(tracks)):
            if t not in used_t:
                tracks[t].append(None)
        for i, lt in enumerate(logs):
            if i not in used_p:
                tracks.append([None] * s + [i])
                last.append(lt)
    medians = []
    for track in tracks:
        taus = [math.log10(series[s][i].tau_s) for s, i in enumerate(track) if i is not None]
        medians.append(float(np.median(taus)))
    order = np.argsort(medians, kind="stable")
    return [tracks[k] for k in order]


DRT_RESISTANCE_REL_SD = 0.05  # 1 sd of a peak's resistance: the spread on the seeded truth (arcs 2 decades apart)


def drt_series(cycles: Sequence[int | None], results: Sequence[DrtResult], *,
               max_shift_decades: float = 0.5) -> list[dict]:
    """Each process of a cell's spectra over cycles: its peaks matched by tau (:func:`match_peaks`), with
    resistance and frequency per spectrum (None where the process was not found) and its growth.

    ``growth_ohm_per_100_cycles`` is the least-squares slope of resistance vs cycle over the spectra of known
    cycle (None below two), so the page can say which process grows.
    """
    tracks = match_peaks([r.peaks for r in results], max_shift_decades=max_shift_decades)
    out = []
    for k, track in enumerate(tracks):
        r_ohm = [results[s].peaks[i].resistance_ohm if i is not None else None for s, i in enumerate(track)]
        f_hz = [results[s].peaks[i].f_hz if i is not None else None for s, i in enumerate(track)]
        known = [(c, r) for c, r in zip(cycles, r_ohm, strict=True) if c is not None and r is not None]
        growth = None
        if len({c for c, _ in known}) >= 2:
            cx, ry = np.array(known, dtype=float).T
            growth = float(np.polyfit(cx, ry, 1)[0] * 100)
        present = [f for f in f_hz if f is not None]
        out.append({
            "process": k + 1, "f_hz_median": float(np.median(present)), "cycle": list(cycles),
            "resistance_ohm": r_ohm, "f_hz": f_hz, "n_found": len(present),
            "growth_ohm_per_100_cycles": growth,
        })
    return out


def compare_with_fit(peak_resistance_ohm: float, fit_r_ohm: float, fit_stderr_ohm: float | None) -> dict:
    """The DRT's and the circuit fit's resistance of the same arc, and whether they disagree beyond their
    uncertainties: |difference| > 2 sqrt(se_fit^2 + (``DRT_RESISTANCE_REL_SD`` * R_drt)^2)."""
    se_fit = float(fit_stderr_ohm) if fit_stderr_ohm is not None and math.isfinite(fit_stderr_ohm) else 0.0
    se = math.sqrt(se_fit**2 + (DRT_RESISTANCE_REL_SD * peak_resistance_ohm) ** 2)
    diff = peak_resistance_ohm - fit_r_ohm
    return {"drt_ohm": peak_resistance_ohm, "fit_ohm": fit_r_ohm, "difference_ohm": diff,
            "limit_ohm": 2 * se, "disagree": bool(abs(diff) > 2 * se)}


def arc_frequency_hz(parameters: dict[str, float], resistor: str) -> float | None:
    """Characteristic frequency of the parallel block of ``resistor`` (``R2`` with ``CPE2`` or ``C2``) from a
    circuit fit's parameter values: 1 / (2 pi (R Q)^(1/n)); None when the block cannot be found."""
    number = resistor[1:]
    r = parameters.get(resistor)
    if r is None or not r > 0:
        return None
    if f"CPE{number}_0" in parameters and f"CPE{number}_1" in parameters:
        q, n = parameters[f"CPE{number}_0"], parameters[f"CPE{number}_1"]
    elif f"C{number}" in parameters:
        q, n = parameters[f"C{number}"], 1.0
    else:
        return None
    if not (q > 0 and n > 0):
        return None
    return float(1 / (2 * math.pi * (r * q) ** (1 / n)))
