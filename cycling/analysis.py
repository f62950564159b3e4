"""Per-cycle metrics, run metrics and dQ/dV from canonical LAND records (pure: numpy/pandas/scipy only).

Conventions (one place decides them):
- A cycle is LAND's Cycle-Index. A half cycle is the cycle's charge (or discharge) records.
- Half-cycle capacity is the largest running `capacity_mah` over that half's records: LAND keeps adding
  up over consecutive steps of one direction (CC then CV, also across a rest), so summing per-step
  maxima would double-count. This reproduces LAND's Cycle-Tab CapC/CapD exactly.
- Coulombic efficiency CE = second half-cycle / first half-cycle x 100: discharge/charge for a
  charge-first cathode cell, charge/discharge for a discharge-first cell (as LAND's Efficiency/%).
  The first half comes from CellSpec.first_half or, when None, from the first non-rest record; the
  convention used is stored in `cycles.attrs["ce_convention"]`.
- The "delivered" capacity used by run metrics is the second half (discharge for a cathode cell).
- C-rate: 1C current = theoretical_mah_g x active mass. A cycle's C-rate is the mean of its two halves'
  mean |CC current| (so the sampling density of each half does not weigh in) over the 1C current.
- dQ/dV uses only constant-current records (CV and rests excluded), the monotonic envelope of voltage
  (running max on charge, running min on discharge: noise and relaxation do not run backwards),
  capacity interpolated on a uniform voltage grid, then a Savitzky-Golay derivative. It never divides
  by a record-to-record voltage step, so flat plateaus and CV holds cannot make spikes. Both halves are
  reported as positive mAh/V.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import find_peaks, peak_widths, savgol_filter

ANALYSIS_VERSION = "1.0.0"

C_RATE_LABELS: tuple[tuple[str, float], ...] = (
    ("C/50", 0.02),
    ("0.05C", 0.05),
    ("0.1C", 0.1),
    ("0.2C", 0.2),
    ("C/3", 1.0 / 3.0),
    ("0.5C", 0.5),
    ("1C", 1.0),
    ("2C", 2.0),
    ("3C", 3.0),
    ("5C", 5.0),
    ("10C", 10.0),
)

CYCLE_COLUMNS = [
    "cycle",
    "first_record",
    "last_record",
    "start_time_s",
    "end_time_s",
    "duration_s",
    "charge_mah",
    "discharge_mah",
    "charge_mah_g",
    "discharge_mah_g",
    "charge_mah_cm2",
    "discharge_mah_cm2",
    "ce_percent",
    "charge_energy_mwh",
    "discharge_energy_mwh",
    "charge_wh_kg",
    "discharge_wh_kg",
    "mean_charge_v",
    "mean_discharge_v",
    "median_charge_v",
    "median_discharge_v",
    "hysteresis_v",
    "cc_charge_fraction",
    "c_rate",
    "c_rate_label",
    "segment",
    "is_partial",
    "dqdv_peak_charge_v",
    "dqdv_peak_discharge_v",
]

REQUIRED_COLUMNS = ("record", "test_time_s", "current_ma", "voltage_v", "capacity_mah", "cycle", "step_kind")

_CHARGE, _DISCHARGE = 1, 2
_HALF_NAMES = {_CHARGE: "charge", _DISCHARGE: "discharge"}
_LONG_TERM_MIN_CYCLES = 10
_STAIR_MAX_STEP_CYCLES = 20


@dataclass(frozen=True)
class CellSpec:
    """What the analysis needs to know about the cell: active mass, electrode area, theoretical capacity.

    None means unknown: per-gram / per-area columns and C-rates are then NaN (never a default mass).
    first_half None = detect from the first non-rest record.
    """

    active_mass_mg: float | None = None
    area_cm2: float | None = None
    theoretical_mah_g: float | None = None
    first_half: str | None = None

    @property
    def one_c_ma(self) -> float | None:
        if not self.active_mass_mg or not self.theoretical_mah_g:
            return None
        return self.theoretical_mah_g * self.active_mass_mg / 1000.0


@dataclass(frozen=True)
class DqdvParams:
    """dQ/dV settings: grid step, Savitzky-Golay window (grid points, odd) and polynomial order."""

    grid_mv: float = 5.0
    smooth: bool = True
    window: int = 21
    polyorder: int = 3


# --- helpers ---------------------------------------------------------------------------------------


def _kind_codes(records: pd.DataFrame) -> np.ndarray:
    kind = records["step_kind"].to_numpy(dtype=object)
    return np.where(kind == "charge", _CHARGE, np.where(kind == "discharge", _DISCHARGE, 0)).astype(np.int8)


def _mode_array(records: pd.DataFrame) -> np.ndarray:
    if "step_mode" not in records:
        return np.full(len(records), "", dtype=object)
    return records["step_mode"].fillna("").to_numpy(dtype=object)


def _check(records: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"records lack canonical column(s): {', '.join(missing)}")
    cyc = records["cycle"].to_numpy()
    if len(cyc) > 1 and np.any(np.diff(cyc) < 0):
        records = records.sort_values(["cycle", "record"], kind="stable")
    return records


def detect_first_half(records: pd.DataFrame) -> str | None:
    """'charge' or 'discharge': the kind of the first non-rest record (None if there is none)."""
    codes = _kind_codes(records)
    nz = np.flatnonzero(codes)
    return _HALF_NAMES[int(codes[nz[0]])] if len(nz) else None


def c_rate_label(c_rate: float) -> str:
    """Nearest standard C-rate label (in log space); '' for NaN or non-positive rates."""
    if c_rate is None or not np.isfinite(c_rate) or c_rate <= 0:
        return ""
    values = np.array([v for _, v in C_RATE_LABELS])
    return C_RATE_LABELS[int(np.argmin(np.abs(np.log(values / c_rate))))][0]


def _c_rate_labels(rates: np.ndarray) -> np.ndarray:
    values = np.array([v for _, v in C_RATE_LABELS])
    names = np.array([n for n, _ in C_RATE_LABELS] + [""], dtype=object)
    ok = np.isfinite(rates) & (rates > 0)
    idx = np.full(len(rates), len(values))
    if ok.any():
        idx[ok] = np.argmin(np.abs(np.log(values[None, :] / rates[ok, None])), axis=1)
    return names[idx]


# --- segments --------------------------------------------------------------------------------------


def label_segments(rate_keys: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Label cycles 'formation' | 'rate-test' | 'long-term' | 'other' from runs of equal rate.

    rate_keys: one hashable per cycle (the C-rate label, or a binned current when no mass is known);
    rates: a number per cycle to order the runs (C-rate or current).
    - rate-test: at least three consecutive runs of <= 20 cycles with strictly increasing rate, plus
      an immediately following shorter-or-equal run back at a lower rate (recovery);
    - formation: the leading run when its rate is lower than the next run's, or it is a short run
      (<= 5 cycles); when it is also the first stair of a rate test, only its cycles beyond the stair
      length are formation;
    - long-term: any other run of >= 10 cycles; everything else 'other'.
    """
    n = len(rate_keys)
    out = np.full(n, "other", dtype=object)
    if n == 0:
        return out
    keys = pd.Series(rate_keys, dtype=object).fillna("").to_numpy(dtype=object)
    change = np.concatenate([[True], keys[1:] != keys[:-1]])
    starts = np.flatnonzero(change)
    ends = np.concatenate([starts[1:], [n]])
    lengths = ends - starts
    run_rate = np.array([np.nanmean(rates[s:e]) if np.isfinite(rates[s:e]).any() else np.nan
                         for s, e in zip(starts, ends, strict=True)])
    n_runs = len(starts)
    is_stair = np.zeros(n_runs, dtype=bool)
    i = 0
    while i < n_runs:  # loop over runs (a handful), not records
        j = i
        while (j + 1 < n_runs and lengths[j + 1] <= _STAIR_MAX_STEP_CYCLES
               and run_rate[j + 1] > run_rate[j]):
            j += 1
        if j - i + 1 >= 3 and all(lengths[k] <= _STAIR_MAX_STEP_CYCLES for k in range(i + 1, j + 1)):
            is_stair[i:j + 1] = True
            if j + 1 < n_runs and run_rate[j + 1] < run_rate[j] and lengths[j + 1] <= max(lengths[i + 1:j + 1]):
                is_stair[j + 1] = True
                j += 1
            i = j + 1
        else:
            i += 1
    for r in range(n_runs):
        if is_stair[r]:
            out[starts[r]:ends[r]] = "rate-test"
        elif lengths[r] >= _LONG_TERM_MIN_CYCLES:
            out[starts[r]:ends[r]] = "long-term"
    # Formation: the leading run.
    if is_stair[0] and n_runs > 1:
        step_len = lengths[1]
        surplus = lengths[0] - step_len
        if surplus > 0:
            out[: surplus] = "formation"
    elif n_runs > 1 and (run_rate[0] < run_rate[1] or lengths[0] <= 5) and lengths[0] < lengths[1]:
        out[starts[0]:ends[0]] = "formation"
    elif n_runs == 1 and lengths[0] < _LONG_TERM_MIN_CYCLES:
        out[:] = "formation"
    return out


