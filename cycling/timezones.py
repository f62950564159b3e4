"""LAND's SysTime is naive local wall-clock time: turn it into UTC with the lab's time zone (pure, no Django).

Daylight-saving rules:
- Ambiguous wall-clock times (the repeated hour when clocks fall back) are resolved by the order of the
  records: LAND logs in time order, so the first pass through the hour is summer time and the records
  after the wall clock steps back are standard time (pandas' "infer"). When that cannot be inferred
  (e.g. only the first pass was logged, or the clock never visibly steps back), the fallback is the
  same rule done by hand: summer time until the wall clock goes backwards inside the ambiguous hour.
- Nonexistent wall-clock times (the skipped hour when clocks spring forward) are shifted forward to
  the first valid instant, as a cycler whose clock jumped would have logged them.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd


def _zone(tz_name: str) -> ZoneInfo:
    try:
        if not tz_name or not isinstance(tz_name, str):
            raise ZoneInfoNotFoundError(tz_name)
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {tz_name!r}: use an IANA name such as 'Europe/Berlin' or "
                         f"'Asia/Shanghai'") from None


def _dst_by_order(wall: pd.Series, tz: ZoneInfo) -> np.ndarray:
    """Per record: True = read an ambiguous time as summer time (first pass), False = standard time."""
    marked = wall.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    ambiguous = (marked.isna() & wall.notna()).to_numpy()
    if not ambiguous.any():
        return np.ones(len(wall), dtype=bool)
    ns = wall.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    back = np.zeros(len(wall), dtype=bool)
    back[1:] = ns[1:] < ns[:-1]
    # Blocks of consecutive ambiguous records (one per fall-back night); within a block, a record
    # after the wall clock stepped back is standard time.
    block = np.cumsum(np.concatenate([[True], ambiguous[1:] != ambiguous[:-1]]))
    stepped = pd.Series(back & ambiguous).groupby(block).cumsum().to_numpy() > 0
    return ~(ambiguous & stepped)


def localize_sys_time(series: pd.Series, tz_name: str) -> pd.Series:
    """Naive local wall-clock times -> tz-aware UTC times (same index; NaT stays NaT).

    Raises ValueError for an unknown zone. Already tz-aware input is only converted to UTC.
    """
    tz = _zone(tz_name)
    wall = pd.to_datetime(pd.Series(series), errors="coerce")
    if wall.dt.tz is not None:
        return wall.dt.tz_convert("UTC")
    try:
        local = wall.dt.tz_localize(tz, ambiguous="infer", nonexistent="shift_forward")
    except ValueError:  # pytz/pandas AmbiguousTimeError subclasses ValueError
        local = wall.dt.tz_localize(tz, ambiguous=_dst_by_order(wall, tz), nonexistent="shift_forward")
    return local.dt.tz_convert("UTC")


def start_time_utc(records: pd.DataFrame, tz_name: str) -> datetime | None:
    """When the test started, in UTC: the first record with a SysTime, minus its test time.

    None when the records carry no SysTime at all.
    """
    _zone(tz_name)
    if "sys_time" not in records or len(records) == 0:
        return None
    utc = localize_sys_time(records["sys_time"], tz_name)
    valid = np.flatnonzero(utc.notna().to_numpy())
    if len(valid) == 0:
        return None
    i = int(valid[0])
    stamp = utc.iloc[i]
    if "test_time_s" in records:
        t = float(records["test_time_s"].iloc[i])
        if np.isfinite(t):
            stamp = stamp - pd.Timedelta(seconds=t)
    return stamp.to_pydatetime()


__all__ = ["localize_sys_time", "start_time_utc"]
