"""The per-cycle table: one row per cycle with capacities, CE, energies, voltages, C-rate and segment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import (
    _CHARGE,
    _DISCHARGE,
    ANALYSIS_VERSION,
    CYCLE_COLUMNS,
    CellSpec,
    _c_rate_labels,
    _check,
    _kind_codes,
    _mode_flags,
    detect_first_half,
)
from .differential import DqdvCurves, DqdvParams, dqdv_all
from .segments import label_segments


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
    cyc = records["cycle"].to_numpy().astype(np.int64, copy=False)
    cap = records["capacity_mah"].to_numpy(dtype=float)
    volt = records["voltage_v"].to_numpy(dtype=float)
    cur = records["current_ma"].to_numpy(dtype=float)
    energy = records["energy_mwh"].to_numpy(dtype=float) if "energy_mwh" in records else None
    cc, cv = _mode_flags(records)
    rec = records["record"].to_numpy()
    t = records["test_time_s"].to_numpy(dtype=float)

    # The records are in cycle order (_check): each cycle is one slice, so the per-cycle figures come from
    # reductions over the slices, and the per-half table is worked out a few whole cycles at a time.
    bounds = np.flatnonzero(np.concatenate([[True], cyc[1:] != cyc[:-1]]))
    cycles = cyc[bounds]
    out = {"cycle": cycles, "first_record": np.minimum.reduceat(rec, bounds),
           "last_record": np.maximum.reduceat(rec, bounds),
           "start_time_s": np.fmin.reduceat(t, bounds), "end_time_s": np.fmax.reduceat(t, bounds)}
    out["duration_s"] = out["end_time_s"] - out["start_time_s"]

    # Records without a voltage (kept by the parser) are bridged linearly for V dQ only, so gaps cost no energy.
    v_e = pd.Series(volt).interpolate(limit_area="inside").to_numpy() if np.isnan(volt).any() else volt
    parts = [_half_table(cyc[a:b], kind[a:b], cap[a:b], volt[a:b], v_e[a:b], cur[a:b],
                         None if energy is None else energy[a:b], cc[a:b], cv[a:b])
             for a, b in _cycle_chunks(bounds, len(cyc))]
    parts = [p for p in parts if len(p)] or parts[:1]
    half = pd.concat(parts) if len(parts) > 1 else parts[0]
    del parts, v_e
    half_cycle = half.index.get_level_values("cycle").to_numpy()
    half_kind = half.index.get_level_values("kind").to_numpy()
    # Where each half's row goes in the per-cycle arrays (every half's cycle is one of `cycles`).
    slots = {k: (half_kind == k, np.searchsorted(cycles, half_cycle[half_kind == k])) for k in (_CHARGE, _DISCHARGE)}

    def col(name: str, k: int) -> np.ndarray:
        rows, where = slots[k]
        values = np.full(len(cycles), np.nan)
        values[where] = half[name].to_numpy(dtype=float)[rows]
        return values

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
        curves = dqdv_all(records, dqdv_params)
    mp = curves.main_peaks()
    for name, col_name in (("charge", "dqdv_peak_charge_v"), ("discharge", "dqdv_peak_discharge_v")):
        s = mp[mp["half"] == name].set_index("cycle")["voltage_v"]
        out[col_name] = s.reindex(cycles).to_numpy(dtype=float)

    for name in ("cycle", "first_record", "last_record"):
        out[name] = out[name].astype(np.int64)
    out = pd.DataFrame({name: out[name] for name in CYCLE_COLUMNS})
    out.attrs.update(
        analysis_version=ANALYSIS_VERSION,
        first_half=first_half,
        ce_convention="discharge/charge" if first_half == "charge" else "charge/discharge",
    )
    return out


# Records per slice of whole cycles the per-half table is worked out on: its temporaries (~170 bytes a
# record) stay a few tens of MB whatever the file's length.
HALF_TABLE_CHUNK_RECORDS = 1 << 18


def _cycle_chunks(bounds: np.ndarray, n: int) -> list[tuple[int, int]]:
    """Slices [a, b) of whole cycles (bounds: each cycle's first position), about HALF_TABLE_CHUNK_RECORDS each."""
    ends = np.append(bounds[1:], n)
    cuts = [0]
    while cuts[-1] < n:
        # The last cycle end within reach, but at least the end of the next cycle (a cycle longer than a chunk).
        k = int(np.searchsorted(ends, cuts[-1] + HALF_TABLE_CHUNK_RECORDS, side="right"))
        k = max(k, int(np.searchsorted(ends, cuts[-1], side="right")) + 1)
        cuts.append(int(ends[k - 1]))
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def _half_table(cyc, kind, cap, volt, v_e, cur, energy, cc, cv) -> pd.DataFrame:
    """Per (cycle, kind) of the charge/discharge records of a slice of whole cycles: capacity, LAND's
    energy, V dQ energy, CC capacity, whether step modes are known, mean CC current, capacity-median voltage."""
    moving = kind > 0
    # Energy from the records (trapezoid of V dQ) where LAND's energy column is missing.
    same = np.concatenate([[False], (cyc[1:] == cyc[:-1]) & (kind[1:] == kind[:-1])])
    d_q = np.where(same, np.diff(cap, prepend=np.nan), 0.0)
    d_q = np.where(np.isfinite(d_q) & (d_q > 0), d_q, 0.0)
    v_mid = 0.5 * (v_e + np.concatenate([[np.nan], v_e[:-1]]))
    own_e = np.where(d_q > 0, v_mid * d_q, 0.0)
    has_modes = cc | cv
    frame = pd.DataFrame({
        "cycle": cyc[moving], "kind": kind[moving], "cap": cap[moving],
        "energy": energy[moving] if energy is not None else np.full(int(moving.sum()), np.nan),
        "own_e": own_e[moving], "volt": volt[moving],
        "cc_cap": np.where(cc, cap, np.nan)[moving], "has_mode": has_modes[moving],
        "cc_cur": np.where(cc | ~has_modes, np.abs(cur), np.nan)[moving],
    }, copy=False)  # fresh arrays: no 2-D block copy of them
    gb = frame.groupby(["cycle", "kind"], sort=True)
    half = gb.agg(cap=("cap", "max"), energy=("energy", "max"), own_e=("own_e", "sum"),
                  cc_cap=("cc_cap", "max"), has_mode=("has_mode", "any"), cc_cur=("cc_cur", "mean"))
    # Capacity-median voltage: where the half first reaches 50 % of its capacity (only the three columns
    # that needs are cut down to those records, not the whole frame).
    reached = frame["cap"].to_numpy() >= gb["cap"].transform("max").to_numpy() * 0.5
    med = frame.loc[reached, ["cycle", "kind", "volt"]].groupby(["cycle", "kind"], sort=True)["volt"].first()
    half["median_v"] = med
    return half
