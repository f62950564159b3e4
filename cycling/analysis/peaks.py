"""Peaks of dQ/dV curves (scipy.signal.find_peaks) and a simple peak follower across cycles."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import find_peaks, peak_widths

from .differential import DqdvCurves

_PEAK_COLUMNS = ["voltage_v", "height_mah_v", "prominence_mah_v", "width_v", "area_mah"]


def _peaks(v: np.ndarray, d: np.ndarray, prominence_fraction: float, min_separation_mv: float,
           min_height_fraction: float) -> np.ndarray:
    """Peak rows (voltage, height, prominence, width, area) of one curve, highest first."""
    if len(d) < 3 or not np.isfinite(d).any() or np.nanmax(d) <= 0:
        return np.zeros((0, 5))
    d = np.nan_to_num(d)
    top = d.max()
    step = float(np.median(np.diff(v)))
    idx, props = find_peaks(d, height=min_height_fraction * top, prominence=prominence_fraction * top,
                            distance=max(1, int(round(min_separation_mv / 1000.0 / step))))
    if len(idx) == 0:
        return np.zeros((0, 5))
    half_w = peak_widths(d, idx, rel_height=0.5, prominence_data=(props["prominences"], props["left_bases"],
                                                                   props["right_bases"]))
    base = peak_widths(d, idx, rel_height=1.0, prominence_data=(props["prominences"], props["left_bases"],
                                                                 props["right_bases"]))
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(v))])
    grid_i = np.arange(len(v))
    area = np.interp(base[3], grid_i, cum) - np.interp(base[2], grid_i, cum)
    inner = np.clip(idx, 1, len(d) - 2)
    y0, y1, y2 = d[inner - 1], d[inner], d[inner + 1]
    denom = y0 - 2 * y1 + y2
    off = np.where(denom < 0, 0.5 * (y0 - y2) / np.where(denom < 0, denom, -1.0), 0.0)
    rows = np.column_stack([v[inner] + np.clip(off, -0.5, 0.5) * step, d[idx], props["prominences"],
                            half_w[0] * step, area])
    return rows[np.argsort(-rows[:, 1], kind="stable")]


def dqdv_peaks(curve: pd.DataFrame, *, prominence_fraction: float = 0.05, min_separation_mv: float = 30.0,
               min_height_fraction: float = 0.05) -> pd.DataFrame:
    """Peaks of one dQ/dV curve (scipy.signal.find_peaks), highest first.

    Columns: voltage_v (parabola-refined), height_mah_v, prominence_mah_v, width_v (full width at half
    prominence), area_mah (integral between the points where the peak meets its base). Thresholds are
    fractions of the curve's maximum so they work for any capacity scale.
    """
    rows = _peaks(np.asarray(curve["voltage_v"], dtype=float), np.asarray(curve["dqdv_mah_v"], dtype=float),
                  prominence_fraction, min_separation_mv, min_height_fraction)
    return pd.DataFrame(rows, columns=_PEAK_COLUMNS)


def dqdv_peak_table(curves: DqdvCurves, *, prominence_fraction: float = 0.05, min_separation_mv: float = 30.0,
                    min_height_fraction: float = 0.05) -> pd.DataFrame:
    """All dQ/dV peaks of all half cycles: cycle, half, rank (1 = highest) + dqdv_peaks' columns.

    Loops over half cycles (find_peaks works on one curve at a time), on plain arrays.
    """
    blocks, cyc, half, rank = [], [], [], []
    for i in range(len(curves.cycle)):
        inside = (curves.voltage_v >= curves.v_lo[i]) & (curves.voltage_v <= curves.v_hi[i])
        rows = _peaks(curves.voltage_v[inside], curves.dqdv_mah_v[i, inside], prominence_fraction,
                      min_separation_mv, min_height_fraction)
        blocks.append(rows)
        cyc.append(np.full(len(rows), curves.cycle[i]))
        half.append(np.full(len(rows), curves.half[i], dtype=object))
        rank.append(np.arange(1, len(rows) + 1))
    if not blocks:
        blocks, cyc, half, rank = [np.zeros((0, 5))], [np.array([], np.int64)], [np.array([], object)], [
            np.array([], np.int64)]
    out = pd.DataFrame(np.concatenate(blocks), columns=_PEAK_COLUMNS)
    out.insert(0, "rank", np.concatenate(rank).astype(np.int64))
    out.insert(0, "half", np.concatenate(half))
    out.insert(0, "cycle", np.concatenate(cyc).astype(np.int64))
    return out


def track_peak(peaks: pd.DataFrame, half: str, start_v: float, *, max_jump_v: float = 0.03) -> pd.DataFrame:
    """Follow one redox peak from cycle to cycle: in each cycle take the peak nearest to where it was
    last seen (starting at start_v), if within max_jump_v. Returns cycle, voltage_v, height_mah_v and
    attrs["drift_mv_per_cycle"] (least-squares slope; None with fewer than two points)."""
    sub = peaks[peaks["half"] == half]
    rows = []
    last = float(start_v)
    for cycle, grp in sub.groupby("cycle", sort=True):  # one small step per cycle
        dist = np.abs(grp["voltage_v"].to_numpy() - last)
        j = int(np.argmin(dist))
        if dist[j] <= max_jump_v:
            last = float(grp["voltage_v"].iloc[j])
            rows.append((cycle, last, float(grp["height_mah_v"].iloc[j])))
    out = pd.DataFrame(rows, columns=["cycle", "voltage_v", "height_mah_v"])
    out.attrs["drift_mv_per_cycle"] = (
        float(np.polyfit(out["cycle"], out["voltage_v"], 1)[0] * 1000.0) if len(out) >= 2 else None
    )
    return out
