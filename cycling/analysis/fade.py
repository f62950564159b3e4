"""Run-level fade metrics from the per-cycle table: ICE, decay per cycle, retention, cycles to 80/70 %, knee."""

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


def run_metrics(cycles: pd.DataFrame, *, reference_cycle: int | None = None, window: int = 100) -> dict:
    """Run-level figures from summarize_cycles' table (values None where undefined).

    Capacity basis: the second half-cycle (discharge for a charge-first cell), in mAh/g when the mass
    is known, else mAh (`capacity_unit`). Partial cycles are ignored.
    - initial_ce_percent: CE of the first cycle;
    - decay_percent_per_cycle (DOMAIN.md): (C_ref - C_last) / C_ref / N x 100 where C_ref is the
      first complete cycle's capacity (the first 0.1C discharge of the study; `decay_reference_cycle`),
      C_last the last long-term cycle and N the number of long-term cycles (cycles after the reference
      when there is no long-term segment);
    - retention_percent: last / reference_cycle (default: first long-term cycle, else the first cycle);
    - cycles_to_80_percent / _70_: cycles after the reference until the capacity first drops below
      80 % / 70 % of it;
    - window_decay: fade per `window` long-term cycles; knee_cycle: see knee_point.
    """
    first_half = cycles.attrs.get("first_half") or "charge"
    second = "discharge" if first_half == "charge" else "charge"
    complete = cycles[~cycles["is_partial"].astype(bool)]
    per_g = complete[f"{second}_mah_g"].notna().any()
    unit = "mAh/g" if per_g else "mAh"
    cap_col = f"{second}_mah_g" if per_g else f"{second}_mah"
    out: dict[str, Any] = {"analysis_version": ANALYSIS_VERSION, "capacity_unit": unit,
                           "capacity_half": second, "ce_convention": cycles.attrs.get("ce_convention"),
                           "n_cycles": int(len(complete)),
                           "n_partial_cycles": int(len(cycles) - len(complete))}
    if complete.empty:
        return out
    cyc = complete["cycle"].to_numpy()
    capv = complete[cap_col].to_numpy(dtype=float)
    seg = complete["segment"].to_numpy(dtype=object)

    def at(c):
        hit = np.flatnonzero(cyc == c)
        return _none(capv[hit[0]]) if len(hit) else None

    first = complete.iloc[0]
    out["initial_ce_percent"] = _none(first["ce_percent"])
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
    out["capacity_at_cycle"] = {str(c): at(c) for c in selected if c in set(cyc.tolist())}

    # Decay per cycle as the study defines it.
    ref_i = 0
    last_i = lt[-1] if len(lt) else len(cyc) - 1
    n_cyc = len(lt) if len(lt) else last_i - ref_i
    c_ref = capv[ref_i]
    out["decay_reference_cycle"] = int(cyc[ref_i])
    out["decay_last_cycle"] = int(cyc[last_i])
    out["decay_cycles"] = int(n_cyc)
    out["decay_percent_per_cycle"] = (
        _none((c_ref - capv[last_i]) / c_ref / n_cyc * 100.0) if n_cyc > 0 and c_ref > 0 else None
    )

    if reference_cycle is None:
        reference_cycle = int(cyc[lt[0]]) if len(lt) else int(cyc[0])
    out["retention_reference_cycle"] = int(reference_cycle)
    ref_hits = np.flatnonzero(cyc == reference_cycle)
    cap_ref = capv[ref_hits[0]] if len(ref_hits) else np.nan
    out["reference_capacity"] = _none(cap_ref)
    out["last_cycle"] = int(cyc[-1])
    out["last_capacity"] = _none(capv[-1])
    ok_ref = np.isfinite(cap_ref) and cap_ref > 0
    out["retention_percent"] = _none(capv[-1] / cap_ref * 100.0) if ok_ref else None
    for pct in (80, 70):
        val = None
        if ok_ref:
            after = np.flatnonzero((cyc > reference_cycle) & (capv < pct / 100.0 * cap_ref))
            val = int(cyc[after[0]] - reference_cycle) if len(after) else None
        out[f"cycles_to_{pct}_percent"] = val

    span = lt if len(lt) else np.flatnonzero(cyc >= reference_cycle)
    out["window_decay"] = window_decay(cyc[span], capv[span], cap_ref if ok_ref else np.nan, window=window)
    out["window_cycles"] = window
    out["knee_method"] = "two-line piecewise least squares"
    out["knee_cycle"] = knee_point(cyc[span], capv[span]) if len(span) else None
    return out
