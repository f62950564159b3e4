"""Plausibility checks on canonical records (any cycler): findings a person should look at before trusting the numbers.

Pure (numpy/pandas only, no Django). Every finding names its code, the cycles and the record range it is
about, so the web page can point at the data. Checks never change the data; they only report.

Cycle identity (one rule, used by `resolve_cycles`):
- A derived cycle starts where the first-half direction (charge for a cathode-first cell) starts again
  after the second half, or where the channel restarted (record number or test time starting over).
  Rests belong to the cycle before them.
- LAND's Cycle-Index is kept for display. Analysis uses LAND's index unless one LAND index covers more
  than one derived charge/discharge pair (the index did not advance, or it restarted after a channel
  restart); then the derived cycles are used, numbered from LAND's first index, and the file carries a
  `cycle_index_not_advancing` (or `channel_restarted`) finding saying so.
- A file whose first charge/discharge disagrees with the cell's registered first half (a discharge-first
  file on a charge-first cell) is judged with the file's own first half when LAND's index is
  self-consistent under it: LAND's index is kept and the file gets ONE `first_half_mismatch` finding.
- Each finding code gives at most one finding per file; repeated ranges are grouped into it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .common import CellSpec, detect_first_half
from .cycles import channel_restarts, format_runs, record_kind_codes
from .cycles import derive_cycles as _derive_cycles
from .differential import DqdvParams, dqdv_all
from .summary import summarize_cycles

WARNING, INFO = "warning", "info"
_CHARGE, _DISCHARGE = 1, 2
_NAMES = {_CHARGE: "charge", _DISCHARGE: "discharge"}


@dataclass
class Finding:
    """One thing worth a look in a data file: a stable code, plain words, and where it is."""

    code: str
    severity: str
    message: str
    first_record: int | None = None
    last_record: int | None = None
    cycles: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


# --- formatting and ranges -------------------------------------------------------------------------


def _fmt_records(a: int, b: int) -> str:
    return f"record {a:,}" if a == b else f"records {a:,}–{b:,}"


def _fmt_cycles(cycles: list[int]) -> str:
    if not cycles:
        return "no cycle"
    if len(cycles) == 1:
        return f"cycle {cycles[0]}"
    if cycles[-1] - cycles[0] == len(cycles) - 1:
        return f"cycles {cycles[0]}–{cycles[-1]}"
    shown = ", ".join(str(c) for c in cycles[:8])
    return f"cycles {shown}{', ...' if len(cycles) > 8 else ''}"


def _runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end positions (inclusive) of runs of equal non-zero labels."""
    labels = np.asarray(labels)
    if labels.dtype == bool:
        labels = labels.astype(np.int8)
    if len(labels) == 0:
        return np.array([], np.int64), np.array([], np.int64)
    change = np.concatenate([[True], labels[1:] != labels[:-1]])
    starts = np.flatnonzero(change & (labels != 0))
    run_end = np.concatenate([np.flatnonzero(change)[1:], [len(labels)]]) - 1
    ends = run_end[np.searchsorted(np.flatnonzero(change), starts)]
    return starts, ends


def _unique_cycles(cycle: np.ndarray, lo: int, hi: int) -> list[int]:
    return [int(c) for c in pd.unique(cycle[lo:hi + 1])]


def _fmt_cycle_ranges(cycles: list[int], shown: int = 12) -> str:
    """'cycles 3–40, 42, 50–502': runs of consecutive cycles, at most `shown` runs spelled out."""
    if not cycles:
        return "no cycle"
    if len(set(cycles)) == 1:
        return f"cycle {cycles[0]}"
    return f"cycles {format_runs(cycles, shown=shown)}"


def _grouped(code: str, severity: str, spans: list[tuple[int, int, list[int], str]], what: str) -> list[Finding]:
    """ONE finding per kind: a single range keeps its own message; several ranges become one line saying
    how many, which cycles (as ranges) and the record span, after the first range's details. A 502-cycle
    file that trips a check on every cycle gets one line, not hundreds."""
    if not spans:
        return []
    if len(spans) == 1:
        first, last, cyc, msg = spans[0]
        return [Finding(code, severity, msg, first, last, cyc)]
    cyc = sorted({c for *_, cl, _ in spans for c in cl})
    first, last = spans[0][0], spans[-1][1]
    msg = (f"{spans[0][3]} The same in {len(spans)} {what} in all, {_fmt_cycle_ranges(cyc)} "
           f"({_fmt_records(first, last)}).")
    return [Finding(code, severity, msg, first, last, cyc)]


