"""Shared vocabulary of the analysis: versions, C-rate labels, the per-cycle columns, CellSpec, small helpers.


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

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .columns import ANALYSIS, names_for
from .cycles import CHARGE as _CHARGE
from .cycles import DISCHARGE as _DISCHARGE
from .cycles import record_kind_codes

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

# The per-cycle table's columns, from the one column contract (columns.py).
CYCLE_COLUMNS = names_for(ANALYSIS)

REQUIRED_COLUMNS = ("record", "test_time_s", "current_ma", "voltage_v", "capacity_mah", "cycle", "step_kind")

_HALF_NAMES = {_CHARGE: "charge", _DISCHARGE: "discharge"}


@dataclass(frozen=True)
class CellSpec:
    """What the analysis needs to know about the cell: active mass, electrode area, theoretical capacity.

    None means unknown: per-gram / per-area columns and C-rates are then NaN (never a default mass).
    first_half None = detect from the first non-rest record. voltage_window_v None = no window check.
    """

    active_mass_mg: float | None = None
    area_cm2: float | None = None
    theoretical_mah_g: float | None = None
    first_half: str | None = None
    voltage_window_v: tuple[float, float] | None = None  # cell voltage (the cycler's frame), for the checks

    @property
    def one_c_ma(self) -> float | None:
        if not self.active_mass_mg or not self.theoretical_mah_g:
            return None
        return self.theoretical_mah_g * self.active_mass_mg / 1000.0



def _kind_codes(records: pd.DataFrame) -> np.ndarray:
    # The one direction rule (cycles.kind_codes): the per-cycle table and dQ/dV see what the cycle rule sees.
    # A stored analysed record (cycling.analysis.record) carries the half that rule counted it in.
    if "half" in records:
        half = records["half"]
        charge = (half == "charge").to_numpy(dtype=bool, na_value=False)
        discharge = (half == "discharge").to_numpy(dtype=bool, na_value=False)
        return np.where(charge, _CHARGE, np.where(discharge, _DISCHARGE, 0)).astype(np.int8)
    return record_kind_codes(records)


def _mode_flags(records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(CC, CV) per record as booleans; a missing mode is neither. Compared as a column (one Arrow compare
    on the parsers' str column), not through an object array of a Python string per record."""
    if "step_mode" not in records:
        return np.zeros(len(records), dtype=bool), np.zeros(len(records), dtype=bool)
    mode = records["step_mode"]
    return (mode == "CC").to_numpy(dtype=bool, na_value=False), (mode == "CV").to_numpy(dtype=bool, na_value=False)


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


def _none(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, (float, np.floating)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    return x
