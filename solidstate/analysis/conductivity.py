"""Ionic conductivity of a pressed pellet between ion-blocking electrodes from its impedance spectrum.

sigma = L / (R * A) with L the pellet thickness in cm, A its area in cm2 and R in ohm (S/cm).

Spectrum from high to low frequency: the bulk arc (R_b || C_b, C_b the pellet's geometric capacitance
eps0 * eps_r * A / L, a few to some tens of pF), the grain-boundary arc (0.1-10 nF), then the steep capacitive
spike of the blocking electrodes, which meets the real axis at R_leads + R_b + R_gb.

- Total resistance: a fit of R_inf + (R_a || CPE_a) + CPE_el to the spectrum below the bulk arc (or to all of it
  when no bulk arc is resolved). R_total = R_inf + R_a is where the spike meets the real axis; the fit carries the
  part of an arc whose top lies above the band, so a sloping high-frequency end does not bias it.
- Bulk resistance: only where the bulk arc is inside the measured band: its apex at least ``MIN_DECADES_ABOVE_APEX``
  below the highest frequency, its high-frequency side back towards the real axis, and its capacitance that of
  a bulk (apparent eps_r below ``MAX_BULK_EPS_R``); then R_b from a fit of R_0 + (R_b || CPE_b) to that arc.
  For fast sulfide conductors at room temperature the bulk arc lies far above any analyser's band: no bulk
  value is given then, and the result says why.
- Lead/fixture resistance (measured with the electrodes shorted) is subtracted from R_total when given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

EPS0_F_CM = 8.8541878128e-14
MIN_SPIKE_POINTS = 4
MIN_SPIKE_PHASE_DEG = 45.0  # a blocking electrode's spike is steeper than 45 degrees (CPE exponent > 0.5)
MIN_DECADES_ABOVE_APEX = 0.3  # the bulk arc's apex must lie this far inside the band
MAX_HF_FRACTION_OF_APEX = 0.6  # at the highest frequency -Z'' is back below this fraction of the apex height
MAX_BULK_EPS_R = 1000.0  # an arc with a larger apparent permittivity is a grain-boundary or interface arc
MAX_RELATIVE_SE = 0.2
MAX_FIT_EVALUATIONS = 1000  # of the model (times the parameters for the numerical Jacobian): bounds a request


class AnalysisError(ValueError):
    """The data cannot give the result asked for; the message says why."""


@dataclass
class PelletConductivity:
    """Resistances (ohm) and conductivities (S/cm) of one pellet spectrum, with standard errors."""

    r_total_ohm: float
    r_total_se_ohm: float
    sigma_total_s_cm: float
    sigma_total_se_s_cm: float
    r_bulk_ohm: float | None
    r_bulk_se_ohm: float | None
    sigma_bulk_s_cm: float | None
    sigma_bulk_se_s_cm: float | None
    thickness_mm: float
    area_cm2: float
    lead_resistance_ohm: float
    measured: str  # "bulk and total" or "total only"
    statement: str
    spike_phase_deg: float
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def disc_area_cm2(diameter_mm: float) -> float:
    return math.pi * (diameter_mm / 20.0) ** 2


def _check_geometry(thickness_mm: float, area_cm2: float) -> None:
    for name, value in (("thickness_mm", thickness_mm), ("area_cm2", area_cm2)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise AnalysisError(f"{name} must be a positive number, not {value!r}")


def _sigma(r_ohm: float, r_se_ohm: float, thickness_mm: float, area_cm2: float, thickness_se_mm: float):
    sigma = (thickness_mm / 10.0) / (r_ohm * area_cm2)
    rel = math.hypot(r_se_ohm / r_ohm, thickness_se_mm / thickness_mm)
    return sigma, sigma * rel


def _arc(w, r, q, n):
    return r / (1.0 + r * q * (1j * w) ** n)


def _fit(model, x0, exponents, w, z):
    """Least squares of ``model`` (weighted by 1/|Z|) with the positive scales in log space and the exponents
    in [0.5, 1]; returns the parameters and their covariance (in natural units: the delta method)."""
    x0 = np.asarray(x0, dtype=float)
    is_exp = np.zeros(len(x0), dtype=bool)
    is_exp[list(exponents)] = True
    u0 = np.where(is_exp, np.clip(x0, 0.5, 1.0), np.log(np.maximum(x0, 1e-30)))
    lo = np.where(is_exp, 0.5, -np.inf)
    hi = np.where(is_exp, 1.0, np.inf)

    def params(u):
        return np.where(is_exp, u, np.exp(np.clip(u, -700, 700)))

    def residual(u):
        with np.errstate(all="ignore"):  # a wild trial step: large finite residuals send the solver back
            d = (model(params(u), w) - z) / np.abs(z)
        return np.clip(np.nan_to_num(np.concatenate([d.real, d.imag]), nan=1e6), -1e6, 1e6)

    res = least_squares(residual, u0, bounds=(lo, hi), x_scale="jac", max_nfev=MAX_FIT_EVALUATIONS)
    dof = max(2 * len(w) - len(x0), 1)
    s2 = float(np.sum(res.fun**2)) / dof
    cov_u = np.linalg.pinv(res.jac.T @ res.jac) * s2
    p = params(res.x)
    d = np.where(is_exp, 1.0, p)  # dp/du
    with np.errstate(all="ignore"):
        return p, np.nan_to_num(cov_u * np.outer(d, d), nan=np.inf)


def _sum_se(cov, idx) -> float:
    g = np.zeros(cov.shape[0])
    g[list(idx)] = 1.0
    return float(math.sqrt(max(g @ cov @ g, 0.0)))


def _spike(f, z):
    """Index where the low-frequency spike begins (the last minimum of -Z'' before the low-frequency end)."""
    y = -z.imag
    k = len(y) - 1
    while k > 0 and y[k - 1] < y[k]:
        k -= 1
    return k


def pellet_conductivity(
    freq_hz, z_ohm, *, thickness_mm: float, area_cm2: float, lead_resistance_ohm: float = 0.0,
    thickness_se_mm: float = 0.0, name: str = "spectrum",
) -> PelletConductivity:
    """Conductivity of one pellet spectrum (``z_ohm`` complex, Z'' signed, capacitive < 0).

    Raises :class:`AnalysisError` naming ``name`` when the spectrum has no blocking-electrode spike (not a
    pellet between blocking electrodes, or the sweep stops above it)."""
    _check_geometry(thickness_mm, area_cm2)
    f = np.asarray(freq_hz, dtype=float)
    z = np.asarray(z_ohm, dtype=complex)
    ok = np.isfinite(f) & np.isfinite(z) & (f > 0)
    f, z = f[ok], z[ok]
    order = np.argsort(-f, kind="stable")
    f, z = f[order], z[order]
    notes: list[str] = []
    inductive = np.flatnonzero(z.imag > 0)
    if len(inductive) and inductive[0] == 0:
        first_capacitive = int(np.argmax(z.imag <= 0))
        notes.append(f"{first_capacitive} inductive high-frequency point(s) (leads) left out")
        f, z = f[first_capacitive:], z[first_capacitive:]
    if len(f) < MIN_SPIKE_POINTS + 2:
        raise AnalysisError(f"{name}: only {len(f)} capacitive points; not a pellet spectrum")
    j = _spike(f, z)
    n_spike = len(f) - j
    y = -z.imag
    if n_spike < MIN_SPIKE_POINTS:
        raise AnalysisError(
            f"{name}: no blocking-electrode spike at the low-frequency end (-Z'' rises over only {n_spike} point(s)); "
            "the conductivity needs a pellet between ion-blocking electrodes measured down to its spike")
    xs, ys = z.real[j:], y[j:]
    weight = 1.0 / np.abs(z[j:])  # noise is proportional to |Z|: the spike's foot carries the intercept
    slope, intercept = np.polyfit(ys, xs, 1, w=weight)  # Z' = R + cot(phase) * (-Z'')
    phase_deg = math.degrees(math.atan2(1.0, slope))
    if ys[-1] - ys[0] < max(intercept, 0.0):
        raise AnalysisError(
            f"{name}: no blocking-electrode spike at the low-frequency end (-Z'' rises by {ys[-1] - ys[0]:.3g} ohm, "
            f"less than the {intercept:.3g} ohm where it would meet the real axis); a pellet between ion-blocking "
            "electrodes shows a steep capacitive spike")
    if phase_deg < MIN_SPIKE_PHASE_DEG:
        raise AnalysisError(
            f"{name}: the low-frequency tail rises at {phase_deg:.0f} degrees, not a blocking electrode's spike "
            f"(steeper than {MIN_SPIKE_PHASE_DEG:.0f}); a diffusion tail or a non-blocking cell gives no conductivity")
    w = 2 * np.pi * f

    # --- bulk arc: resolvable only if its top lies inside the band -------------------------------------
    region = y[: j + 1]
    apex = next((k for k in range(1, len(region) - 1)
                 if region[k] >= region[k - 1] and region[k] >= region[k + 1]), None)
    why_no_bulk = "the bulk arc lies above the highest measured frequency (only its low-frequency end, if anything, shows)"
    spike_q = 1.0 / max(float(np.median(np.abs(z[j:] - intercept) * w[j:] ** 0.9)), 1e-30)
    bulk = None
    r_total = r_total_se = float("nan")
    if apex is not None:
        decades = math.log10(f[0] / f[apex])
        end = apex + int(np.argmin(region[apex:]))
        inside = decades >= MIN_DECADES_ABOVE_APEX and y[0] <= MAX_HF_FRACTION_OF_APEX * y[apex] and end >= 5
        if not inside:
            why_no_bulk = (f"the highest-frequency arc's top ({f[apex]:.3g} Hz) is not inside the band with its "
                           "high-frequency side measured")
        # two arcs show: one model for both, whether or not the bulk value can be given
        # one model over the whole spectrum: leads, bulk arc, the next arc(s) as one, the spike
        r0 = max(float(z.real[0]) - 0.1 * y[apex], 1e-6 * intercept)
        r_b0 = max(float(z.real[end]) - r0, 1e-6)
        f_a = f[end] / 10.0
        try:
            # the first arc alone (to the minimum after it) seeds the model of the whole spectrum
            p1, _ = _fit(lambda p, w: p[0] + _arc(w, p[1], p[2], p[3]),
                         [r0, 2 * y[apex], 1 / (2 * np.pi * f[apex] * 2 * y[apex]), 0.95], (3,),
                         w[: end + 1], z[: end + 1])
            r0, r_b0 = p1[0], min(p1[1], max(intercept - p1[0], 1e-6) * 0.95)
            r_a0 = max(intercept - r0 - r_b0, 1e-3 * r_b0)
            x0 = [r0, r_b0, p1[2], p1[3], r_a0, 1 / (2 * np.pi * f_a * r_a0), 0.9, spike_q, 0.9]
            p, cov = _fit(lambda p, w: p[0] + _arc(w, p[1], p[2], p[3]) + _arc(w, p[4], p[5], p[6])
                          + 1.0 / (p[7] * (1j * w) ** p[8]), x0, (3, 6, 8), w, z)
            r_b, q_b, n_b = p[1], p[2], p[3]
            r_b_se = float(math.sqrt(max(cov[1, 1], 0.0)))
            c_b = (r_b * q_b) ** (1.0 / n_b) / r_b
            eps_r = c_b * (thickness_mm / 10.0) / (EPS0_F_CM * area_cm2)
            r_total, r_total_se = float(p[0] + p[1] + p[4]), _sum_se(cov, (0, 1, 4))
            if not inside:
                pass
            elif eps_r > MAX_BULK_EPS_R:
                why_no_bulk = (f"the highest-frequency arc has {c_b:.3g} F (apparent eps_r {eps_r:.0f} > "
                               f"{MAX_BULK_EPS_R:.0f}): a grain-boundary or interface arc, not the bulk")
            elif not r_b_se < MAX_RELATIVE_SE * r_b:
                why_no_bulk = f"the bulk arc's fit leaves R_b undetermined (standard error {r_b_se:.3g} ohm)"
            else:
                bulk = (float(r_b), r_b_se, float(c_b), float(eps_r))
        except (ValueError, np.linalg.LinAlgError):
            why_no_bulk = "the bulk arc could not be fitted"

    # --- total: where the spike meets the real axis ------------------------------------------------------
    if not math.isfinite(r_total):
        r_inf0 = max(float(z.real[0]) * 0.9, 1e-6 * max(intercept, 1e-9))
        r_a0 = max(intercept - r_inf0, 1e-3 * max(intercept, 1e-9))
        x0 = [r_inf0, r_a0, 1.0 / (2 * np.pi * f[0] * 3.0 * r_a0), 0.9, spike_q, 0.9]
        try:
            p, cov = _fit(lambda p, w: p[0] + _arc(w, p[1], p[2], p[3]) + 1.0 / (p[4] * (1j * w) ** p[5]),
                          x0, (3, 5), w, z)
            r_total, r_total_se = float(p[0] + p[1]), _sum_se(cov, (0, 1))
        except (ValueError, np.linalg.LinAlgError):
            r_total = float("nan")
    if not (math.isfinite(r_total) and abs(r_total - intercept) < 0.5 * abs(intercept) and r_total_se < r_total):
        # the arc model did not settle: the straight spike's own intercept, with its regression error
        _, cov_line = np.polyfit(ys, xs, 1, w=weight, cov="unscaled" if len(xs) < 4 else True)
        r_total = float(intercept)
        r_total_se = float(math.sqrt(max(cov_line[1, 1], 0.0)))
        notes.append("R_total from the straight-line intercept of the spike (the arc model did not settle)")
    r_total -= lead_resistance_ohm
    if not r_total > 0:
        raise AnalysisError(f"{name}: the spike meets the real axis at {r_total + lead_resistance_ohm:.4g} ohm, "
                            f"not above the lead resistance {lead_resistance_ohm:g} ohm")
    sigma_t, sigma_t_se = _sigma(r_total, r_total_se, thickness_mm, area_cm2, thickness_se_mm)
    leads = (f" minus {lead_resistance_ohm:g} ohm of leads" if lead_resistance_ohm
             else " (lead/fixture resistance included: none given)")
    if bulk:
        r_b, r_b_se, c_b, eps_r = bulk
        sigma_b, sigma_b_se = _sigma(r_b, r_b_se, thickness_mm, area_cm2, thickness_se_mm)
        statement = (f"bulk and total: the bulk arc is inside the band (C_b {c_b:.3g} F, eps_r {eps_r:.0f}); "
                     f"R_total = R_b + R_gb where the blocking electrodes' spike meets the real axis{leads}")
        return PelletConductivity(r_total, r_total_se, sigma_t, sigma_t_se, r_b, r_b_se, sigma_b, sigma_b_se,
                                  thickness_mm, area_cm2, lead_resistance_ohm, "bulk and total", statement,
                                  phase_deg, notes)
    statement = (f"total only (bulk + grain boundary) where the blocking electrodes' spike meets the real axis{leads}; "
                 f"no bulk value: {why_no_bulk}")
    return PelletConductivity(r_total, r_total_se, sigma_t, sigma_t_se, None, None, None, None, thickness_mm,
                              area_cm2, lead_resistance_ohm, "total only", statement, phase_deg, notes)