def _range_findings(code: str, severity: str, starts: np.ndarray, ends: np.ndarray, record: np.ndarray,
                    cycle: np.ndarray, describe: Callable[[int, int, str, str], str], what: str) -> list[Finding]:
    """Ranges of offending records (positions starts..ends) grouped into one finding (see _grouped)."""
    spans = []
    for s, e in zip(starts, ends, strict=True):
        cyc = _unique_cycles(cycle, int(s), int(e))
        recs = _fmt_records(int(record[s]), int(record[e]))
        spans.append((int(record[s]), int(record[e]), cyc, describe(int(s), int(e), recs, _fmt_cycles(cyc))))
    return _grouped(code, severity, spans, what)


_kind_codes = record_kind_codes  # the one direction rule (cycles.kind_codes)


# --- sanity checks ---------------------------------------------------------------------------------

# How far past the registered window a voltage may go before it is flagged (see sanity_checks).
VOLTAGE_TOLERANCE_V = 0.030


def voltage_tolerances(window_v: tuple[float, float], tolerance_v: float | None = None,
                       cutoff_v: tuple[float, float] | None = None) -> tuple[float, float]:
    """(below, above) tolerance in V: max(tolerance_v or 30 mV, the cut-off's distance beyond the window)."""
    tol = VOLTAGE_TOLERANCE_V if tolerance_v is None else float(tolerance_v)
    if cutoff_v is None:
        return tol, tol
    return max(tol, float(window_v[0]) - float(cutoff_v[0])), max(tol, float(cutoff_v[1]) - float(window_v[1]))



def sanity_checks(records: pd.DataFrame, cycles: pd.DataFrame | None = None, *,
                  theoretical_mah_g: float | None = None, active_mass_mg: float | None = None,
                  voltage_window_v: tuple[float, float] | None = None, formation_cycles: int = 2,
                  first_half: str | None = None, capacity_margin: float = 0.10,
                  ce_range_percent: tuple[float, float] = (50.0, 100.5), current_noise_ma: float | None = None,
                  voltage_tolerance_v: float | None = None, cutoff_voltage_v: tuple[float, float] | None = None,
                  gap_factor: float = 10.0, min_gap_s: float = 1800.0,
                  gap_window: int = 25, time_tolerance_s: float = 1.0) -> list[Finding]:
    """Findings on capacity, efficiency, current sign, mass, voltage window and test time.

    cycles: summarize_cycles' table for these records (computed here with the given mass when None).
    - capacity_above_theoretical: a half cycle's specific capacity (from its mAh and active_mass_mg) above
      theoretical_mah_g x (1 + capacity_margin). The first half of the formation cycles is exempt: the
      first charge of a cathode legitimately includes irreversible capacity (the coated study cell
      charges 188.2 mAh/g against 160 mAh/g theoretical).
    - ce_out_of_range: CE outside ce_range_percent in complete cycles after formation_cycles.
    - current_sign_vs_state: charge records with current below -noise, discharge records above +noise
      (noise: current_noise_ma, default 1 % of the median |current| of charge/discharge records).
    - mass_missing (info): no active mass, so per-gram values stay empty (never a default mass).
    - voltage_outside_window: voltage beyond voltage_window_v by more than the tolerance: on each side
      max(voltage_tolerance_v (default VOLTAGE_TOLERANCE_V = 30 mV), how far the cycler's programmed
      cut-off cutoff_voltage_v lies beyond the window). The cycler stops a step only after the cut-off
      is crossed, so the last record of a step sits a few mV past it; the study's cells (window
      1.88–3.78 V on the In-Li scale) are cut off at 3.80 V, 20 mV above, and must not be flagged.
      Records without a voltage (NaN) are never judged.
    - time_gap: test time jumps more than max(gap_factor x local logging interval, min_gap_s) beyond the
      latest time seen; the local interval is the larger of the rolling median (gap_window records) of
      the positive record-to-record steps and the median step within the same LAND step.
    - time_backwards: records whose test time is earlier than one already seen (by > time_tolerance_s).
    Ranges of consecutive offending records (or cycles) are grouped: ONE finding per code, with the
    first range's details, how many ranges there are and their cycles as ranges.
    """
    out: list[Finding] = []
    n = len(records)
    if n == 0:
        return out
    record = records["record"].to_numpy()
    cycle = records["cycle"].to_numpy()
    if cycles is None:
        cycles = summarize_cycles(records, CellSpec(active_mass_mg=active_mass_mg, first_half=first_half))
    first_half = first_half or cycles.attrs.get("first_half") or detect_first_half(records) or "charge"

    if not active_mass_mg or active_mass_mg <= 0:
        out.append(Finding("mass_missing", INFO, "The cell has no active mass: per-gram values (mAh/g, Wh/kg, "
                           "C-rates) stay empty until the mass is entered; no default mass is assumed.",
                           int(record[0]), int(record[-1]), []))
    elif theoretical_mah_g and len(cycles):
        out += _capacity_findings(cycles, theoretical_mah_g, active_mass_mg, formation_cycles, first_half,
                                  capacity_margin)
    if len(cycles):
        out += _ce_findings(cycles, formation_cycles, ce_range_percent)

    kind = _kind_codes(records)
    cur = records["current_ma"].to_numpy(dtype=float)
    if current_noise_ma is None:
        moving = cur[kind > 0]
        np.abs(moving, out=moving)
        current_noise_ma = 0.01 * float(np.median(moving)) if len(moving) else 0.0
        del moving
    # One int8 label per record (the two conditions exclude each other), not int64 temporaries of the file.
    wrong = np.zeros(n, dtype=np.int8)
    wrong[(kind == _CHARGE) & (cur < -current_noise_ma)] = _CHARGE
    wrong[(kind == _DISCHARGE) & (cur > current_noise_ma)] = _DISCHARGE
    s, e = _runs(wrong)

    def sign_msg(a, b, recs, cyc):
        name = _NAMES[int(wrong[a])]
        seg = cur[a:b + 1]
        worst = seg.min() if name == "charge" else seg.max()
        return (f"Current has the wrong sign for a {name} step in {recs} ({cyc}): down to {worst:.4g} mA "
                f"while LAND says {name} (positive is charge). Check the channel wiring or the step states.")

    out += _range_findings("current_sign_vs_state", WARNING, s, e, record, cycle, sign_msg,
                           "ranges with a wrong current sign")

    if voltage_window_v is not None:
        lo, hi = float(voltage_window_v[0]), float(voltage_window_v[1])
        tol_lo, tol_hi = voltage_tolerances(voltage_window_v, voltage_tolerance_v, cutoff_voltage_v)
        volt = records["voltage_v"].to_numpy(dtype=float)
        side = np.zeros(n, dtype=np.int8)
        side[volt < lo - tol_lo] = 2
        side[volt > hi + tol_hi] = 1
        s, e = _runs(side)

        def volt_msg(a, b, recs, cyc):
            seg = volt[a:b + 1]
            if side[a] == 1:
                return (f"Voltage above the cell's window ({lo:.3g}–{hi:.3g} V, tolerance {tol_hi * 1000:.0f} mV "
                        f"for the cycler's cut-off overshoot) in {recs} ({cyc}): up to {np.nanmax(seg):.4f} V.")
            return (f"Voltage below the cell's window ({lo:.3g}–{hi:.3g} V, tolerance {tol_lo * 1000:.0f} mV "
                    f"for the cycler's cut-off overshoot) in {recs} ({cyc}): down to {np.nanmin(seg):.4f} V.")

        out += _range_findings("voltage_outside_window", WARNING, s, e, record, cycle, volt_msg,
                               "ranges outside the voltage window")

    out += _time_findings(records, record, cycle, gap_factor, min_gap_s, gap_window, time_tolerance_s)
    return out


