"""dQ/dV (differential capacity) of half cycles on one voltage grid (constant-current records, monotonic envelope, Savitzky-Golay)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .common import _CHARGE, _check, _kind_codes, _mode_flags
from .savgol import savgol_rows


@dataclass(frozen=True)
class DqdvParams:
    """dQ/dV settings, passed whole: voltage grid step, Savitzky-Golay derivative window and polynomial order.

    smooth=False uses plain central differences on the grid instead of the Savitzky-Golay derivative.
    Bad values are refused here (ValueError naming the field), so every caller gets the same rule.
    """

    grid_mv: float = 5.0
    smooth: bool = True
    window_points: int = 21
    polyorder: int = 3

    def __post_init__(self):
        if not (isinstance(self.grid_mv, int | float) and math.isfinite(self.grid_mv) and self.grid_mv > 0):
            raise ValueError(f"grid_mv: the voltage grid step must be a positive number of mV, not {self.grid_mv!r}")
        if not isinstance(self.window_points, int) or self.window_points < 3 or self.window_points % 2 == 0:
            raise ValueError(f"window_points: the Savitzky-Golay window must be an odd number of grid points "
                             f"of at least 3, not {self.window_points!r}")
        if not isinstance(self.polyorder, int) or not 0 <= self.polyorder < self.window_points:
            raise ValueError(f"polyorder: the Savitzky-Golay order must be an integer from 0 to below the "
                             f"window ({self.window_points} points), not {self.polyorder!r}")


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
    cc, cv = _mode_flags(records)
    moving = kind > 0
    if cc.any() or cv.any():
        return moving & cc
    # No step modes: CV-like records are those whose current fell well below the half's CC level.
    cur = np.abs(records["current_ma"].to_numpy(dtype=float))
    key = records["cycle"].to_numpy() * 4 + kind
    med = pd.Series(np.where(moving, cur, np.nan)).groupby(key).transform("median").to_numpy()
    return moving & (cur >= 0.9 * med)


def dqdv_all(records: pd.DataFrame, params: DqdvParams | None = None, *, cycles: Any = None) -> DqdvCurves:
    """dQ/dV (mAh/V, positive for both halves) of every half cycle, vectorised over all of them.

    params: grid step and the Savitzky-Golay derivative applied to capacity on the grid (DqdvParams()).
    """
    params = params or DqdvParams()
    grid_mv, smooth, window, polyorder = params.grid_mv, params.smooth, params.window_points, params.polyorder
    records = _check(records)
    if cycles is not None:
        records = records[records["cycle"].isin(np.atleast_1d(cycles))]
    kind = _kind_codes(records)
    mask = _cc_mask(records, kind)
    volt = records["voltage_v"].to_numpy(dtype=float)
    cap = records["capacity_mah"].to_numpy(dtype=float)
    mask &= np.isfinite(volt)
    mask &= np.isfinite(cap)
    # The CC records' columns are cut once; the whole-file temporaries below are made in place.
    key = records["cycle"].to_numpy()[mask].astype(np.int64, copy=False)
    kind, volt, cap = kind[mask], volt[mask], cap[mask]
    del mask
    step = grid_mv / 1000.0
    empty = DqdvCurves(np.array([]), np.array([], dtype=np.int64), np.array([], dtype=object),
                       np.array([]), np.array([]), np.zeros((0, 0)), params)
    if len(volt) == 0:
        return empty

    key *= 4
    key += kind
    del kind
    if len(key) < 2 or (key[1:] >= key[:-1]).all():
        # Records in cycle order with each half in one run (the usual file): the halves are already
        # grouped, so no sort is needed; the same keys and group numbers as np.unique's.
        starts = np.concatenate([[True], key[1:] != key[:-1]])
        keys = key[starts]
        g = np.cumsum(starts, dtype=np.int32 if len(starts) < 2**31 else np.int64)
        g -= 1
        del starts
    else:
        keys, g = np.unique(key, return_inverse=True)
        order = np.argsort(g, kind="stable")
        g, volt, cap = g[order], volt[order], cap[order]
        del order
    del key
    row_kind = (keys % 4).astype(np.int8)
    sign = np.where(row_kind == _CHARGE, 1.0, -1.0)
    # Offsetting each half by 10 V lets one running max build every half's monotonic envelope.
    off = 10.0 * np.arange(len(keys))
    y = sign[g]
    y *= volt
    y += off[g]
    del volt
    env = np.maximum.accumulate(y)
    del y
    keep = np.empty(len(env), dtype=bool)
    keep[0] = True
    np.greater(env[1:], env[:-1], out=keep[1:])
    keep[1:] |= g[1:] != g[:-1]
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
        d = savgol_rows(q, win, polyorder, deriv=1, delta=step)  # scipy.signal.savgol_filter, axis 1, "interp"
    elif n_grid >= 2:
        d = np.gradient(q, step, axis=1)
    else:
        d = np.zeros_like(q)
    d = d * sign[:, None]
    inside = (grid[None, :] >= v_lo[:, None] - 0.5 * step) & (grid[None, :] <= v_hi[:, None] + 0.5 * step)
    d = np.where(inside, d, 0.0)
    half = np.where(row_kind == _CHARGE, "charge", "discharge").astype(object)
    return DqdvCurves(grid, (keys // 4).astype(np.int64), half, v_lo, v_hi, d, params)


def dqdv(records: pd.DataFrame, cycle: int, half: str, params: DqdvParams | None = None) -> pd.DataFrame:
    """dQ/dV of one half cycle: DataFrame(voltage_v, dqdv_mah_v) over the voltage span it covered."""
    if half not in ("charge", "discharge"):
        raise ValueError("half must be 'charge' or 'discharge'")
    sub = records[records["cycle"].to_numpy() == cycle]
    curves = dqdv_all(sub, params)
    return curves.curve(cycle, half)
