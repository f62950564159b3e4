"""Arrhenius fit of conductivities over temperature in the sigma*T form: sigma*T = A * exp(-Ea / (k_B * T)).

ln(sigma*T) is fitted against 1/T (T in kelvin) by least squares; Ea = -slope * k_B with its standard error;
sigma at 25 C comes from the fit. Some papers fit sigma = sigma_0 * exp(-Ea / k_B T) instead (Ea lower by about
k_B*T, 0.026 eV): the result names the form used ("sigma_T"). A point is flagged off the line when its residual
from the line fitted without it exceeds ``OFF_LINE_SIGMAS`` times its combined uncertainty (its own conductivity
uncertainty, at least ``MIN_RELATIVE_UNCERTAINTY``, and the prediction error of that line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .conductivity import AnalysisError

K_B_EV_K = 8.617333262e-5
ZERO_C_K = 273.15
MIN_POINTS = 3
OFF_LINE_SIGMAS = 3.0
MIN_RELATIVE_UNCERTAINTY = 0.01  # temperature and geometry: 1 % on sigma at least


@dataclass
class ArrheniusFit:
    ea_ev: float
    ea_ev_se: float
    sigma_25c_s_cm: float
    sigma_25c_se_s_cm: float
    prefactor_s_k_cm: float
    n_points: int
    form: str = "sigma_T"
    off_line: list[int] = field(default_factory=list)  # indices of points off the line
    residuals_ln: list[float] = field(default_factory=list)

    def predict_sigma_s_cm(self, temperature_c) -> np.ndarray:
        t = np.asarray(temperature_c, dtype=float) + ZERO_C_K
        return self.prefactor_s_k_cm * np.exp(-self.ea_ev / (K_B_EV_K * t)) / t


def _line(x, y):
    n = len(x)
    xm = x.mean()
    sxx = float(np.sum((x - xm) ** 2))
    slope = float(np.sum((x - xm) * (y - y.mean())) / sxx)
    intercept = float(y.mean() - slope * xm)
    resid = y - (intercept + slope * x)
    s2 = float(np.sum(resid**2) / (n - 2)) if n > 2 else 0.0
    return slope, intercept, s2, sxx, xm


def arrhenius_fit(temperature_c, sigma_s_cm, sigma_se_s_cm=None) -> ArrheniusFit:
    """Fit ln(sigma*T) vs 1/T. Needs at least 3 points at distinct temperatures; AnalysisError otherwise."""
    tc = np.asarray(temperature_c, dtype=float)
    sig = np.asarray(sigma_s_cm, dtype=float)
    if len(tc) != len(sig):
        raise AnalysisError("one temperature per conductivity is needed")
    if len(tc) < MIN_POINTS:
        raise AnalysisError(f"an Arrhenius fit needs at least {MIN_POINTS} temperatures, got {len(tc)}")
    if not np.all(np.isfinite(sig) & (sig > 0)):
        raise AnalysisError("every conductivity must be a positive number")
    if len(np.unique(tc)) < MIN_POINTS:
        raise AnalysisError(f"an Arrhenius fit needs at least {MIN_POINTS} distinct temperatures")
    t = tc + ZERO_C_K
    if np.any(t <= 0):
        raise AnalysisError("a temperature below absolute zero")
    x, y = 1.0 / t, np.log(sig * t)
    slope, intercept, s2, sxx, xm = _line(x, y)
    n = len(x)
    slope_se = math.sqrt(s2 / sxx)
    x25 = 1.0 / (25.0 + ZERO_C_K)
    y25 = intercept + slope * x25
    y25_se = math.sqrt(s2 * (1.0 / n + (x25 - xm) ** 2 / sxx))
    sigma25 = math.exp(y25) / (25.0 + ZERO_C_K)
    rel = np.full(n, MIN_RELATIVE_UNCERTAINTY)
    if sigma_se_s_cm is not None:
        rel = np.maximum(np.asarray(sigma_se_s_cm, dtype=float) / sig, MIN_RELATIVE_UNCERTAINTY)
    off = []
    if n >= 4:  # leave-one-out: an outlier cannot hide by pulling the line towards itself
        for i in range(n):
            keep = np.arange(n) != i
            s_i, b_i, s2_i, sxx_i, xm_i = _line(x[keep], y[keep])
            pred_var = s2_i * (1.0 / (n - 1) + (x[i] - xm_i) ** 2 / sxx_i)
            if abs(y[i] - (b_i + s_i * x[i])) > OFF_LINE_SIGMAS * math.sqrt(rel[i] ** 2 + pred_var):
                off.append(i)
    resid = (y - (intercept + slope * x)).tolist()
    return ArrheniusFit(ea_ev=-slope * K_B_EV_K, ea_ev_se=slope_se * K_B_EV_K, sigma_25c_s_cm=sigma25,
                        sigma_25c_se_s_cm=sigma25 * y25_se, prefactor_s_k_cm=math.exp(intercept), n_points=n,
                        off_line=off, residuals_ln=resid)