def _cycle_ranges(code, cycles_table, mask_labels, describe, what) -> list[Finding]:
    cyc = cycles_table["cycle"].to_numpy()
    first = cycles_table["first_record"].to_numpy()
    last = cycles_table["last_record"].to_numpy()
    s, e = _runs(mask_labels)
    spans = []
    for a, b in zip(s, e, strict=True):
        cl = [int(c) for c in cyc[a:b + 1]]
        recs = _fmt_records(int(first[a]), int(last[b]))
        spans.append((int(first[a]), int(last[b]), cl, describe(int(a), int(b), recs, _fmt_cycles(cl))))
    return _grouped(code, WARNING, spans, what)


def _capacity_findings(cycles, theoretical_mah_g, active_mass_mg, formation_cycles, first_half,
                       margin) -> list[Finding]:
    mass_g = active_mass_mg / 1000.0
    cyc = cycles["cycle"].to_numpy()
    spec = {h: cycles[f"{h}_mah"].to_numpy(dtype=float) / mass_g for h in ("charge", "discharge")}
    limit = theoretical_mah_g * (1.0 + margin)
    exempt = {first_half: cyc <= formation_cycles}
    over = {h: np.isfinite(v) & (v > limit) & ~exempt.get(h, np.zeros(len(cyc), bool)) for h, v in spec.items()}
    worst = np.fmax(np.where(over["charge"], spec["charge"], np.nan),
                    np.where(over["discharge"], spec["discharge"], np.nan))
    bad = over["charge"] | over["discharge"]

    worst_half = np.where(worst == np.where(over["discharge"], spec["discharge"], np.nan), "discharge", "charge")

    def msg(a, b, recs, cl):
        k = a + int(np.nanargmax(worst[a:b + 1]))
        pct = (worst[k] / theoretical_mah_g - 1.0) * 100.0
        return (f"Specific capacity above the registered theoretical {theoretical_mah_g:g} mAh/g in {cl} "
                f"({recs}): up to {worst[k]:.1f} mAh/g ({worst_half[k]}, {pct:.0f} % above). Check the active "
                f"mass ({active_mass_mg:g} mg) and the theoretical capacity.")

    return _cycle_ranges("capacity_above_theoretical", cycles, bad, msg,
                         "cycle ranges above the theoretical capacity")


