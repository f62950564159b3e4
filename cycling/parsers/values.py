"""Vectorised conversion of raw cell columns (numbers, '-' gaps, time text, Excel time cells) to floats."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from readers.errors import ParseError

MISSING_TEXT = {"", "-", "--", "—", "n/a", "na", "none", "null", "nan"}
# Excel error values (as text when a cell's cached value is an error): a gap, not junk. calamine already
# hands back real error cells as empty.
EXCEL_ERRORS = {"#num!", "#div/0!", "#value!", "#n/a", "#ref!", "#name?", "#null!"}
DAY_S = 86400.0
# Text times carry whole seconds: a neighbour may read up to this much later than the exact cell.
TEXT_RESOLUTION_S = 1.0
_TIME_TEXT = r"^\s*(?:(?P<d>\d+)\s*(?:-|\s|d|天)\s*)?(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d*)?)\s*$"
# Excel serial dates: day 1 is 1900-01-01, and Excel's phantom 1900-02-29 shifts everything after it.
_EXCEL_EPOCH_EARLY = pd.Timestamp("1899-12-31")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXCEL_LEAP_BUG_END = pd.Timestamp("1900-03-01")
# What pandas' C-level type scan calls a column of nothing but Python/numpy numbers (bool is 'boolean').
_NUMBERS = {"floating", "integer", "mixed-integer-float", "empty"}


def only_numbers(values: pd.Series) -> bool:
    """True when every cell is an int or float (NaN included): one C pass instead of a per-cell type map."""
    return values.dtype.kind in "fiu" or infer_dtype(values, skipna=False) in _NUMBERS


def missing_mask(values: pd.Series) -> np.ndarray:
    """None, NaN, '', LAND's '-' and Excel error values (#NUM!, #N/A...) count as a gap."""
    if only_numbers(values):
        return values.isna().to_numpy()
    is_str = values.map(type).eq(str).to_numpy()
    mask = values.isna().to_numpy().copy()
    if is_str.any():
        text = values[is_str].str.strip().str.lower()
        mask[is_str] = (text.isin(MISSING_TEXT) | text.isin(EXCEL_ERRORS)).to_numpy()
    return mask


def _bad(values: pd.Series, bad: np.ndarray, rows: np.ndarray, column: str, what: str) -> ParseError:
    first = int(np.flatnonzero(bad)[0])
    shown = str(values.iat[first])[:40]
    return ParseError(f"'{shown}' is not {what}", row=int(rows[first]), column=column)


def _all_floats(values: pd.Series) -> np.ndarray | None:
    """The common case, a column of Excel numbers, converted in one step (None if anything else is there:
    numeric text, booleans, gaps and time cells take the careful path)."""
    if not only_numbers(values):
        return None
    return values.to_numpy(dtype=np.float64)


def to_float(values: pd.Series, rows: np.ndarray, column: str) -> np.ndarray:
    """Numbers (or numeric text) to float64, gaps to NaN; any other text is an error naming its row."""
    if values.dtype.kind in "fiu":
        return values.to_numpy(dtype=np.float64)
    fast = _all_floats(values)
    if fast is not None:
        return fast
    kinds = values.map(type)
    odd = kinds.isin([bool, dt.time, dt.datetime, dt.date, dt.timedelta, pd.Timestamp]).to_numpy()
    numbers = pd.to_numeric(values.where(~odd, None), errors="coerce").to_numpy(dtype=np.float64)
    missing = missing_mask(values)
    bad = np.isnan(numbers) & ~missing
    if bad.any():
        raise _bad(values, bad, rows, column, "a number")
    return numbers


