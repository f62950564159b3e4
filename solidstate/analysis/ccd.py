"""Critical current density (CCD) of a symmetric Li | SE | Li cell from its galvanostatic cycling record.

The current density is stepped up (plating/stripping half-cycles at each level); |V| is the cell's polarisation
(i * A * R_cell plus nucleation). A short shows as a sudden collapse of the polarisation that persists: the first
record whose |V| falls below ``COLLAPSE_FRACTION`` of the expected polarisation (the previous half-cycle's
mid-half |V| scaled by the current-density ratio) and from which the next ``MIN_PERSIST_RECORDS`` active records
(at least ``MIN_PERSIST_S`` seconds) and the median of the rest of the run stay collapsed. One odd record is not a
short. CCD is the current density of the step in which the short occurs; "not reached" when none does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .conductivity import AnalysisError

CCD_DEFINITION = ("CCD = the current density of the step in which the cell shorts (the lowest current density at "
                  "which it shorts); a short = the polarisation collapses below "
                  "30 % of its expected value and stays there (not a one-record glitch); "
                  "overpotential = |V| at mid-half-cycle, mean of the step's half-cycles")
COLLAPSE_FRACTION = 0.3
MIN_PERSIST_RECORDS = 5
MIN_PERSIST_S = 10.0
LEVEL_TOLERANCE = 0.02  # relative change of current density that starts a new step
MAX_SYMMETRIC_POLARISATION_V = 1.0
ACTIVE_FRACTION = 1e-3  # of the largest |current|: below it a record is a rest


@dataclass
class CcdStep:
    current_density_ma_cm2: float
    overpotential_mv: float | None
    asr_ohm_cm2: float | None
    n_half_cycles: int
    start_time_s: float
    shorted: bool = False


@dataclass
class CcdResult:
    steps: list[CcdStep]
    ccd_ma_cm2: float | None
    short_time_s: float | None
    short_record: int | None  # index into the given arrays
    definition: str = CCD_DEFINITION
    notes: list[str] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.ccd_ma_cm2 is not None


def _segments(sign: np.ndarray, level: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Half-cycle id per record (-1 for rests): a new one at every change of sign or level, or after a rest."""
    idx = np.flatnonzero(active)
    seg = np.full(len(sign), -1)
    if not len(idx):
        return seg
    new = np.ones(len(idx), dtype=bool)
    new[1:] = (np.diff(idx) > 1) | (sign[idx][1:] != sign[idx][:-1]) | (level[idx][1:] != level[idx][:-1])
    seg[idx] = np.cumsum(new) - 1
    return seg


def critical_current_density(time_s, current_ma, voltage_v, *, area_cm2: float, name: str = "record") -> CcdResult:
    """CCD of a symmetric cell (AnalysisError for a record that is no stepped symmetric-cell test)."""
    if not (area_cm2 and area_cm2 > 0):
        raise AnalysisError(f"area_cm2 must be a positive number, not {area_cm2!r}")
    t = np.asarray(time_s, dtype=float)
    cur = np.asarray(current_ma, dtype=float)
    v = np.asarray(voltage_v, dtype=float)
    ok = np.isfinite(t) & np.isfinite(cur) & np.isfinite(v)
    t, cur, v, where = t[ok], cur[ok], v[ok], np.flatnonzero(ok)
    if not len(cur) or not np.any(cur != 0):
        raise AnalysisError(f"{name}: no current flows; not a galvanostatic test")
    active = np.abs(cur) > ACTIVE_FRACTION * np.abs(cur).max()
    pol = np.abs(v)
    typical = float(np.median(pol[active]))
    if typical > MAX_SYMMETRIC_POLARISATION_V:
        raise AnalysisError(
            f"{name}: the cell voltage is typically {typical:.2f} V under current; a symmetric Li | SE | Li cell "
            f"polarises by millivolts to some hundred mV (above {MAX_SYMMETRIC_POLARISATION_V:g} V: a full cell?)")
    j = np.abs(cur) / area_cm2
    # current-density levels: a new level where |j| moves by more than the tolerance from the level's start
    level = np.full(len(j), -1)
    levels: list[float] = []
    for k in np.flatnonzero(active):  # the loop runs over records only to assign levels; few levels, cheap
        if not levels or abs(j[k] - levels[-1]) > LEVEL_TOLERANCE * levels[-1]:
            levels.append(float(j[k]))
        level[k] = len(levels) - 1
    if len(levels) < 2:
        raise AnalysisError(f"{name}: one current density only ({levels[0]:.3g} mA/cm2); a CCD test steps it up "
                            "(no steps)")
    seg = _segments(np.sign(cur), level, active)
    n_seg = int(seg.max()) + 1
    seg_level = np.array([level[seg == s][0] for s in range(n_seg)])
    seg_j = np.array([float(np.median(j[seg == s])) for s in range(n_seg)])

    def mid(s, upto=None):
        rows = np.flatnonzero(seg == s)
        if upto is not None:
            rows = rows[rows < upto]
        if len(rows) < 3:
            return None
        a, b = int(len(rows) * 0.25), max(int(len(rows) * 0.75), int(len(rows) * 0.25) + 1)
        return float(np.median(pol[rows[a:b]]))

    seg_mid = [mid(s) for s in range(n_seg)]
    short = None
    ref_of = np.full(len(pol), np.nan)
    for s in range(n_seg):
        rows = np.flatnonzero(seg == s)
        if s == 0:
            ref = float(np.median(pol[rows[: max(len(rows) // 5, 1)]]))
        else:
            ref = (seg_mid[s - 1] or float(np.median(pol[seg == s - 1]))) * seg_j[s] / seg_j[s - 1]
        ref_of[rows] = ref
        low = np.flatnonzero(pol[rows] < COLLAPSE_FRACTION * ref)
        for k in rows[low]:
            later = np.flatnonzero(active & (np.arange(len(pol)) >= k))
            # the expected polarisation after k keeps this segment's reference, scaled by the current density
            expected = ref * j[later] / seg_j[s]
            collapsed = pol[later] < COLLAPSE_FRACTION * expected
            head = collapsed[:MIN_PERSIST_RECORDS]
            span = t[later[min(MIN_PERSIST_RECORDS, len(later)) - 1]] - t[k]
            if (len(head) == MIN_PERSIST_RECORDS and head.all() and span >= MIN_PERSIST_S
                    and np.median(pol[later] / expected) < COLLAPSE_FRACTION):
                short = int(k)
                break
        if short is not None:
            break
    steps = []
    for lv in range(len(levels)):
        segs = [s for s in range(n_seg) if seg_level[s] == lv]
        if short is not None:
            segs = [s for s in segs if np.flatnonzero(seg == s)[0] < short]
        mids = [m for m in (mid(s, upto=short) for s in segs) if m is not None]
        eta = float(np.mean(mids)) * 1e3 if mids else None
        jj = float(np.median(j[level == lv]))
        first = float(t[np.flatnonzero(level == lv)[0]])
        steps.append(CcdStep(jj, eta, eta / jj if eta is not None else None, len(segs), first,
                             shorted=short is not None and level[short] == lv))
        if short is not None and level[short] == lv:
            break
    notes = []
    if short is None:
        return CcdResult(steps, None, None, None, notes=["not reached: no persistent collapse of the polarisation"])
    return CcdResult(steps, steps[-1].current_density_ma_cm2, float(t[short]), int(where[short]), notes=notes)