def _ce_findings(cycles, formation_cycles, ce_range) -> list[Finding]:
    ce = cycles["ce_percent"].to_numpy(dtype=float)
    partial = cycles["is_partial"].to_numpy(dtype=bool) if "is_partial" in cycles else np.zeros(len(ce), bool)
    judged = (cycles["cycle"].to_numpy() > formation_cycles) & ~partial & np.isfinite(ce)
    lo, hi = ce_range
    side = np.where(judged & (ce > hi), 1, np.where(judged & (ce < lo), 2, 0))
    convention = cycles.attrs.get("ce_convention") or "discharge/charge"

    def msg(a, b, recs, cl):
        seg = ce[a:b + 1]
        if side[a] == 1:
            return (f"Coulombic efficiency above {hi:g} % in {cl} ({recs}): up to {seg.max():.1f} % "
                    f"({convention}). More out than in: check the step states and the capacity counter.")
        return (f"Coulombic efficiency below {lo:g} % after formation in {cl} ({recs}): down to "
                f"{seg.min():.1f} % ({convention}).")

    return _cycle_ranges("ce_out_of_range", cycles, side, msg, "cycle ranges with CE out of range")


def _time_findings(records, record, cycle, gap_factor, min_gap_s, gap_window, tol) -> list[Finding]:
    t = records["test_time_s"].to_numpy(dtype=float)
    if len(t) < 2:
        return []
    # Whole-file float arrays are made in place where they can be (the page faults of temporaries cost time).
    pos = np.diff(t)
    pos[~(pos > 0)] = np.nan
    local = pd.Series(pos, copy=False).rolling(gap_window, center=True, min_periods=1).median().to_numpy()
    # LAND's logging interval is set per step: a sparsely logged rest next to dense CC records is no pause.
    step = _step_ids(records)
    same = step[1:] == step[:-1]
    pos[~same] = np.nan
    del same
    step_median = pd.Series(pos, copy=False).groupby(step[1:]).transform("median").to_numpy()
    del pos, step
    local = np.fmax(local, step_median)  # a new array: the rolling median's is read-only
    del step_median
    threshold = local * gap_factor
    np.fmax(threshold, min_gap_s, out=threshold)
    seen = np.empty(len(t))
    seen[0] = -np.inf
    np.fmax.accumulate(t[:-1], out=seen[1:])
    # Measured from the latest time seen so far: catching up after a backward step is not a gap.
    ahead = np.fmax(seen[1:], t[:-1])
    np.subtract(t[1:], ahead, out=ahead)
    gap = np.flatnonzero(ahead > threshold)  # gap between positions i and i + 1
    out = []

    def gap_msg(a, b, recs, cyc):
        return (f"Test time jumps {_fmt_duration(ahead[a])} between {recs.replace('–', ' and ')} ({cyc}) "
                f"while the logging interval around it is ~{_fmt_duration(local[a])}: a pause or power cut. "
                f"Capacity and time-based figures across it may be off.")

    out += _range_findings("time_gap", WARNING, gap, gap + 1, record, cycle, gap_msg,
                           "time gaps")
    behind = t < seen - tol
    s, e = _runs(behind)

    def back_msg(a, b, recs, cyc):
        return (f"Test time runs backwards in {recs} ({cyc}): they are up to "
                f"{_fmt_duration(float(np.max(seen[a:b + 1] - t[a:b + 1])))} earlier than a record before them.")

    out += _range_findings("time_backwards", WARNING, s, e, record, cycle, back_msg,
                           "ranges of backward time")
    return out


def _step_ids(records: pd.DataFrame) -> np.ndarray:
    """One id per step: LAND's step index where it changes, else runs of equal step kind."""
    key = records["step"].to_numpy() if "step" in records else _kind_codes(records)
    return np.cumsum(np.concatenate([[True], key[1:] != key[:-1]]), dtype=np.int32 if len(key) < 2**31 else np.int64)


def _fmt_duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.3g} s"