def to_seconds(values: pd.Series, rows: np.ndarray, column: str, factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Time cells of any LAND spelling to seconds.

    Returns (seconds, wraps): ``wraps`` marks Excel time-of-day cells, which lost whole days and need
    rebuilding against their neighbours.
    """
    n = len(values)
    wraps = np.zeros(n, dtype=bool)
    if values.dtype.kind in "fiu":
        return values.to_numpy(dtype=np.float64) * factor, wraps
    fast = _all_floats(values)
    if fast is not None:
        return fast * factor, wraps
    kinds = values.map(type)
    out = np.full(n, np.nan)
    is_num = kinds.isin([float, int]).to_numpy()
    out[is_num] = values[is_num].to_numpy(dtype=np.float64) * factor
    is_str = kinds.eq(str).to_numpy()
    if is_str.any():
        text = values[is_str]
        numeric = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64) * factor
        parts = text.str.extract(_TIME_TEXT)
        clock = (
            parts["d"].astype(float).fillna(0.0) * DAY_S
            + parts["h"].astype(float) * 3600.0
            + parts["m"].astype(float) * 60.0
            + parts["s"].astype(float)
        ).to_numpy()
        out[is_str] = np.where(np.isnan(numeric), clock, numeric)
    is_time = kinds.eq(dt.time).to_numpy()
    if is_time.any():
        clock = values[is_time].map(lambda t: t.hour * 3600.0 + t.minute * 60.0 + t.second + t.microsecond / 1e6)
        out[is_time] = clock.to_numpy(dtype=np.float64)
        wraps[is_time] = True
    is_delta = kinds.isin([dt.timedelta, pd.Timedelta]).to_numpy()
    if is_delta.any():
        out[is_delta] = pd.to_timedelta(values[is_delta]).dt.total_seconds().to_numpy()
    is_stamp = kinds.isin([dt.datetime, dt.date, pd.Timestamp]).to_numpy()
    if is_stamp.any():
        # A duration cell formatted as a time comes back as a 1900 date; count from Excel's day 0.
        stamps = pd.to_datetime(values[is_stamp], errors="coerce")
        epoch = np.where(stamps < _EXCEL_LEAP_BUG_END, _EXCEL_EPOCH_EARLY, _EXCEL_EPOCH).astype("datetime64[ns]")
        out[is_stamp] = (stamps.to_numpy(dtype="datetime64[ns]") - epoch) / np.timedelta64(1, "s")
    bad = np.isnan(out) & ~missing_mask(values)
    if bad.any():
        raise _bad(values, bad, rows, column, "a time (seconds, HH:MM:SS or D-HH:MM:SS)")
    return out, wraps


def unwrap_days(seconds: np.ndarray, wraps: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """Give time-of-day cells back their lost days so the time never runs backwards.

    Each wrapped value gets k whole days: k_i = max(k_prev + wrapped_i, days the last absolute value
    forces). That max-plus recurrence has the closed form k = W + cummax(b - W), W = cumsum(wrapped).
    With ``group`` (step time), days restart with each group and absolute values are not used.
    """
    if not wraps.any():
        return seconds
    out = seconds.copy()
    idx = np.flatnonzero(wraps)
    v = seconds[idx]
    prev = np.concatenate([[np.nan], v[:-1]])
    wrapped = (v < prev - DAY_S / 2).astype(np.int64)
    if group is not None:
        g = group[idx]
        same = np.concatenate([[False], g[1:] == g[:-1]])
        wrapped &= same
        counts = pd.Series(wrapped).groupby(g).cumsum().to_numpy()
        out[idx] = v + DAY_S * counts
        return out
    absolute = np.where(wraps, np.nan, seconds)
    last_abs = pd.Series(absolute).ffill().shift(1).to_numpy()[idx]
    bound = np.where(np.isnan(last_abs), 0.0, np.ceil((last_abs - v - TEXT_RESOLUTION_S) / DAY_S))
    total = np.cumsum(wrapped)
    days = total + np.maximum.accumulate(np.maximum(bound, 0) - total)
    out[idx] = v + DAY_S * days
    return out


def to_datetime(values: pd.Series) -> np.ndarray:
    """Wall-clock SysTime (datetime cells, midnight dates, text) to naive datetime64[ns]; junk to NaT."""
    if values.dtype.kind == "M":
        return values.to_numpy(dtype="datetime64[ns]")
    if infer_dtype(values, skipna=False) in ("datetime", "date"):
        cleaned = values  # only datetime/date cells (calamine hands back a date at midnight)
    else:
        cleaned = values.where(~missing_mask(values), None)
        kinds = cleaned.map(type)
        cleaned = cleaned.where(~kinds.isin([float, int, bool, dt.time, dt.timedelta]), None)
    stamps = pd.to_datetime(cleaned, errors="coerce", format="mixed")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    return stamps.to_numpy(dtype="datetime64[ns]")


def arrow_pool():
    """The allocator of the readers' Arrow work: the C library's malloc. pyarrow's default (mimalloc) and
    its jemalloc hand freed pages back to the kernel and fault them in again: on the lab's VM that made a
    10^6-record csv read take 2-5x its CPU time, nearly all of it system time (bench/bench_readers.py)."""
    import pyarrow as pa

    return pa.system_memory_pool()
