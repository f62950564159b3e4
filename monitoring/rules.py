"""Alert rules as one pure function: a cell's per-cycle frame + its facts + thresholds -> active conditions.

No Django here (a test checks it), so the rules run on generated runs with known truth, in a notebook, or
on the worker. Each rule looks at the *latest* state of the run: a condition is active while the newest
comparable cycle still breaks the limit, and it names the cycle where the current breach began (so an
alert raised on cycle 335 still says 335 when cycle 340 arrives). A condition that is no longer returned
has cleared.

Like with like:
- formation cycles never count as a low CE and never as a capacity drop;
- a cycle-to-cycle drop is only measured between consecutive cycles of the same segment and C-rate
  label (formation -> C/3, or a rate-test step, is a change of protocol, not a drop);
- retention is measured against the reference cycle on cycles of the reference's C-rate only;
- "died" ignores rate-test cycles (a 1C step of a weak cell is low but not dead).

Frame columns (one row per cycle; missing optional columns switch their rule off):
cycle, capacity_mah_g (the delivered half per gram, NaN without a mass), capacity_mah, ce_percent,
c_rate_label, segment, is_partial, and optionally min_voltage_v / max_voltage_v.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from cycling.analysis.fade import retention_series

RETENTION = "retention_below"
DIED = "discharge_below"
LOW_CE = "ce_below"
DROP = "capacity_drop"
VOLTAGE = "voltage_window"
STALE = "no_new_data"
IMPORT_FAILED = "import_failed"
RINT_LIMIT = "rint_above"
RINT_GROWTH = "rint_growth"
PRESSURE_DRIFT = "pressure_drift"

# kind -> (label for people, unit of its threshold, default threshold). One table: the model's choices,
# the default rules of the migration and the admin's help all come from here.
RULE_KINDS: dict[str, tuple[str, str, float | None]] = {
    RETENTION: ("Retention below X % of the reference cycle", "%", 80.0),
    DIED: ("Discharge capacity below Y mAh/g (cell died)", "mAh/g", 10.0),
    LOW_CE: ("Coulombic efficiency below Z % (after formation)", "%", 95.0),
    DROP: ("Cycle-to-cycle capacity drop above K %", "%", 5.0),
    VOLTAGE: ("Voltage outside the registered window (tolerance)", "V", 0.05),
    STALE: ("No new data for N hours", "h", 12.0),
    IMPORT_FAILED: ("Import of a data file failed", "", None),
    RINT_LIMIT: ("Interfacial resistance R_int above a limit", "ohm", 1000.0),
    RINT_GROWTH: ("R_int growing faster than a rate", "% per 100 cycles", 30.0),
    PRESSURE_DRIFT: ("Stack pressure drifting from the registered value by more than X %", "%", 10.0),
}


# Short titles with the limit filled in, for alert lists, e-mail subjects and webhooks.
_TITLES = {
    RETENTION: "Retention below {:g} % of the reference cycle", DIED: "Discharge below {:g} mAh/g (died)",
    LOW_CE: "Coulombic efficiency below {:g} %", DROP: "Capacity drop above {:g} % between like cycles",
    VOLTAGE: "Voltage outside the window (tolerance {:g} V)", STALE: "No new data for {:g} h",
    IMPORT_FAILED: "Import failed", RINT_LIMIT: "R_int above {:g} ohm",
    RINT_GROWTH: "R_int growing faster than {:g} % per 100 cycles",
    PRESSURE_DRIFT: "Stack pressure off the registered value by more than {:g} %",
}


def title(kind: str, threshold: float | None) -> str:
    """'Retention below 80 % of the reference cycle': the rule with its limit, in words."""
    text = _TITLES[kind]
    return text.format(threshold) if "{" in text and threshold is not None else text.replace(" {:g}", "")


@dataclass(frozen=True)
class CellFacts:
    """What the rules know about a cell besides its cycles. Times are timezone-aware (UTC)."""

    now: datetime
    formation_cycles: int = 0
    reference_cycle: int | None = None
    voltage_window_v: tuple[float, float] | None = None
    last_record_at: datetime | None = None
    finished: bool = False
    failed_import: str | None = None  # "file name: reason" of the newest file when its import failed
    rint: pd.DataFrame | None = None  # columns cycle, r_int_ohm (current fits, one row per spectrum)
    pressure: pd.DataFrame | None = None  # columns time_s, pressure_mpa: the newest file's stack-pressure channel
    registered_pressure_mpa: float | None = None

    def __post_init__(self):
        if self.now.tzinfo is None:
            raise ValueError("CellFacts.now must be timezone-aware")
        if self.formation_cycles < 0:
            raise ValueError("formation_cycles cannot be negative")


@dataclass(frozen=True)
class Condition:
    """One rule broken by the cell right now: where it began (cycle), why (message) and the numbers."""

    kind: str
    cycle: int | None
    message: str
    values: dict = field(default_factory=dict)


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _streak_start(cycles: np.ndarray, bad: np.ndarray) -> int | None:
    """First cycle of the trailing run of `bad` (None when the last one is not bad)."""
    if not len(bad) or not bad[-1]:
        return None
    good = np.flatnonzero(~bad)
    return int(cycles[good[-1] + 1]) if len(good) else int(cycles[0])


def _prepare(cycles: pd.DataFrame) -> pd.DataFrame:
    frame = cycles.copy()
    if "is_partial" in frame:
        frame = frame[~frame["is_partial"].fillna(False).astype(bool)]
    frame = frame.sort_values("cycle", kind="stable").drop_duplicates("cycle", keep="last")
    for col in ("segment", "c_rate_label"):
        frame[col] = frame[col].fillna("").astype(str) if col in frame else ""
    return frame.reset_index(drop=True)


def _capacity(frame: pd.DataFrame) -> tuple[np.ndarray, str]:
    if "capacity_mah_g" in frame and frame["capacity_mah_g"].notna().any():
        return frame["capacity_mah_g"].to_numpy(dtype=float), "mAh/g"
    return frame.get("capacity_mah", pd.Series(np.nan, index=frame.index)).to_numpy(dtype=float), "mAh"


def _not_formation(frame: pd.DataFrame, facts: CellFacts) -> np.ndarray:
    return (frame["segment"].to_numpy() != "formation") & (frame["cycle"].to_numpy() > facts.formation_cycles)


def evaluate(cycles: pd.DataFrame, facts: CellFacts, thresholds: dict[str, float | None]) -> list[Condition]:
    """Active conditions of every enabled rule. `thresholds`: kind -> limit (a kind left out is off)."""
    frame = _prepare(cycles) if len(cycles) else pd.DataFrame(columns=["cycle", "segment", "c_rate_label"])
    out: list[Condition] = []
    checks = {
        RETENTION: _retention, DIED: _died, LOW_CE: _low_ce, DROP: _drop, VOLTAGE: _voltage,
        STALE: _stale, IMPORT_FAILED: _import_failed, RINT_LIMIT: _rint_limit, RINT_GROWTH: _rint_growth,
        PRESSURE_DRIFT: _pressure_drift,
    }
    for kind, check in checks.items():
        if kind not in thresholds:
            continue
        limit = thresholds[kind]
        if limit is None and RULE_KINDS[kind][2] is not None:
            continue
        found = check(frame, facts, limit)
        if found is not None:
            out.append(found)
    return out


def _retention(frame, facts, limit_percent) -> Condition | None:
    ref = facts.reference_cycle
    if ref is None or frame.empty:
        return None
    cap, unit = _capacity(frame)
    cyc = frame["cycle"].to_numpy()
    hit = np.flatnonzero(cyc == ref)
    if not len(hit) or not np.isfinite(cap[hit[0]]) or cap[hit[0]] <= 0:
        return None
    cap_ref, label = cap[hit[0]], frame["c_rate_label"].iloc[hit[0]]
    same = (cyc > ref) & (frame["c_rate_label"].to_numpy() == label) & np.isfinite(cap)
    if not same.any():
        return None
    c, v = cyc[same], cap[same]
    retention = retention_series(cyc, cap, ref)[same]  # the one definition (cycling.analysis.fade)
    start = _streak_start(c, retention < limit_percent)
    if start is None:
        return None
    i = int(np.flatnonzero(c == start)[0])
    return Condition(RETENTION, start, (
        f"retention fell below {limit_percent:g} % at cycle {start}: {v[i]:.1f} {unit} is {retention[i]:.1f} % "
        f"of reference cycle {ref} ({cap_ref:.1f} {unit}); now {retention[-1]:.1f} % at cycle {int(c[-1])}"),
        {"threshold_percent": limit_percent, "reference_cycle": int(ref), "reference_capacity": _num(cap_ref),
         "capacity": _num(v[i]), "retention_percent": _num(retention[i]), "capacity_unit": unit,
         "latest_cycle": int(c[-1]), "latest_retention_percent": _num(retention[-1])})


def _died(frame, facts, limit_mah_g) -> Condition | None:
    if "capacity_mah_g" not in frame or not frame["capacity_mah_g"].notna().any():
        return None  # without a mass there is no mAh/g to compare
    use = (frame["segment"].to_numpy() != "rate-test") & frame["capacity_mah_g"].notna().to_numpy()
    c, v = frame["cycle"].to_numpy()[use], frame["capacity_mah_g"].to_numpy(dtype=float)[use]
    start = _streak_start(c, v < limit_mah_g)
    if start is None:
        return None
    i = int(np.flatnonzero(c == start)[0])
    return Condition(DIED, start, (
        f"discharge capacity fell below {limit_mah_g:g} mAh/g at cycle {start} ({v[i]:.1f} mAh/g); "
        f"now {v[-1]:.1f} mAh/g at cycle {int(c[-1])}"),
        {"threshold_mah_g": limit_mah_g, "capacity_mah_g": _num(v[i]), "latest_cycle": int(c[-1]),
         "latest_capacity_mah_g": _num(v[-1])})


def _low_ce(frame, facts, limit_percent) -> Condition | None:
    if "ce_percent" not in frame or frame.empty:
        return None
    use = _not_formation(frame, facts) & frame["ce_percent"].notna().to_numpy()
    c, v = frame["cycle"].to_numpy()[use], frame["ce_percent"].to_numpy(dtype=float)[use]
    start = _streak_start(c, v < limit_percent)
    if start is None:
        return None
    i = int(np.flatnonzero(c == start)[0])
    return Condition(LOW_CE, start, (
        f"Coulombic efficiency fell below {limit_percent:g} % at cycle {start} ({v[i]:.2f} %); "
        f"now {v[-1]:.2f} % at cycle {int(c[-1])} (formation cycles not counted)"),
        {"threshold_percent": limit_percent, "ce_percent": _num(v[i]), "latest_cycle": int(c[-1]),
         "latest_ce_percent": _num(v[-1])})


def _drop(frame, facts, limit_percent) -> Condition | None:
    if len(frame) < 2:
        return None
    cap, unit = _capacity(frame)
    cyc, seg, lab = frame["cycle"].to_numpy(), frame["segment"].to_numpy(), frame["c_rate_label"].to_numpy()
    ok = _not_formation(frame, facts) & np.isfinite(cap)
    comparable = ok[1:] & ok[:-1] & (seg[1:] == seg[:-1]) & (lab[1:] == lab[:-1]) & (cap[:-1] > 0)
    drop = np.where(comparable, (cap[:-1] - cap[1:]) / np.where(cap[:-1] > 0, cap[:-1], 1.0) * 100.0, 0.0)
    events = np.flatnonzero(drop > limit_percent)
    if not len(events):
        return None
    j = int(events[-1])  # the pair (j, j+1) of the newest drop
    last = len(cyc) - 1
    # Still down: the newest cycle is of the same kind as the drop and has not come back within K %.
    if not (ok[last] and seg[last] == seg[j + 1] and lab[last] == lab[j + 1]
            and cap[last] < cap[j] * (1.0 - limit_percent / 100.0)):
        return None
    return Condition(DROP, int(cyc[j + 1]), (
        f"capacity dropped {drop[j]:.1f} % from cycle {int(cyc[j])} to cycle {int(cyc[j + 1])} "
        f"({cap[j]:.1f} -> {cap[j + 1]:.1f} {unit}, both {lab[j + 1] or 'same rate'}, {seg[j + 1] or 'same segment'}); "
        f"limit {limit_percent:g} %"),
        {"threshold_percent": limit_percent, "drop_percent": _num(drop[j]), "from_cycle": int(cyc[j]),
         "from_capacity": _num(cap[j]), "capacity": _num(cap[j + 1]), "capacity_unit": unit,
         "c_rate_label": lab[j + 1], "segment": seg[j + 1], "latest_cycle": int(cyc[last])})


def _voltage(frame, facts, tolerance_v) -> Condition | None:
    if facts.voltage_window_v is None or frame.empty or not {"min_voltage_v", "max_voltage_v"} <= set(frame):
        return None
    lo, hi = facts.voltage_window_v
    vmin, vmax = frame["min_voltage_v"].to_numpy(dtype=float), frame["max_voltage_v"].to_numpy(dtype=float)
    known = np.isfinite(vmin) & np.isfinite(vmax)
    c, vmin, vmax = frame["cycle"].to_numpy()[known], vmin[known], vmax[known]
    bad = (vmin < lo - tolerance_v) | (vmax > hi + tolerance_v)
    start = _streak_start(c, bad)
    if start is None:
        return None
    i = int(np.flatnonzero(c == start)[0])
    return Condition(VOLTAGE, start, (
        f"voltage left the registered window {lo:.3f}-{hi:.3f} V (cell voltage, tolerance {tolerance_v:g} V) "
        f"at cycle {start}: {vmin[i]:.3f}-{vmax[i]:.3f} V; latest cycle {int(c[-1])}: {vmin[-1]:.3f}-{vmax[-1]:.3f} V"),
        {"tolerance_v": tolerance_v, "window_v": [lo, hi], "min_voltage_v": _num(vmin[i]),
         "max_voltage_v": _num(vmax[i]), "latest_cycle": int(c[-1])})


def _stale(frame, facts, limit_h) -> Condition | None:
    if facts.finished or facts.last_record_at is None:
        return None
    quiet_h = (facts.now - facts.last_record_at).total_seconds() / 3600.0
    if quiet_h <= limit_h:
        return None
    latest = int(frame["cycle"].iloc[-1]) if len(frame) else None
    return Condition(STALE, latest, (
        f"no new data for {quiet_h:.1f} h (limit {limit_h:g} h); the last record is from "
        f"{facts.last_record_at:%Y-%m-%d %H:%M} UTC" + (f", cycle {latest}" if latest is not None else "")),
        {"threshold_h": limit_h, "hours_since_last_record": _num(quiet_h),
         "last_record_at": facts.last_record_at.isoformat(), "latest_cycle": latest})


def _import_failed(frame, facts, _limit) -> Condition | None:
    if not facts.failed_import:
        return None
    latest = int(frame["cycle"].iloc[-1]) if len(frame) else None
    return Condition(IMPORT_FAILED, latest, f"the import of {facts.failed_import}", {"error": facts.failed_import})


def _rint(facts) -> pd.DataFrame | None:
    r = facts.rint
    if r is None or not len(r):
        return None
    r = r[["cycle", "r_int_ohm"]].dropna()
    r = r[np.isfinite(r["r_int_ohm"].to_numpy(dtype=float))]
    return r.sort_values("cycle", kind="stable") if len(r) else None


def _rint_limit(frame, facts, limit_ohm) -> Condition | None:
    r = _rint(facts)
    if r is None:
        return None
    c, v = r["cycle"].to_numpy(), r["r_int_ohm"].to_numpy(dtype=float)
    start = _streak_start(c, v > limit_ohm)
    if start is None:
        return None
    i = int(np.flatnonzero(c == start)[0])
    return Condition(RINT_LIMIT, start, (
        f"interfacial resistance R_int {v[i]:.0f} ohm after cycle {start} is above the {limit_ohm:g} ohm limit; "
        f"latest {v[-1]:.0f} ohm after cycle {int(c[-1])}"),
        {"threshold_ohm": limit_ohm, "r_int_ohm": _num(v[i]), "latest_cycle": int(c[-1]),
         "latest_r_int_ohm": _num(v[-1])})


def _rint_growth(frame, facts, limit_percent_per_100) -> Condition | None:
    r = _rint(facts)
    if r is None:
        return None
    c, v = r["cycle"].to_numpy(dtype=float), r["r_int_ohm"].to_numpy(dtype=float)
    if len(c) < 2 or c[-1] <= c[0] or v[0] <= 0:
        return None
    rate = (v[-1] - v[0]) / v[0] * 100.0 / (c[-1] - c[0]) * 100.0
    if rate <= limit_percent_per_100:
        return None
    return Condition(RINT_GROWTH, int(c[-1]), (
        f"R_int grew from {v[0]:.0f} ohm (after cycle {int(c[0])}) to {v[-1]:.0f} ohm (after cycle {int(c[-1])}): "
        f"{rate:.1f} % per 100 cycles, above the {limit_percent_per_100:g} % limit"),
        {"threshold_percent_per_100_cycles": limit_percent_per_100, "rate_percent_per_100_cycles": _num(rate),
         "first_cycle": int(c[0]), "first_r_int_ohm": _num(v[0]), "latest_r_int_ohm": _num(v[-1])})


# --- stack pressure ------------------------------------------------------------------------------------
PRESSURE_WINDOW_S = 600.0  # rolling median: a load cell's noise and a single spike do not count
PRESSURE_MIN_DURATION_S = 1800.0  # out of the band at least this long, up to the end of the record


def pressure_excursion(time_s, pressure_mpa, registered_mpa: float, tolerance_fraction: float, *,
                       window_s: float = PRESSURE_WINDOW_S, min_duration_s: float = PRESSURE_MIN_DURATION_S):
    """(index where the current excursion began, rolling median at the end) when the rolling median of the
    pressure is out of registered * (1 +- tolerance) up to the end of the record for ``min_duration_s``; else
    None. The one drift rule (the monitoring alert and the solid-state pages use it)."""
    if not registered_mpa or registered_mpa <= 0:
        return None
    t = np.asarray(time_s, dtype=float)
    p = np.asarray(pressure_mpa, dtype=float)
    if len(t) < 3:
        return None
    dt = float(np.median(np.diff(t)))
    n = max(int(round(window_s / max(dt, 1e-9))), 1)
    median = pd.Series(p).rolling(n, min_periods=max(n // 2, 1), center=True).median().to_numpy()
    out = np.abs(median / registered_mpa - 1.0) > tolerance_fraction
    if not out[-1]:
        return None
    good = np.flatnonzero(~out)
    start = int(good[-1] + 1) if len(good) else 0
    if t[-1] - t[start] < min_duration_s:
        return None
    return start, float(median[-1])


def _pressure_drift(frame, facts, limit_percent) -> Condition | None:
    p = facts.pressure
    if p is None or not len(p) or not facts.registered_pressure_mpa:
        return None
    t = p["time_s"].to_numpy(dtype=float)
    found = pressure_excursion(t, p["pressure_mpa"].to_numpy(dtype=float), facts.registered_pressure_mpa,
                               limit_percent / 100.0)
    if found is None:
        return None
    start, latest = found
    registered = facts.registered_pressure_mpa
    deviation = 100.0 * (latest / registered - 1.0)
    return Condition(PRESSURE_DRIFT, None, (
        f"stack pressure {latest:.1f} MPa is {deviation:+.0f} % from the registered {registered:g} MPa since "
        f"t = {t[start] / 3600:.1f} h (limit {limit_percent:g} %)"),
        {"threshold_percent": limit_percent, "registered_mpa": registered, "pressure_mpa": _num(latest),
         "deviation_percent": _num(deviation), "since_s": _num(t[start])})