# --- cycle identity --------------------------------------------------------------------------------


def _restarts(records: pd.DataFrame, restart_time_s: float = 60.0) -> np.ndarray:
    """True where the channel started over: record number not increasing, or test time back near zero."""
    return channel_restarts(records["record"].to_numpy(), records["test_time_s"].to_numpy(dtype=float),
                            restart_time_s)


def derive_cycles(records: pd.DataFrame, first_half: str | None = None) -> np.ndarray:
    """Cycle numbers (from 1) from the step kinds (or the current's sign where the kind is unknown).

    A cycle starts where the first-half direction starts again after the second half, or where the
    channel restarted. Rests belong to the cycle before them; leading rests to cycle 1. The rule itself
    lives in cycling.analysis.cycles, which the parser uses too.
    """
    if len(records) == 0:
        return np.array([], dtype=np.int64)
    return _derive_cycles(_kind_codes(records), _restarts(records), first_half)


class CycleIdentity:
    """What the cycle rule works from, worked out once per file: the direction codes, the channel restarts,
    the instrument's index, and the derived cycles and their consistency with that index under each first
    half, each made once when first asked for. The checks, `resolve_cycles` and `cycle_rule_first_half`
    share one (analyse makes it), so the rule is not judged again for each of them."""

    def __init__(self, records: pd.DataFrame):
        self.records = records
        self.kind = _kind_codes(records)
        self.restart = _restarts(records) if len(records) else np.zeros(0, dtype=bool)
        self.land = records["cycle"].to_numpy()
        moving = np.flatnonzero(self.kind > 0)
        self.own = None if len(moving) == 0 else _NAMES[int(self.kind[moving[0]])]
        self._derived: dict[str | None, np.ndarray] = {}
        self._consistent: dict[str | None, bool] = {}

    def _key(self, first_half: str | None) -> str | None:
        return first_half or self.own  # None follows the file's first charge/discharge: the same cycles

    def derived(self, first_half: str | None) -> np.ndarray:
        key = self._key(first_half)
        if key not in self._derived:
            self._derived[key] = (_derive_cycles(self.kind, self.restart, key) if len(self.kind)
                                  else np.array([], dtype=np.int64))
        return self._derived[key]

    def frame(self, first_half: str | None) -> pd.DataFrame:
        """The records' instrument index, derived cycle, part of the file and position (the rare paths only)."""
        return pd.DataFrame({"land": self.land, "derived": self.derived(first_half),
                             "seg": np.cumsum(self.restart), "pos": np.arange(len(self.kind))})

    def consistent(self, first_half: str | None) -> bool:
        """True when no instrument index covers more than one derived charge/discharge pair (across the
        whole file: an index that starts over after a channel restart is not usable as the cycle number)."""
        key = self._key(first_half)
        if key not in self._consistent:
            moving = self.kind > 0
            per_land = pd.DataFrame({"land": self.land[moving], "derived": self.derived(key)[moving]},
                                    copy=False).groupby("land", sort=False)["derived"]
            self._consistent[key] = not (per_land.min() != per_land.max()).any()
        return self._consistent[key]


def cycle_identity(records: pd.DataFrame) -> CycleIdentity:
    """The shared inputs of the cycle rule for these records (pass it to the checks and resolve_cycles)."""
    return CycleIdentity(records)


def file_first_half(records: pd.DataFrame) -> str | None:
    """The direction the file's first charge/discharge record goes ('charge', 'discharge' or None)."""
    kind = _kind_codes(records)
    moving = np.flatnonzero(kind > 0)
    return None if len(moving) == 0 else _NAMES[int(kind[moving[0]])]


def _cycle_rule(ident: CycleIdentity, first_half: str | None) -> tuple[str | None, str | None]:
    """(first half the cycle rule uses, the file's own first half when it disagrees with the registration).

    Without a registration the rule is the detected first half, or the other one when only that keeps
    LAND's index self-consistent. A discharge-first file on a cell registered charge-first makes the
    registration's rule split every LAND cycle in two. When LAND's index is self-consistent under the file's own first half, the file's
    first half is used for cycle identity (LAND's index is kept) and the disagreement is ONE finding.
    """
    own = ident.own
    if first_half is None:
        # No registration to follow: the instrument's index stands if it is self-consistent under either
        # first half (e.g. a lone discharge before charge-first cycles, as Neware numbers it).
        if not ident.consistent(None):
            for half in ("charge", "discharge"):
                if ident.consistent(half):
                    return half, None
        return None, None
    if own is None or own == first_half:
        return first_half, None
    if ident.consistent(first_half):
        return first_half, own
    return (own if ident.consistent(own) else first_half), own


