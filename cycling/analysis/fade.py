"""One definition of each run-level metric (ICE, retention, decay, cycles to 80/70 %, knee), each naming its
reference cycle, and run_metrics, which gathers them from the per-cycle table. Every face calls these."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .common import ANALYSIS_VERSION, _none


def knee_point(cycle: np.ndarray, capacity: np.ndarray, *, min_points: int = 5,
               min_slope_ratio: float = 1.5) -> int | None:
    """Knee of a fade curve by a two-line piecewise least-squares fit (vectorised over breakpoints).

    Every split k fits one line to points [0, k) and one to [k, n); the split with the lowest total
    squared error wins. It is a knee only if the fade afterwards is at least `min_slope_ratio` times
    steeper than before (and downward); otherwise None. Returns the first cycle of the steep part.
    """
    x = np.asarray(cycle, dtype=float)
    y = np.asarray(capacity, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    if n < 2 * min_points:
        return None

    def sums(a, b):
        return np.concatenate([[0.0], np.cumsum(a * b)])

    s1 = np.arange(n + 1, dtype=float)
    sx, sy, sxx, sxy, syy = sums(x, 1.0), sums(y, 1.0), sums(x, x), sums(x, y), sums(y, y)

    def fit(lo, hi):
        m = s1[hi] - s1[lo]
        mx, my = sx[hi] - sx[lo], sy[hi] - sy[lo]
        vxx = (sxx[hi] - sxx[lo]) - mx * mx / m
        vxy = (sxy[hi] - sxy[lo]) - mx * my / m
        vyy = (syy[hi] - syy[lo]) - my * my / m
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(vxx > 0, vxy / vxx, 0.0)
            sse = vyy - np.where(vxx > 0, vxy * vxy / vxx, 0.0)
        return slope, sse

    k = np.arange(min_points, n - min_points + 1)
    s_l, e_l = fit(np.zeros_like(k), k)
    s_r, e_r = fit(k, np.full_like(k, n))
    best = int(np.argmin(e_l + e_r))
    left, right = s_l[best], s_r[best]
    steep_enough = right < 0 and (left >= 0 or right <= min_slope_ratio * left)
    return int(x[k[best]]) if steep_enough else None


def window_decay(cycle: np.ndarray, capacity: np.ndarray, reference_capacity: float, *,
                 window: int = 100) -> list[dict]:
    """Fade rate per consecutive window of `window` cycles: least-squares slope as % of the reference
    capacity per cycle (positive = losing capacity). Vectorised with np.add.reduceat."""
    x = np.asarray(cycle, dtype=float)
    y = np.asarray(capacity, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2 or not reference_capacity:
        return []
    starts = np.arange(0, len(x), window)
    m = np.add.reduceat(np.ones_like(x), starts)
    sx, sy = np.add.reduceat(x, starts), np.add.reduceat(y, starts)
    sxx, sxy = np.add.reduceat(x * x, starts), np.add.reduceat(x * y, starts)
    vxx = sxx - sx * sx / m
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(vxx > 0, (sxy - sx * sy / m) / vxx, np.nan)
    ends = np.concatenate([starts[1:], [len(x)]]) - 1
    return [
        {"start_cycle": int(x[s]), "end_cycle": int(x[e]),
         "percent_per_cycle": _none(-sl / reference_capacity * 100.0)}
        for s, e, sl, mm in zip(starts, ends, slope, m, strict=True) if mm >= 2
    ]


# --- one definition of each metric (arrays of complete cycles, ascending; capacity on the delivered half) ---

def default_reference_cycle(cycle: np.ndarray, segment: np.ndarray | None = None) -> int | None:
    """The retention reference when none is set: the first long-term cycle, else the first cycle."""
    cyc = np.asarray(cycle)
    if not len(cyc):
        return None
    if segment is not None:
        lt = np.flatnonzero(np.asarray(segment, dtype=object) == "long-term")
        if len(lt):
            return int(cyc[lt[0]])
    return int(cyc[0])


def _capacity_at(cyc: np.ndarray, capv: np.ndarray, c: int | None) -> float:
    hit = np.flatnonzero(cyc == c) if c is not None else []
    return float(capv[hit[0]]) if len(hit) else np.nan


def retention_series(cycle: np.ndarray, capacity: np.ndarray, reference_cycle: int | None) -> np.ndarray:
    """Retention of every cycle in % of the reference cycle's capacity (NaN throughout when the reference
    cycle is missing or has no positive capacity)."""
    cyc = np.asarray(cycle)
    capv = np.asarray(capacity, dtype=float)
    cap_ref = _capacity_at(cyc, capv, reference_cycle)
    if not (np.isfinite(cap_ref) and cap_ref > 0):
        return np.full(len(capv), np.nan)
    return capv / cap_ref * 100.0


def retention(cycle: np.ndarray, capacity: np.ndarray, reference_cycle: int | None) -> dict:
    """Retention of the last cycle against the reference cycle, naming both:
    {retention_reference_cycle, reference_capacity, last_cycle, last_capacity, retention_percent}."""
    cyc = np.asarray(cycle)
    capv = np.asarray(capacity, dtype=float)
    if not len(cyc):
        return {"retention_reference_cycle": reference_cycle, "reference_capacity": None, "last_cycle": None,
                "last_capacity": None, "retention_percent": None}
    series = retention_series(cyc, capv, reference_cycle)
    return {"retention_reference_cycle": None if reference_cycle is None else int(reference_cycle),
            "reference_capacity": _none(_capacity_at(cyc, capv, reference_cycle)),
            "last_cycle": int(cyc[-1]), "last_capacity": _none(capv[-1]), "retention_percent": _none(series[-1])}


def cycles_to_percent(cycle: np.ndarray, capacity: np.ndarray, reference_cycle: int | None,
                      percent: float) -> int | None:
    """Cycles after the reference until the capacity first drops below `percent` % of the reference's
    (None when it never does or the reference is undefined)."""
    cyc = np.asarray(cycle)
    below = retention_series(cyc, capacity, reference_cycle) < percent
    after = np.flatnonzero((cyc > (reference_cycle or 0)) & below)
    return int(cyc[after[0]] - reference_cycle) if len(after) else None


def decay(cycle: np.ndarray, capacity: np.ndarray, segment: np.ndarray | None = None, *,
          reference_cycle: int | None = None) -> dict:
    """Decay per cycle as the study defines it (DOMAIN.md): (C_ref - C_last) / C_ref / N x 100, where C_ref is the
    reference cycle's capacity (default: the first complete cycle, the study's first 0.1C discharge), C_last the
    last long-term cycle (else the last cycle) and N the long-term cycles after the reference (else all cycles
    after it). {decay_reference_cycle, decay_last_cycle, decay_cycles, decay_percent_per_cycle}."""
    cyc = np.asarray(cycle)
    capv = np.asarray(capacity, dtype=float)
    if not len(cyc):
        return {"decay_reference_cycle": reference_cycle, "decay_last_cycle": None, "decay_cycles": 0,
                "decay_percent_per_cycle": None}
    ref = int(cyc[0]) if reference_cycle is None else int(reference_cycle)
    seg = np.asarray(segment, dtype=object) if segment is not None else np.full(len(cyc), "", dtype=object)
    lt = np.flatnonzero(seg == "long-term")
    last_i = lt[-1] if len(lt) else len(cyc) - 1
    n_cyc = int((cyc[lt] > ref).sum()) if len(lt) else int((cyc > ref).sum())
    c_ref = _capacity_at(cyc, capv, ref)
    ok = n_cyc > 0 and np.isfinite(c_ref) and c_ref > 0 and cyc[last_i] > ref
    return {"decay_reference_cycle": ref, "decay_last_cycle": int(cyc[last_i]), "decay_cycles": n_cyc,
            "decay_percent_per_cycle": _none((c_ref - capv[last_i]) / c_ref / n_cyc * 100.0) if ok else None}


def initial_ce(cycle: np.ndarray, ce_percent: np.ndarray) -> dict:
    """ICE: the Coulombic efficiency of the first complete cycle, naming it: {ice_cycle, initial_ce_percent}."""
    cyc = np.asarray(cycle)
    if not len(cyc):
        return {"ice_cycle": None, "initial_ce_percent": None}
    return {"ice_cycle": int(cyc[0]), "initial_ce_percent": _none(np.asarray(ce_percent, dtype=float)[0])}


def knee(cycle: np.ndarray, capacity: np.ndarray, segment: np.ndarray | None, reference_cycle: int | None) -> dict:
    """The knee of the fade over the long-term cycles (else the cycles from the reference on): knee_point's
    cycle with the span it looked at: {knee_cycle, knee_method, knee_span}."""
    cyc = np.asarray(cycle)
    span = _fade_span(cyc, segment, reference_cycle)
    return {"knee_cycle": knee_point(cyc[span], np.asarray(capacity, dtype=float)[span]) if len(span) else None,
            "knee_method": "two-line piecewise least squares",
            "knee_span": [int(cyc[span[0]]), int(cyc[span[-1]])] if len(span) else None}


def _fade_span(cyc: np.ndarray, segment: np.ndarray | None, reference_cycle: int | None) -> np.ndarray:
    lt = np.flatnonzero(np.asarray(segment, dtype=object) == "long-term") if segment is not None else np.array([], int)
    return lt if len(lt) else np.flatnonzero(cyc >= (reference_cycle or 0))


def delivered_column(cycles: pd.DataFrame, first_half: str | None) -> tuple[str, str, str]:
    """(column, unit, half) of the capacity every metric is measured on: the delivered (second) half-cycle
    (discharge for a charge-first cell), per gram when any row has a mass, else mAh."""
    half = "charge" if first_half == "discharge" else "discharge"
    per_g = f"{half}_mah_g" in cycles and bool(cycles[f"{half}_mah_g"].notna().any())
    return (f"{half}_mah_g", "mAh/g", half) if per_g else (f"{half}_mah", "mAh", half)


def run_metrics(cycles: pd.DataFrame, *, reference_cycle: int | None = None, window: int = 100,
                decay_reference_cycle: int | None = None) -> dict:
    """Run-level figures from summarize_cycles' table (values None where undefined), each from the one function
    that defines it above, each naming its reference cycle.

    Capacity basis: the second half-cycle (discharge for a charge-first cell), in mAh/g when the mass
    is known, else mAh (`capacity_unit`). Partial cycles are ignored.
    - initial_ce_percent (initial_ce): CE of the first cycle (`ice_cycle`);
    - decay_percent_per_cycle (decay): against `decay_reference_cycle` (default the first complete cycle);
    - retention_percent (retention): last / reference_cycle (default: first long-term cycle, else the first);
    - cycles_to_80_percent / _70_ (cycles_to_percent): cycles after the retention reference until the
      capacity first drops below 80 % / 70 % of it;
    - window_decay: fade per `window` long-term cycles; knee_cycle: see knee_point.
    """
    first_half = cycles.attrs.get("first_half") or "charge"
    complete = cycles[~cycles["is_partial"].astype(bool)]
    cap_col, unit, second = delivered_column(complete, first_half)
    out: dict[str, Any] = {"analysis_version": ANALYSIS_VERSION, "capacity_unit": unit,
                           "capacity_half": second, "ce_convention": cycles.attrs.get("ce_convention"),
                           "n_cycles": int(len(complete)),
                           "n_partial_cycles": int(len(cycles) - len(complete))}
    if complete.empty:
        return out
    cyc = complete["cycle"].to_numpy()
    capv = complete[cap_col].to_numpy(dtype=float)
    seg = complete["segment"].to_numpy(dtype=object)

    first = complete.iloc[0]
    out.update(initial_ce(cyc, complete["ce_percent"].to_numpy(dtype=float)))
    out["first_charge_mah"] = _none(first["charge_mah"])
    out["first_discharge_mah"] = _none(first["discharge_mah"])
    out["first_charge_mah_g"] = _none(first["charge_mah_g"])
    out["first_discharge_mah_g"] = _none(first["discharge_mah_g"])
    out["first_half"] = first_half
    lt = np.flatnonzero(seg == "long-term")
    out["long_term_cycles"] = int(len(lt))
    out["long_term_first_cycle"] = int(cyc[lt[0]]) if len(lt) else None
    out["long_term_last_cycle"] = int(cyc[lt[-1]]) if len(lt) else None
    selected = sorted({1, 2, 10, 50, 100, 200, 300, 500, int(cyc[-1])}
                      | ({int(cyc[lt[0]])} if len(lt) else set()))
    present = set(cyc.tolist())
    out["capacity_at_cycle"] = {str(c): _none(_capacity_at(cyc, capv, c)) for c in selected if c in present}

    out.update(decay(cyc, capv, seg, reference_cycle=decay_reference_cycle))
    if reference_cycle is None:
        reference_cycle = default_reference_cycle(cyc, seg)
    out.update(retention(cyc, capv, reference_cycle))
    for pct in (80, 70):
        out[f"cycles_to_{pct}_percent"] = cycles_to_percent(cyc, capv, reference_cycle, pct)

    span = _fade_span(cyc, seg, reference_cycle)
    cap_ref = _capacity_at(cyc, capv, reference_cycle)
    ok_ref = np.isfinite(cap_ref) and cap_ref > 0
    out["window_decay"] = window_decay(cyc[span], capv[span], cap_ref if ok_ref else np.nan, window=window)
    out["window_cycles"] = window
    out.update(knee(cyc, capv, seg, reference_cycle))
    return out
