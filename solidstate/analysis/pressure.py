"""Stack pressure as data: the pressure channel of a cycler file (BDF ``Applied Pressure / Pa`` or
``Surface Pressure / Pa``, or a pressure log with a time and a pressure column) and the drift rule.

Drift rule: the pressure drifts from the registered stack pressure when the rolling median (over
``window_s``) leaves registered * (1 +- tolerance) and stays out to the end of the record for at least
``min_duration_s``; like the monitoring rules it describes the latest state (active while the newest part of
the record is still out) and names when the current excursion began.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from monitoring.rules import PRESSURE_MIN_DURATION_S, PRESSURE_WINDOW_S, pressure_excursion

from .conductivity import AnalysisError

# normalised header -> factor to MPa (one table; the BDF's machine names and human labels, and log spellings)
PRESSURE_HEADERS: dict[str, float] = {
    "applied_pressure_pascal": 1e-6, "applied pressure / pa": 1e-6,
    "surface_pressure_pascal": 1e-6, "surface pressure / pa": 1e-6,
    "pressure / pa": 1e-6, "pressure_pa": 1e-6, "pressure / mpa": 1.0, "pressure_mpa": 1.0,
    "stack pressure / mpa": 1.0, "stack_pressure_mpa": 1.0, "pressure (mpa)": 1.0, "pressure (pa)": 1e-6,
}
TIME_HEADERS: dict[str, float] = {
    "test_time_second": 1.0, "test time / s": 1.0, "time / s": 1.0, "time_s": 1.0, "time (s)": 1.0,
    "test_time_s": 1.0, "time / h": 3600.0, "time_h": 3600.0,
}
DRIFT_TOLERANCE = 0.10  # of the registered pressure
DRIFT_WINDOW_S = PRESSURE_WINDOW_S
DRIFT_MIN_DURATION_S = PRESSURE_MIN_DURATION_S


def _norm(header: str) -> str:
    return re.sub(r"\s+", " ", str(header).strip().strip('"').lower())


def read_pressure_channel(data: bytes, *, name: str = "file") -> pd.DataFrame | None:
    """``time_s`` and ``pressure_mpa`` of a file's pressure channel; None when the file has none.

    Reads BDF csv/parquet tables and csv/tab pressure logs (the first row is the header)."""
    if data[:2] == b"PK" or data[:4] == b"\xd0\xcf\x11\xe0":  # workbooks (LAND, Neware .xls...): no channel read
        return None
    try:
        if data[:4] == b"PAR1":
            frame = pd.read_parquet(io.BytesIO(data))
        else:
            head = data[:4096].decode("utf-8", errors="ignore").lstrip("\ufeff").splitlines()
            if not head:
                return None
            sep = "\t" if head[0].count("\t") > head[0].count(",") else ","
            if not any(_norm(h) in PRESSURE_HEADERS for h in head[0].split(sep)):
                return None  # the header row names no pressure: the file is not parsed
            frame = pd.read_csv(io.BytesIO(data), sep=sep, encoding_errors="replace", low_memory=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError):
        return None
    columns = {_norm(c): c for c in frame.columns}
    pressure = next(((columns[h], f) for h in PRESSURE_HEADERS if (f := PRESSURE_HEADERS[h]) and h in columns), None)
    time = next(((columns[h], f) for h in TIME_HEADERS if (f := TIME_HEADERS[h]) and h in columns), None)
    if pressure is None:
        return None
    if time is None:
        raise AnalysisError(f"{name}: a pressure column ({pressure[0]}) but no time column")
    t = pd.to_numeric(frame[time[0]], errors="coerce").to_numpy(dtype=float) * time[1]
    p = pd.to_numeric(frame[pressure[0]], errors="coerce").to_numpy(dtype=float) * pressure[1]
    ok = np.isfinite(t) & np.isfinite(p)
    if ok.sum() < 2:
        raise AnalysisError(f"{name}: the pressure column {pressure[0]} holds no numbers")
    return pd.DataFrame({"time_s": t[ok], "pressure_mpa": p[ok]})


@dataclass
class PressureDrift:
    since_s: float
    pressure_mpa: float  # the rolling median at the end of the record
    registered_mpa: float
    deviation_percent: float
    message: str


def pressure_drift(time_s, pressure_mpa, registered_mpa: float, *, tolerance: float = DRIFT_TOLERANCE,
                   window_s: float = DRIFT_WINDOW_S, min_duration_s: float = DRIFT_MIN_DURATION_S,
                   ) -> PressureDrift | None:
    """The active drift of a pressure record from the registered stack pressure, or None (the monitoring
    rule's own test, monitoring.rules.pressure_excursion, so the page and the alert agree)."""
    t = np.asarray(time_s, dtype=float)
    found = pressure_excursion(t, pressure_mpa, registered_mpa, tolerance, window_s=window_s,
                               min_duration_s=min_duration_s)
    if found is None:
        return None
    start, latest = found
    deviation = 100.0 * (latest / registered_mpa - 1.0)
    return PressureDrift(float(t[start]), latest, float(registered_mpa), deviation,
                         f"stack pressure {latest:.1f} MPa is {deviation:+.0f} % from the registered "
                         f"{registered_mpa:g} MPa since t = {t[start] / 3600:.1f} h (tolerance {100 * tolerance:g} %)")