# --- dQ/dV -----------------------------------------------------------------------------------------


@dataclass
class DqdvCurves:
    """dQ/dV of many half cycles on one voltage grid: row i is (cycle[i], half[i]).

    dqdv_mah_v is 0 outside [v_lo[i], v_hi[i]], the voltage span that half cycle actually covered.
    """

    voltage_v: np.ndarray
    cycle: np.ndarray
    half: np.ndarray
    v_lo: np.ndarray
    v_hi: np.ndarray
    dqdv_mah_v: np.ndarray
    params: DqdvParams

    def row(self, cycle: int, half: str) -> int | None:
        hit = np.flatnonzero((self.cycle == cycle) & (self.half == half))
        return int(hit[0]) if len(hit) else None

    def curve(self, cycle: int, half: str) -> pd.DataFrame:
        i = self.row(cycle, half)
        if i is None:
            return pd.DataFrame({"voltage_v": np.array([], float), "dqdv_mah_v": np.array([], float)})
        inside = (self.voltage_v >= self.v_lo[i]) & (self.voltage_v <= self.v_hi[i])
        return pd.DataFrame({"voltage_v": self.voltage_v[inside], "dqdv_mah_v": self.dqdv_mah_v[i, inside]})

    def main_peaks(self) -> pd.DataFrame:
        """Highest point of each curve, refined by a parabola through its neighbours (vectorised)."""
        d = self.dqdv_mah_v
        n_rows, n_grid = d.shape if d.ndim == 2 else (0, 0)
        if n_rows == 0 or n_grid < 3:
            return pd.DataFrame({"cycle": self.cycle, "half": self.half,
                                 "voltage_v": np.full(n_rows, np.nan), "height_mah_v": np.full(n_rows, np.nan)})
        k = np.clip(np.argmax(d, axis=1), 1, n_grid - 2)
        rows = np.arange(n_rows)
        y0, y1, y2 = d[rows, k - 1], d[rows, k], d[rows, k + 1]
        denom = y0 - 2 * y1 + y2
        off = np.where(denom < 0, 0.5 * (y0 - y2) / np.where(denom < 0, denom, -1.0), 0.0)
        step = self.params.grid_mv / 1000.0
        v = self.voltage_v[k] + np.clip(off, -0.5, 0.5) * step
        height = d[rows, k]
        v = np.where(height > 0, v, np.nan)
        return pd.DataFrame({"cycle": self.cycle, "half": self.half, "voltage_v": v,
                             "height_mah_v": np.where(height > 0, height, np.nan)})


