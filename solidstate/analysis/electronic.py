"""Electronic conductivity of a blocking-electrode pellet by DC polarisation (Hebb-Wagner).

A constant voltage step V; the current decays as the ionic polarisation builds up and settles to the electronic
current I_ss; sigma_e = L * I_ss / (V * A). The steady state is detected, not assumed: over the last
``window_fraction`` of the hold (at least ``MIN_WINDOW_S``) the current's fitted relative change per hour must be
below ``max_change_per_h``; otherwise no value is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .conductivity import AnalysisError

MIN_WINDOW_S = 600.0
MAX_CHANGE_PER_H = 0.01  # 1 % per hour


@dataclass
class ElectronicConductivity:
    sigma_e_s_cm: float
    current_ss_ma: float
    voltage_v: float
    window_s: tuple[float, float]
    change_per_h: float
    steady_state: str


def electronic_conductivity(
    time_s, current_ma, voltage_v, *, thickness_mm: float, area_cm2: float, window_fraction: float = 0.2,
    max_change_per_h: float = MAX_CHANGE_PER_H, name: str = "record",
) -> ElectronicConductivity:
    t = np.asarray(time_s, dtype=float)
    i = np.asarray(current_ma, dtype=float)
    v = np.asarray(voltage_v, dtype=float)
    ok = np.isfinite(t) & np.isfinite(i) & np.isfinite(v)
    t, i, v = t[ok], i[ok], v[ok]
    if len(t) < 10:
        raise AnalysisError(f"{name}: {len(t)} usable records; a DC polarisation needs a current over time")
    vmed = float(np.median(v))
    if not abs(vmed) > 1e-4 or np.ptp(v) > 0.05 * abs(vmed) + 1e-3:
        raise AnalysisError(f"{name}: the voltage is not held constant (median {vmed:.4g} V, range {np.ptp(v):.3g} V);"
                            " not a DC polarisation at one voltage step")
    duration = t[-1] - t[0]
    width = max(window_fraction * duration, MIN_WINDOW_S)
    if width > 0.5 * duration:
        raise AnalysisError(f"{name}: the hold lasts {duration:.0f} s; the steady-state check needs at least "
                            f"{2 * MIN_WINDOW_S:.0f} s")
    sel = t >= t[-1] - width
    slope, intercept = np.polyfit(t[sel], i[sel], 1)
    i_ss = float(np.mean(i[sel]))
    change = abs(slope) * 3600.0 / abs(i_ss) if i_ss else math.inf
    if not change < max_change_per_h:
        raise AnalysisError(
            f"{name}: no steady state: over the last {width:.0f} s the current still changes by "
            f"{100 * change:.2g} % per hour (limit {100 * max_change_per_h:g} %/h); hold the voltage longer")
    v_ss = float(np.mean(v[sel]))
    sigma = (thickness_mm / 10.0) * abs(i_ss) * 1e-3 / (abs(v_ss) * area_cm2)
    statement = (f"steady state: current changes {100 * change:.2g} %/h (< {100 * max_change_per_h:g} %/h) over "
                 f"the last {width:.0f} s; I_ss = mean current there")
    return ElectronicConductivity(sigma, i_ss, v_ss, (float(t[sel][0]), float(t[-1])), float(change), statement)