def cycle_rule_first_half(records: pd.DataFrame, first_half: str | None = None, *,
                          identity: CycleIdentity | None = None) -> str | None:
    """The first half the cycle rule uses for these records (None: detected from the first record)."""
    if not len(records):
        return first_half
    return _cycle_rule(identity or CycleIdentity(records), first_half)[0]


def resolve_cycles(records: pd.DataFrame, first_half: str | None = None, *,
                   identity: CycleIdentity | None = None) -> tuple[np.ndarray, str]:
    """The cycle numbers analysis should use and where they come from ('land' or 'derived').

    LAND's index unless one LAND index covers more than one derived charge/discharge pair; then the
    derived cycles, numbered from LAND's first index. A registered first half the file disagrees with
    does not by itself make LAND's index wrong (see _cycle_rule).
    """
    land = records["cycle"].to_numpy()
    if len(records) == 0:
        return land.astype(np.int64), "land"
    ident = identity or CycleIdentity(records)
    rule, _ = _cycle_rule(ident, first_half)
    if not ident.consistent(rule):
        derived = ident.derived(rule)
        return (derived - derived[0] + int(land[0])).astype(np.int64), "derived"
    return land.astype(np.int64), "land"


def _first_half_finding(kind: np.ndarray, record: np.ndarray, registered: str, own: str,
                        land_kept: bool, instrument: str = "LAND") -> Finding:
    ce = "discharge/charge" if registered == "charge" else "charge/discharge"
    index = (f"{instrument}'s cycle index is self-consistent and is kept" if land_kept else
             f"{instrument}'s cycle index is not usable either way, so cycles are derived from the step states")
    return Finding(
        "first_half_mismatch", WARNING,
        f"The cell is registered {registered}-first, but this file starts with a {own} "
        f"(record {int(record[np.flatnonzero(kind > 0)[0]]):,}). {index}; capacities and CE "
        f"use the registration's rule ({registered} is the "
        f"first half of a cycle, CE = {ce} of the same cycle). If the cell really starts with a {own} "
        f"(e.g. an anode-first or pre-charged cell), change 'First half-cycle' on the cell's build sheet "
        f"to '{own}' or 'auto': the cell's files are then recomputed.",
        int(record[0]), int(record[-1]), [])


