"""The one rule for what a cycle is, on plain arrays: used by the parser (files without a Cycle-Index) and
by cycling.analysis.checks (derived cycles against LAND's index). Pure numpy/pandas, cheap to import."""

from __future__ import annotations

import numpy as np
import pandas as pd

CHARGE, DISCHARGE = 1, 2
KIND_CODES = {"charge": CHARGE, "discharge": DISCHARGE}


def kind_codes(step_kind, current_ma: np.ndarray) -> np.ndarray:
    """1 charge, 2 discharge, 0 rest; a missing or unknown kind falls back to the sign of the current.

    THE rule for a record's direction (the per-cycle table, dQ/dV, the cycle rule and the checks all use it).
    A pandas column is compared as a column (one Arrow compare on the parsers' str column, no Python string
    per record); arrays and lists as object arrays.
    """
    cur = np.asarray(current_ma, dtype=float)
    if step_kind is None:
        charge = discharge = rest = np.zeros(len(cur), dtype=bool)
    elif isinstance(step_kind, pd.Series):
        charge = (step_kind == "charge").to_numpy(dtype=bool, na_value=False)
        discharge = (step_kind == "discharge").to_numpy(dtype=bool, na_value=False)
        rest = (step_kind == "rest").to_numpy(dtype=bool, na_value=False)
    else:
        kind = np.asarray(step_kind, dtype=object)
        charge, discharge, rest = kind == "charge", kind == "discharge", kind == "rest"
    # Built in place in one int8 array, lowest precedence first (the sign, then rest, discharge, charge):
    # no int64 temporaries of the whole file.
    out = np.zeros(len(cur), dtype=np.int8)
    out[cur > 0] = CHARGE
    out[cur < 0] = DISCHARGE
    out[rest] = 0
    out[discharge] = DISCHARGE
    out[charge] = CHARGE
    return out


def record_kind_codes(records: pd.DataFrame) -> np.ndarray:
    """kind_codes of a records frame (step_kind, else the current's sign alone)."""
    return kind_codes(records["step_kind"] if "step_kind" in records else None, records["current_ma"])


def channel_restarts(record: np.ndarray, test_time_s: np.ndarray, restart_time_s: float = 60.0) -> np.ndarray:
    """True where the channel started over: record number not increasing, or test time back near zero."""
    rec = np.asarray(record)
    t = np.asarray(test_time_s, dtype=float)
    out = np.zeros(len(rec), dtype=bool)
    if len(rec) > 1:
        out[1:] = (rec[1:] <= rec[:-1]) | ((t[1:] < t[:-1] - 1.0) & (t[1:] <= restart_time_s))
    return out


def derive_cycles(kind: np.ndarray, restart: np.ndarray, first_half: str | None = None) -> np.ndarray:
    """Cycle numbers (from 1) from kind codes (see ``kind_codes``) and channel restarts.

    A cycle starts where the first-half direction starts again after the second half, or where the
    channel restarted. Rests belong to the cycle before them; leading rests to cycle 1.
    """
    n = len(kind)
    if n == 0:
        return np.array([], dtype=np.int64)
    moving = np.flatnonzero(kind > 0)
    if len(moving) == 0:
        return np.ones(n, dtype=np.int64)
    first = KIND_CODES[first_half] if first_half else int(kind[moving[0]])
    restart = np.asarray(restart, dtype=bool)
    # The direction each record is held in: the last charge/discharge of its part of the file (a forward
    # fill by index, not a float groupby), a part's leading rests the first half.
    part_start = restart.copy()
    part_start[0] = True
    last = np.where((kind > 0) | part_start, np.arange(n, dtype=np.int32 if n < 2**31 else np.int64), 0)
    np.maximum.accumulate(last, out=last)
    held = np.asarray(kind, dtype=np.int8)[last]
    del last
    held[held == 0] = first
    prev = np.empty_like(held)
    prev[0] = first
    prev[1:] = held[:-1]
    prev[part_start] = first
    starts = (held == first) & (prev != first)
    starts |= restart
    return (1 + np.cumsum(starts)).astype(np.int64)


def format_runs(values, *, shown: int = 12, thousands: bool = False) -> str:
    """Whole numbers as runs, '3–40, 42, 50–502', at most `shown` runs spelled out ('... (N more runs)').

    Used for the cycle ranges of grouped findings and the rows of parser warnings (thousands=True: '4,001').
    """
    v = np.unique(np.asarray(values, dtype=np.int64))
    if len(v) == 0:
        return ""
    brk = np.flatnonzero(np.diff(v) != 1)
    lo = v[np.concatenate([[0], brk + 1])]
    hi = v[np.concatenate([brk, [len(v) - 1]])]
    fmt = "{:,}" if thousands else "{}"
    parts = [fmt.format(a) if a == b else f"{fmt.format(a)}–{fmt.format(b)}"
             for a, b in zip(lo[:shown], hi[:shown], strict=True)]
    more = f", ... ({len(lo) - shown} more runs)" if len(lo) > shown else ""
    return ", ".join(parts) + more