def _cc_mask(records: pd.DataFrame, kind: np.ndarray) -> np.ndarray:
    mode = _mode_array(records)
    moving = kind > 0
    if np.isin(mode, ("CC", "CV")).any():
        return moving & (mode == "CC")
    # No step modes: CV-like records are those whose current fell well below the half's CC level.
    cur = np.abs(records["current_ma"].to_numpy(dtype=float))
    key = records["cycle"].to_numpy() * 4 + kind
    med = pd.Series(np.where(moving, cur, np.nan)).groupby(key).transform("median").to_numpy()
    return moving & (cur >= 0.9 * med)


def dqdv_all(records: pd.DataFrame, *, grid_mv: float = 5.0, smooth: bool = True, window: int = 21,
             polyorder: int = 3, cycles: Any = None) -> DqdvCurves:
    """dQ/dV (mAh/V, positive for both halves) of every half cycle, vectorised over all of them.

    grid_mv: voltage grid step; window (odd, grid points) and polyorder: the Savitzky-Golay derivative
    filter applied to capacity on the grid (smooth=False: plain central differences).
    """
    params = DqdvParams(grid_mv=grid_mv, smooth=smooth, window=window, polyorder=polyorder)
    records = _check(records)
    if cycles is not None:
        records = records[records["cycle"].isin(np.atleast_1d(cycles))]
    kind = _kind_codes(records)
    mask = _cc_mask(records, kind)
    volt = records["voltage_v"].to_numpy(dtype=float)
    cap = records["capacity_mah"].to_numpy(dtype=float)
    mask &= np.isfinite(volt) & np.isfinite(cap)
    cyc = records["cycle"].to_numpy()[mask]
    kind, volt, cap = kind[mask], volt[mask], cap[mask]
    step = grid_mv / 1000.0
    empty = DqdvCurves(np.array([]), np.array([], dtype=np.int64), np.array([], dtype=object),
                       np.array([]), np.array([]), np.zeros((0, 0)), params)
    if len(volt) == 0:
        return empty

    keys, g = np.unique(cyc.astype(np.int64) * 4 + kind, return_inverse=True)
    order = np.argsort(g, kind="stable")
    g, volt, cap = g[order], volt[order], cap[order]
    row_kind = (keys % 4).astype(np.int8)
    sign = np.where(row_kind == _CHARGE, 1.0, -1.0)
    # Offsetting each half by 10 V lets one running max build every half's monotonic envelope.
    off = 10.0 * np.arange(len(keys))
    y = sign[g] * volt + off[g]
    env = np.maximum.accumulate(y)
    first = np.concatenate([[True], g[1:] != g[:-1]])
    keep = first | (env > np.concatenate([[-np.inf], env[:-1]]))
    xp, fp, gk = env[keep], cap[keep], g[keep]
    starts = np.flatnonzero(np.concatenate([[True], gk[1:] != gk[:-1]]))
    ends = np.concatenate([starts[1:], [len(gk)]]) - 1
    env_lo, env_hi = xp[starts], xp[ends]
    v_a = sign * (env_lo - off)
    v_b = sign * (env_hi - off)
    v_lo, v_hi = np.minimum(v_a, v_b), np.maximum(v_a, v_b)

    grid = np.arange(math.floor(v_lo.min() / step) * step, v_hi.max() + step * 1.5, step)
    x = sign[:, None] * grid[None, :] + off[:, None]
    x = np.clip(x, env_lo[:, None], env_hi[:, None])
    q = np.interp(x.ravel(), xp, fp).reshape(x.shape)
    n_grid = len(grid)
    win = min(window | 1, n_grid if n_grid % 2 else n_grid - 1)
    if smooth and win > polyorder and n_grid >= 3:
        d = savgol_filter(q, win, polyorder, deriv=1, delta=step, axis=1, mode="interp")
    elif n_grid >= 2:
        d = np.gradient(q, step, axis=1)
    else:
        d = np.zeros_like(q)
    d = d * sign[:, None]
    inside = (grid[None, :] >= v_lo[:, None] - 0.5 * step) & (grid[None, :] <= v_hi[:, None] + 0.5 * step)
    d = np.where(inside, d, 0.0)
    half = np.where(row_kind == _CHARGE, "charge", "discharge").astype(object)
    return DqdvCurves(grid, (keys // 4).astype(np.int64), half, v_lo, v_hi, d, params)


def dqdv(records: pd.DataFrame, cycle: int, half: str, *, grid_mv: float = 5.0, smooth: bool = True,
         window: int = 21, polyorder: int = 3) -> pd.DataFrame:
    """dQ/dV of one half cycle: DataFrame(voltage_v, dqdv_mah_v) over the voltage span it covered."""
    if half not in ("charge", "discharge"):
        raise ValueError("half must be 'charge' or 'discharge'")
    sub = records[records["cycle"].to_numpy() == cycle]
    curves = dqdv_all(sub, grid_mv=grid_mv, smooth=smooth, window=window, polyorder=polyorder)
    return curves.curve(cycle, half)


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


# --- per-cycle table -------------------------------------------------------------------------------


def summarize_cycles(records: pd.DataFrame, spec: CellSpec | None = None, *, curves: DqdvCurves | None = None,
                     dqdv_params: DqdvParams | None = None) -> pd.DataFrame:
    """One row per cycle with the columns of CYCLE_COLUMNS (see the module docstring for conventions).

    attrs: analysis_version, first_half, ce_convention. Pass `curves` (from dqdv_all) to reuse them;
    otherwise dQ/dV is computed for all cycles with `dqdv_params` (defaults: DqdvParams()).
    """
    spec = spec or CellSpec()
    records = _check(records)
    if len(records) == 0:
        out = pd.DataFrame({c: [] for c in CYCLE_COLUMNS})
        out.attrs.update(analysis_version=ANALYSIS_VERSION, first_half=spec.first_half, ce_convention=None)
        return out
    kind = _kind_codes(records)
    first_half = spec.first_half or detect_first_half(records) or "charge"
    if first_half not in ("charge", "discharge"):
        raise ValueError("first_half must be 'charge', 'discharge' or None")
    cyc = records["cycle"].to_numpy().astype(np.int64)
    cap = records["capacity_mah"].to_numpy(dtype=float)
    volt = records["voltage_v"].to_numpy(dtype=float)
    cur = np.abs(records["current_ma"].to_numpy(dtype=float))
    energy = (records["energy_mwh"].to_numpy(dtype=float) if "energy_mwh" in records
              else np.full(len(records), np.nan))
    mode = _mode_array(records)
    rec = records["record"].to_numpy()
    t = records["test_time_s"].to_numpy(dtype=float)

    base = pd.DataFrame({"cycle": cyc, "record": rec, "t": t}).groupby("cycle", sort=True)
    out = pd.DataFrame({
        "first_record": base["record"].min(),
        "last_record": base["record"].max(),
        "start_time_s": base["t"].min(),
        "end_time_s": base["t"].max(),
    })
    cycles = out.index.to_numpy()
    out["duration_s"] = out["end_time_s"] - out["start_time_s"]

    moving = kind > 0
    # Energy from the records (trapezoid of V dQ) where LAND's energy column is missing.
    same = np.concatenate([[False], (cyc[1:] == cyc[:-1]) & (kind[1:] == kind[:-1])])
    d_q = np.where(same, np.diff(cap, prepend=np.nan), 0.0)
    d_q = np.where(np.isfinite(d_q) & (d_q > 0), d_q, 0.0)
    # Records without a voltage (kept by the parser) are bridged linearly for V dQ only, so gaps cost no energy.
    v_e = pd.Series(volt).interpolate(limit_area="inside").to_numpy() if np.isnan(volt).any() else volt
    v_mid = 0.5 * (v_e + np.concatenate([[np.nan], v_e[:-1]]))
    own_e = np.where(d_q > 0, v_mid * d_q, 0.0)
    cc = mode == "CC"
    has_modes = np.isin(mode, ("CC", "CV"))
    frame = pd.DataFrame({
        "cycle": cyc[moving], "kind": kind[moving], "cap": cap[moving], "energy": energy[moving],
        "own_e": own_e[moving], "volt": volt[moving],
        "cc_cap": np.where(cc, cap, np.nan)[moving], "has_mode": has_modes[moving],
        "cc_cur": np.where(cc | ~has_modes, cur, np.nan)[moving],
    })
    gb = frame.groupby(["cycle", "kind"], sort=True)
    half = gb.agg(cap=("cap", "max"), energy=("energy", "max"), own_e=("own_e", "sum"),
                  cc_cap=("cc_cap", "max"), has_mode=("has_mode", "any"), cc_cur=("cc_cur", "mean"))
    # Capacity-median voltage: where the half first reaches 50 % of its capacity.
    frame["thr"] = gb["cap"].transform("max") * 0.5
    med = frame[frame["cap"] >= frame["thr"]].groupby(["cycle", "kind"], sort=True)["volt"].first()
    half["median_v"] = med

    def col(name: str, k: int) -> np.ndarray:
        try:
            s = half[name].xs(k, level="kind")
        except KeyError:
            return np.full(len(cycles), np.nan)
        return s.reindex(cycles).to_numpy(dtype=float)

    q_c, q_d = col("cap", _CHARGE), col("cap", _DISCHARGE)
    e_c = np.where(np.isfinite(col("energy", _CHARGE)), col("energy", _CHARGE), col("own_e", _CHARGE))
    e_d = np.where(np.isfinite(col("energy", _DISCHARGE)), col("energy", _DISCHARGE), col("own_e", _DISCHARGE))
    e_c = np.where(np.isfinite(q_c), e_c, np.nan)
    e_d = np.where(np.isfinite(q_d), e_d, np.nan)
    mass_g = spec.active_mass_mg / 1000.0 if spec.active_mass_mg else np.nan
    area = spec.area_cm2 if spec.area_cm2 else np.nan

    with np.errstate(divide="ignore", invalid="ignore"):
        out["charge_mah"] = q_c
        out["discharge_mah"] = q_d
        out["charge_mah_g"] = q_c / mass_g
        out["discharge_mah_g"] = q_d / mass_g
        out["charge_mah_cm2"] = q_c / area
        out["discharge_mah_cm2"] = q_d / area
        first, second = (q_c, q_d) if first_half == "charge" else (q_d, q_c)
        ce = np.where(first > 0, second / first * 100.0, np.nan)
        out["charge_energy_mwh"] = e_c
        out["discharge_energy_mwh"] = e_d
        out["charge_wh_kg"] = e_c / mass_g
        out["discharge_wh_kg"] = e_d / mass_g
        out["mean_charge_v"] = np.where(q_c > 0, e_c / q_c, np.nan)
        out["mean_discharge_v"] = np.where(q_d > 0, e_d / q_d, np.nan)
        out["median_charge_v"] = col("median_v", _CHARGE)
        out["median_discharge_v"] = col("median_v", _DISCHARGE)
        out["hysteresis_v"] = out["mean_charge_v"] - out["mean_discharge_v"]
        has_mode_c = col("has_mode", _CHARGE) > 0
        cc_c = col("cc_cap", _CHARGE)
        out["cc_charge_fraction"] = np.where(has_mode_c & (q_c > 0),
                                             np.fmin(np.nan_to_num(cc_c), q_c) / q_c, np.nan)
        mean_cur = np.nanmean(np.column_stack([col("cc_cur", _CHARGE), col("cc_cur", _DISCHARGE)]), axis=1) \
            if len(cycles) else np.array([])
    one_c = spec.one_c_ma
    rate = mean_cur / one_c if one_c else np.full(len(cycles), np.nan)
    out["c_rate"] = rate
    labels = _c_rate_labels(rate)
    out["c_rate_label"] = labels

    second_missing = ~np.isfinite(q_d if first_half == "charge" else q_c)
    first_missing = ~np.isfinite(q_c if first_half == "charge" else q_d)
    partial = np.zeros(len(cycles), dtype=bool)
    if len(cycles):
        partial[-1] = bool(second_missing[-1] or first_missing[-1])
    out["ce_percent"] = np.where(partial, np.nan, ce)
    out["is_partial"] = partial

    if one_c:
        keys, order_by = labels, rate
    else:  # no mass: segment by the current itself, binned at 5 %
        keys = np.where(np.isfinite(mean_cur) & (mean_cur > 0),
                        np.round(np.log(np.where(mean_cur > 0, mean_cur, 1.0)) / np.log(1.05)), np.nan)
        keys = np.array([("" if not np.isfinite(k) else int(k)) for k in keys], dtype=object)
        order_by = mean_cur
    seg = label_segments(keys, np.asarray(order_by, dtype=float))
    seg = np.where(partial & ~np.isfinite(rate) & bool(one_c), "other", seg)
    out["segment"] = seg

    if curves is None:
        p = dqdv_params or DqdvParams()
        curves = dqdv_all(records, grid_mv=p.grid_mv, smooth=p.smooth, window=p.window, polyorder=p.polyorder)
    mp = curves.main_peaks()
    for name, col_name in (("charge", "dqdv_peak_charge_v"), ("discharge", "dqdv_peak_discharge_v")):
        s = mp[mp["half"] == name].set_index("cycle")["voltage_v"]
        out[col_name] = s.reindex(cycles).to_numpy(dtype=float)

    out = out.reset_index().rename(columns={"index": "cycle"})
    out["cycle"] = out["cycle"].astype(np.int64)
    out["first_record"] = out["first_record"].astype(np.int64)
    out["last_record"] = out["last_record"].astype(np.int64)
    out = out[CYCLE_COLUMNS]
    out.attrs.update(
        analysis_version=ANALYSIS_VERSION,
        first_half=first_half,
        ce_convention="discharge/charge" if first_half == "charge" else "charge/discharge",
    )
    return out


# --- run metrics -----------------------------------------------------------------------------------


def _none(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, (float, np.floating)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


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


# --- LAND's own numbers ----------------------------------------------------------------------------


def cross_check(cycles: pd.DataFrame, land_cycle_table: pd.DataFrame | None, *,
                tolerance_percent: float = 0.5) -> list[str]:
    """Warnings where charge/discharge capacity from the records differs from LAND's Cycle-Tab by more
    than tolerance_percent (relative to LAND's value)."""
    if land_cycle_table is None or len(land_cycle_table) == 0:
        return []
    land = land_cycle_table[["cycle", "charge_mah", "discharge_mah"]].copy()
    land["cycle"] = land["cycle"].astype(np.int64)
    merged = cycles[["cycle", "charge_mah", "discharge_mah"]].merge(land, on="cycle", how="inner",
                                                                    suffixes=("", "_land"))
    warnings: list[str] = []
    for name in ("charge", "discharge"):
        ours = merged[f"{name}_mah"].to_numpy(dtype=float)
        theirs = merged[f"{name}_mah_land"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = np.abs(ours - theirs) / np.abs(theirs) * 100.0
        diff = np.where((theirs == 0) & (ours == 0), 0.0, diff)
        bad = np.flatnonzero((np.isfinite(theirs) & ~np.isfinite(ours)) | (np.isfinite(diff) & (diff > tolerance_percent))
                             | (np.isinf(diff)))
        for i in bad:
            warnings.append(
                f"cycle {int(merged['cycle'].iloc[i])}: {name} capacity {ours[i]:.5g} mAh from the records vs "
                f"{theirs[i]:.5g} mAh in LAND's Cycle-Tab ({diff[i]:.2f} % apart, tolerance {tolerance_percent} %)"
            )
    only_land = sorted(set(land["cycle"]) - set(cycles["cycle"]))
    if only_land:
        warnings.append(f"LAND's Cycle-Tab lists cycle(s) absent from the records: {only_land[:10]}")
    return warnings


def analyze(records: pd.DataFrame, spec: CellSpec | None = None, *, land_cycle_table: pd.DataFrame | None = None,
            reference_cycle: int | None = None, dqdv_params: DqdvParams | None = None,
            peak_table: bool = False) -> dict:
    """Everything at once: cycles table, run metrics, dQ/dV curves, cross-check warnings (and the full
    per-cycle peak table if asked)."""
    p = dqdv_params or DqdvParams()
    curves = dqdv_all(records, grid_mv=p.grid_mv, smooth=p.smooth, window=p.window, polyorder=p.polyorder)
    cycles = summarize_cycles(records, spec, curves=curves)
    result = {
        "cycles": cycles,
        "run": run_metrics(cycles, reference_cycle=reference_cycle),
        "dqdv": curves,
        "warnings": cross_check(cycles, land_cycle_table),
    }
    if peak_table:
        result["peaks"] = dqdv_peak_table(curves)
    return result