def cycle_identity_checks(records: pd.DataFrame, first_half: str | None = None, *, instrument: str = "LAND",
                          identity: CycleIdentity | None = None) -> list[Finding]:
    """Compare the instrument's cycle index (LAND's Cycle-Index) with the derived cycles; flag capacity
    counters and channel restarts. ``instrument`` names the cycler the export came from in the messages.

    - first_half_mismatch: the registered first half differs from the file's first charge/discharge
      record (one finding per file, naming the rule used and how to change the registration);
    - cycle_index_not_advancing: one LAND index covers several derived charge/discharge pairs;
    - cycle_index_mismatch: LAND's index changes inside one derived pair (mid charge/discharge);
    - capacity_counter_not_reset: at a change of direction the running capacity starts from (at least
      half of) where the previous direction ended instead of from zero, so half-cycle capacities add up;
    - channel_restarted: record numbers or test time start over inside the file.
    Comparisons are made within each part of a restarted file; each code gives at most one finding.
    identity: the file's CycleIdentity when the caller has one (analyse shares it with resolve_cycles).
    """
    out: list[Finding] = []
    if len(records) == 0:
        return out
    record = records["record"].to_numpy()
    land = records["cycle"].to_numpy()
    ident = identity or CycleIdentity(records)
    rule, own = _cycle_rule(ident, first_half)
    kind, restart, derived = ident.kind, ident.restart, ident.derived(rule)
    consistent = ident.consistent(rule)
    if own is not None:
        out.append(_first_half_finding(kind, record, first_half, own, consistent, instrument))
    moving_at = np.flatnonzero(kind > 0)
    # The groupbys below name the offending indices; a sane file has none, which is settled without them:
    # no index covers two pairs when the index is consistent, and the derived cycles run in order, so each
    # pair's instrument indices are one slice of the moving records.
    frame = moving = None
    if not consistent:
        frame = ident.frame(rule)
        moving = frame[kind > 0]
        g = moving.groupby(["seg", "land"], sort=False).agg(n=("derived", "nunique"), d0=("derived", "min"),
                                                             d1=("derived", "max"))
        bounds = frame.groupby(["seg", "land"], sort=False)["pos"].agg(["min", "max"])
        bad = g[g["n"] > 1].join(bounds)
        spans = []
        for (_, lc), row in bad.iterrows():  # one row per offending LAND index (a few at most in a sane file)
            a, b = int(row["min"]), int(row["max"])
            spans.append((int(record[a]), int(record[b]), [int(lc)],
                          f"{instrument}'s cycle index {lc} covers {row['n']} charge/discharge pairs "
                          f"({_fmt_records(int(record[a]), int(record[b]))}): the index did not advance. The analysis "
                          f"of this file uses cycles derived from the step states instead (derived cycles "
                          f"{row['d0']}–{row['d1']} here); {instrument}'s index is kept for display."))
        out += _grouped("cycle_index_not_advancing", WARNING, spans,
                        f"{instrument} cycle indices covering several pairs")

    split_any = False
    if len(moving_at):
        d_m, l_m = derived[moving_at], land[moving_at]
        pair_at = np.flatnonzero(np.concatenate([[True], d_m[1:] != d_m[:-1]]))
        split_any = bool((np.minimum.reduceat(l_m, pair_at) != np.maximum.reduceat(l_m, pair_at)).any())
        del d_m, l_m, pair_at
    if split_any:
        if frame is None:
            frame = ident.frame(rule)
            moving = frame[kind > 0]
        split = moving.groupby("derived", sort=False).agg(n=("land", "nunique"))
        split = split[split["n"] > 1]
        dbounds = frame.groupby("derived", sort=False)["pos"].agg(["min", "max"])
        spans = []
        for dc in split.index:
            a, b = dbounds.loc[dc]
            lands = [int(c) for c in pd.unique(moving.loc[moving["derived"] == dc, "land"])]
            spans.append((int(record[a]), int(record[b]), lands,
                          f"{instrument}'s cycle index changes inside one charge/discharge pair "
                          f"({_fmt_records(int(record[a]), int(record[b]))}, {instrument} {_fmt_cycles(lands)}): "
                          f"{instrument}'s cycles there are not full cycles, so their CE and capacities compare "
                          f"different halves."))
        out += _grouped("cycle_index_mismatch", WARNING, spans, f"pairs split across {instrument} cycle indices")

    out += _counter_findings(records, kind, record, land)

    spans = []
    for i in np.flatnonzero(restart):
        spans.append((int(record[i - 1]), int(record[i]), [int(c) for c in pd.unique(land[i - 1:i + 1])],
                      f"The channel restarted at {_fmt_records(int(record[i]), int(record[i]))} (after record "
                      f"{int(record[i - 1]):,}): record numbers or test time start over. Cycles after it are "
                      f"counted on from the part before."))
    out += _grouped("channel_restarted", WARNING, spans, "restarts")
    return out


def _counter_findings(records, kind, record, land) -> list[Finding]:
    pos = np.flatnonzero(kind > 0)
    if len(pos) < 2:
        return []
    cap = records["capacity_mah"].to_numpy(dtype=float)[pos]
    k = kind[pos]
    start = np.concatenate([[True], k[1:] != k[:-1]])
    run_starts = np.flatnonzero(start)
    run_ends = np.concatenate([run_starts[1:], [len(pos)]]) - 1
    first_cap = cap[run_starts[1:]]
    prev_last = cap[run_ends[:-1]]
    not_reset = (prev_last > 0) & np.isfinite(first_cap) & (first_cap >= 0.5 * prev_last)
    bad = np.flatnonzero(not_reset) + 1  # run index
    labels = np.zeros(len(run_starts), dtype=np.int64)
    labels[bad] = 1
    starts, ends = pos[run_starts[bad]], pos[run_ends[bad]]

    def msg(a, b, recs, cyc):
        r = int(np.searchsorted(pos, a))
        j = int(np.searchsorted(run_starts, r))
        return (f"The capacity counter did not restart when the direction changed to {_NAMES[int(kind[a])]} "
                f"in {recs} ({cyc}): it starts at {first_cap[j - 1]:.4g} mAh, where the previous half ended at "
                f"{prev_last[j - 1]:.4g} mAh. Half-cycle capacities there include the previous half.")

    return _range_findings("capacity_counter_not_reset", WARNING, starts, ends, record, land, msg,
                           "half cycles with a counter not reset")


# --- dQ/dV peak tracking ---------------------------------------------------------------------------


PEAK_TRACK_COLUMNS = ["peak_id", "cycle", "half", "rank", "voltage_v", "height_mah_v", "area_mah",
                      "prominence_mah_v", "width_v"]


def peak_tracking(records: pd.DataFrame, *, curves=None, params: DqdvParams | None = None, prominence_fraction: float = 0.05, min_separation_mv: float = 30.0,
                  min_height_fraction: float = 0.05, max_peaks: int = 3, max_jump_v: float = 0.03,
                  cycles=None) -> pd.DataFrame:
    """Main dQ/dV peaks per cycle and half (analysis.dqdv_all + dqdv_peak_table), linked into tracks.

    The `max_peaks` highest peaks of each half cycle are kept. A peak joins the track of its half whose
    last position is nearest, if within max_jump_v; otherwise it starts a new track. Tracks are named
    '<half>-<n>', n counting from 1 in order of first appearance (then by voltage). One row per peak with
    the columns of PEAK_TRACK_COLUMNS, sorted by cycle, half, voltage: ready for CSV download.
    """
    from .peaks import dqdv_peak_table  # scipy.signal: only the peak tracking needs it, not the pipeline

    if curves is None:
        curves = dqdv_all(records, params, cycles=cycles)
    table = dqdv_peak_table(curves, prominence_fraction=prominence_fraction, min_separation_mv=min_separation_mv,
                            min_height_fraction=min_height_fraction)
    table = table[table["rank"] <= max_peaks].sort_values(["half", "cycle", "voltage_v"], kind="stable")
    table = table.reset_index(drop=True)
    track = np.full(len(table), -1, dtype=np.int64)
    names: list[str] = [""] * len(table)
    for half, sub in table.groupby("half", sort=True):
        last_v: list[float] = []
        for _, grp in sub.groupby("cycle", sort=True):  # loop over cycles (a few peaks each), not records
            idx = grp.index.to_numpy()
            v = grp["voltage_v"].to_numpy()
            free = np.ones(len(last_v), dtype=bool)
            order = np.argsort(-grp["height_mah_v"].to_numpy(), kind="stable")
            for j in order:
                dist = np.abs(np.asarray(last_v) - v[j]) if last_v else np.array([])
                dist = np.where(free, dist, np.inf) if len(dist) else dist
                if len(dist) and dist.min() <= max_jump_v:
                    t = int(np.argmin(dist))
                    free[t] = False
                    last_v[t] = float(v[j])
                else:
                    last_v.append(float(v[j]))
                    free = np.append(free, False)
                    t = len(last_v) - 1
                track[idx[j]] = t
                names[idx[j]] = f"{half}-{t + 1}"
    table.insert(0, "peak_id", names)
    out = table.sort_values(["cycle", "half", "voltage_v"], kind="stable").reset_index(drop=True)
    return out[PEAK_TRACK_COLUMNS]


def peak_drift(peaks: pd.DataFrame, *, min_cycles: int = 3) -> pd.DataFrame:
    """Per tracked peak (peak_tracking's table): where it starts and ends, and its drift in mV/cycle
    (least-squares slope of voltage vs cycle). Tracks seen in fewer than min_cycles cycles are left out."""
    cols = ["peak_id", "half", "first_cycle", "last_cycle", "n_cycles", "first_voltage_v", "last_voltage_v",
            "mean_height_mah_v", "drift_mv_per_cycle"]
    if len(peaks) == 0:
        return pd.DataFrame({c: [] for c in cols})
    p = peaks.sort_values(["peak_id", "cycle"], kind="stable").assign(
        x=lambda f: f["cycle"].astype(float), xx=lambda f: f["cycle"].astype(float) ** 2,
        xy=lambda f: f["cycle"].astype(float) * f["voltage_v"])
    g = p.groupby("peak_id", sort=False)
    agg = g.agg(half=("half", "first"), first_cycle=("cycle", "min"), last_cycle=("cycle", "max"),
                n_cycles=("cycle", "nunique"), first_voltage_v=("voltage_v", "first"),
                last_voltage_v=("voltage_v", "last"), mean_height_mah_v=("height_mah_v", "mean"),
                n=("x", "size"), sx=("x", "sum"), sy=("voltage_v", "sum"), sxx=("xx", "sum"), sxy=("xy", "sum"))
    vxx = agg["sxx"] - agg["sx"] ** 2 / agg["n"]
    slope = (agg["sxy"] - agg["sx"] * agg["sy"] / agg["n"]) / vxx.where(vxx > 0)
    agg["drift_mv_per_cycle"] = slope * 1000.0
    agg = agg[agg["n_cycles"] >= min_cycles].reset_index()
    return agg.sort_values(["half", "first_cycle", "first_voltage_v"], kind="stable").reset_index(drop=True)[cols]


__all__ = [
    "VOLTAGE_TOLERANCE_V",
    "Finding",
    "PEAK_TRACK_COLUMNS",
    "CycleIdentity",
    "cycle_identity",
    "cycle_identity_checks",
    "derive_cycles",
    "file_first_half",
    "peak_drift",
    "peak_tracking",
    "resolve_cycles",
    "sanity_checks",
    "voltage_tolerances",
]
