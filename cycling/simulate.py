"""Seeded generator of realistic LAND-style canonical records for the lab's NMC532 | LGPS | In-Li cells.

The output has exactly the columns of the parser's canonical records (see cycling/parsers), so the
analysis and its tests can run on data whose true capacities and dQ/dV peaks are known.

How a record set is built (vectorised; the only Python loop runs over cycles to lay out the steps):
- one row per step (rest, CC, CV), each with its number of records, current, running-capacity start
  and increment;
- each half cycle has a voltage profile defined by its cumulative capacity fraction F(V): a linear
  background plus logistic steps, one per redox process. dQ/dV = Q x F'(V) therefore peaks exactly at
  each logistic centre, which is what the dQ/dV tests check against;
- CC records sample the half cycle uniformly in capacity (constant current = uniform in time) and take
  V = F^-1(x); the CV step holds the upper cutoff while the current decays exponentially;
- capacity/energy are LAND's unsigned running totals: they keep adding up over consecutive steps of
  the same direction (also across a rest) and restart at 0 when the direction changes; rests hold the
  running total, as in the real exports.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

# Cell build of the reference study (DOMAIN.md): 10 mm pellet, 8.4 mg/cm2 NMC, 160 mAh/g.
STUDY_AREA_CM2 = 0.7854
STUDY_ACTIVE_LOADING_MG_CM2 = 8.4
STUDY_ACTIVE_MASS_MG = STUDY_ACTIVE_LOADING_MG_CM2 * STUDY_AREA_CM2  # 6.597 mg
STUDY_THEORETICAL_MAH_G = 160.0
STUDY_V_MIN = 1.88  # 2.5 V vs Li+/Li on the In-Li scale
STUDY_V_MAX = 3.78  # 4.4 V vs Li+/Li on the In-Li scale

RATE_TEST_C_RATES = (0.1, 0.2, 0.5, 1.0)

CANONICAL_COLUMNS = [
    "record",
    "test_time_s",
    "step_time_s",
    "current_ma",
    "voltage_v",
    "capacity_mah",
    "energy_mwh",
    "cycle",
    "step",
    "step_kind",
    "step_mode",
    "sys_time",
]

_KIND_REST, _KIND_CHARGE, _KIND_DISCHARGE = 0, 1, 2
_MODE_NONE, _MODE_CC, _MODE_CV = 0, 1, 2
_KIND_NAMES = np.array(["rest", "charge", "discharge"], dtype=object)
_MODE_NAMES = np.array(["", "CC", "CV"], dtype=object)
_GRID = 512  # resolution of the tabulated F(V) used to invert the voltage profile


@dataclass(frozen=True)
class SimSpec:
    """What to simulate: per-cycle capacities and C-rates plus the voltage-profile shape.

    Capacities are per gram of active material; C-rates refer to theoretical_mah_g x active mass.
    The charge peak sits at peak_charge_v + overpotential + shift, the discharge peak at
    peak_discharge_v - overpotential - shift, where shift = peak_shift_mv_per_cycle x (cycle - 1) and the
    overpotential = ir_v_per_c x C-rate x (1 + ir_growth_per_cycle x (cycle - 1)): an I x R drop whose
    resistance grows as the cell ages (ir_growth_per_cycle = 0.0045 is +45 % per 100 cycles), so the peaks
    move apart as R_int grows, and jump with the C-rate of a rate test.
    Extra (high-voltage) peaks ramp in linearly from extra_peak_from_cycle over extra_peak_ramp_cycles.
    """

    charge_mah_g: Sequence[float]
    discharge_mah_g: Sequence[float]
    c_rates: Sequence[float] | float = 0.1
    active_mass_mg: float = STUDY_ACTIVE_MASS_MG
    area_cm2: float = STUDY_AREA_CM2
    theoretical_mah_g: float = STUDY_THEORETICAL_MAH_G
    first_half: str = "charge"
    v_min: float = STUDY_V_MIN
    v_max: float = STUDY_V_MAX
    charge_start_v: float = 2.60
    peak_charge_v: float = 3.10
    peak_discharge_v: float = 3.00
    peak_width_v: float = 0.035
    peak_shift_mv_per_cycle: float = 0.0
    background_weight: float = 0.25
    ir_v_per_c: float = 0.0
    ir_growth_per_cycle: float = 0.0
    extra_peak_charge_v: float = 3.55
    extra_peak_discharge_v: float = 3.45
    extra_peak_width_v: float = 0.025
    extra_peak_weight: float = 0.0
    extra_peak_from_cycle: int = 100
    extra_peak_ramp_cycles: int = 50
    cv: bool = True
    cv_fraction: float = 0.04  # share of the charge capacity delivered during the CV step
    cv_end_current_ratio: float = 0.05
    points_per_half_cycle: int = 60
    cv_points: int = 10
    rest_points: int = 6
    rest_s: float = 600.0
    initial_rest_s: float = 3 * 3600.0
    noise_v: float = 0.0005
    split_discharge_cycles: tuple[int, ...] = ()  # discharge interrupted by a rest, then resumed at C/4
    partial_last: bool = False  # file exported mid-test: the last cycle lacks its second half
    start: datetime = field(default_factory=lambda: datetime(2021, 3, 1, 9, 0, 0))

    @property
    def n_cycles(self) -> int:
        return len(self.charge_mah_g)

    @property
    def one_c_ma(self) -> float:
        return self.theoretical_mah_g * self.active_mass_mg / 1000.0


def expected_peaks(spec: SimSpec) -> dict[str, np.ndarray]:
    """Per-cycle positions of the redox peaks the simulator puts into dQ/dV (V, cell scale)."""
    n = spec.n_cycles
    cycles = np.arange(1, n + 1)
    rates = np.broadcast_to(np.asarray(spec.c_rates, dtype=float), (n,))
    shift = spec.peak_shift_mv_per_cycle / 1000.0 * (cycles - 1)
    ir = _overpotential_v(spec, rates)
    ramp = np.clip((cycles - spec.extra_peak_from_cycle) / max(spec.extra_peak_ramp_cycles, 1), 0.0, 1.0)
    return {
        "cycle": cycles,
        "peak_charge_v": spec.peak_charge_v + ir + shift,
        "peak_discharge_v": spec.peak_discharge_v - ir - shift,
        "extra_peak_weight": spec.extra_peak_weight * ramp,
        "extra_peak_charge_v": spec.extra_peak_charge_v + ir + shift,
        "extra_peak_discharge_v": spec.extra_peak_discharge_v - ir - shift,
    }


def _overpotential_v(spec: SimSpec, rates: np.ndarray) -> np.ndarray:
    """Per-cycle I x R shift of the peaks (V): ir_v_per_c x C-rate, scaled by the resistance's growth."""
    cycles = np.arange(1, len(rates) + 1)
    return spec.ir_v_per_c * rates * (1.0 + spec.ir_growth_per_cycle * (cycles - 1))


def _profile_table(spec: SimSpec, rates: np.ndarray):
    """Tabulate F(V) (cumulative capacity fraction vs voltage) for every half cycle.

    Row 2*(c-1) is the charge of cycle c, row 2*(c-1)+1 its discharge. Discharge rows are tabulated on
    [v_min, v_start] as the fraction of capacity left below V, so V(x) = F^-1(1 - x).
    """
    n = spec.n_cycles
    peaks = expected_peaks(spec)
    w_extra = peaks["extra_peak_weight"]
    w_main = 1.0 - spec.background_weight - w_extra
    ir = _overpotential_v(spec, rates)
    lo = np.empty(2 * n)
    hi = np.empty(2 * n)
    lo[0::2] = np.minimum(spec.charge_start_v + ir, spec.v_max - 0.3)
    hi[0::2] = spec.v_max
    lo[1::2] = spec.v_min
    hi[1::2] = spec.v_max - 0.08 - ir
    centres = np.empty((2 * n, 2))
    centres[0::2, 0] = peaks["peak_charge_v"]
    centres[1::2, 0] = peaks["peak_discharge_v"]
    centres[0::2, 1] = peaks["extra_peak_charge_v"]
    centres[1::2, 1] = peaks["extra_peak_discharge_v"]
    widths = np.array([spec.peak_width_v, spec.extra_peak_width_v])
    weights = np.repeat(np.column_stack([w_main, w_extra]), 2, axis=0)

    s = np.linspace(0.0, 1.0, _GRID)
    v = lo[:, None] + (hi - lo)[:, None] * s[None, :]

    def sig(x):
        return 1.0 / (1.0 + np.exp(-x))

    steps = sig((v[:, :, None] - centres[:, None, :]) / widths)
    steps0 = sig((lo[:, None] - centres) / widths)[:, None, :]
    f = spec.background_weight * s[None, :] + np.sum(weights[:, None, :] * (steps - steps0), axis=2)
    f /= f[:, -1:]
    return v, f


def _invert(v_grid: np.ndarray, f_grid: np.ndarray, half: np.ndarray, x: np.ndarray) -> np.ndarray:
    """V = F_half^-1(x) for many (half, x) pairs at once: rows are offset by 2 so one np.interp works."""
    offset = 2.0 * np.arange(f_grid.shape[0])[:, None]
    return np.interp(x + 2.0 * half, (f_grid + offset).ravel(), v_grid.ravel())


def simulate_cell(spec: SimSpec, *, seed: int = 0) -> pd.DataFrame:
    """Canonical LAND records for `spec`; the seed only drives the voltage noise."""
    rng = np.random.default_rng(seed)
    n = spec.n_cycles
    if n < 1:
        raise ValueError("SimSpec needs at least one cycle")
    if spec.first_half not in ("charge", "discharge"):
        raise ValueError("first_half must be 'charge' or 'discharge'")
    charge = np.asarray(spec.charge_mah_g, dtype=float) * spec.active_mass_mg / 1000.0
    discharge = np.asarray(spec.discharge_mah_g, dtype=float) * spec.active_mass_mg / 1000.0
    if charge.shape != (n,) or discharge.shape != (n,):
        raise ValueError("charge_mah_g and discharge_mah_g need one value per cycle")
    rates = np.broadcast_to(np.asarray(spec.c_rates, dtype=float), (n,)).copy()
    i_ma = rates * spec.one_c_ma
    v_grid, f_grid = _profile_table(spec, rates)
    ppc = max(int(spec.points_per_half_cycle), 4)
    split = set(spec.split_discharge_cycles)

    # Step table: (cycle, kind, mode, n_points, current_ma, dq_mah, duration_s, half_row, x0, x1)
    rows: list[tuple] = []
    rest_n = max(int(spec.rest_points), 2)
    rows.append((1, _KIND_REST, _MODE_NONE, rest_n, 0.0, 0.0, spec.initial_rest_s, -1, 0.0, 0.0))
    order = ("charge", "discharge") if spec.first_half == "charge" else ("discharge", "charge")
    for c in range(n):
        for k, half in enumerate(order):
            if spec.partial_last and c == n - 1 and k == 1:
                break
            if half == "charge":
                q = charge[c]
                cv_q = q * spec.cv_fraction if spec.cv else 0.0
                cc_q = q - cv_q
                rows.append((c + 1, _KIND_CHARGE, _MODE_CC, ppc, i_ma[c], cc_q, cc_q / i_ma[c] * 3600.0,
                             2 * c, 0.0, 1.0))
                if cv_q > 0:
                    tau = cv_q * 3600.0 / (i_ma[c] * (1.0 - spec.cv_end_current_ratio))
                    rows.append((c + 1, _KIND_CHARGE, _MODE_CV, max(int(spec.cv_points), 3), i_ma[c], cv_q,
                                 tau * np.log(1.0 / spec.cv_end_current_ratio), 2 * c, tau, 0.0))
            else:
                q = discharge[c]
                if c + 1 in split:
                    # LAND keeps adding up across the interrupting rest: the half's capacity is the
                    # running maximum, not the sum of the two steps' maxima.
                    qa, qb = 0.9 * q, 0.1 * q
                    na = max(int(ppc * 0.9), 3)
                    rows.append((c + 1, _KIND_DISCHARGE, _MODE_CC, na, -i_ma[c], qa, qa / i_ma[c] * 3600.0,
                                 2 * c + 1, 0.0, 0.9))
                    rows.append((c + 1, _KIND_REST, _MODE_NONE, rest_n, 0.0, 0.0, 30.0, -1, 0.0, 0.0))
                    rows.append((c + 1, _KIND_DISCHARGE, _MODE_CC, max(ppc - na, 3), -i_ma[c] / 4, qb,
                                 qb / (i_ma[c] / 4) * 3600.0, 2 * c + 1, 0.9, 1.0))
                else:
                    rows.append((c + 1, _KIND_DISCHARGE, _MODE_CC, ppc, -i_ma[c], q, q / i_ma[c] * 3600.0,
                                 2 * c + 1, 0.0, 1.0))
            rows.append((c + 1, _KIND_REST, _MODE_NONE, rest_n, 0.0, 0.0, spec.rest_s, -1, 0.0, 0.0))

    st = np.array(rows, dtype=float)
    s_cycle = st[:, 0].astype(np.int64)
    s_kind = st[:, 1].astype(np.int64)
    s_mode = st[:, 2].astype(np.int64)
    s_n = st[:, 3].astype(np.int64)
    s_i, s_dq, s_dur = st[:, 4], st[:, 5], st[:, 6]
    s_half = st[:, 7].astype(np.int64)
    s_a, s_b = st[:, 8], st[:, 9]  # CC: x range of the half; CV: (tau, unused)
    n_steps = len(rows)

    # Running-total bookkeeping per step: a new "direction run" starts when a non-rest step changes
    # direction; rests belong to the run before them.
    moving = s_kind != _KIND_REST
    direction = np.where(moving, s_kind, 0)
    last_dir = pd.Series(np.where(moving, direction, np.nan)).ffill().fillna(0).to_numpy()
    prev_dir = np.concatenate([[0.0], last_dir[:-1]])
    run_id = np.cumsum(moving & (direction != prev_dir))
    cum_dq = np.cumsum(s_dq)
    run_start = pd.Series(cum_dq - s_dq).groupby(run_id).transform("first").to_numpy()
    s_q0 = cum_dq - s_dq - run_start
    s_t0 = np.concatenate([[0.0], np.cumsum(s_dur)[:-1]])

    # Expand steps to records.
    n_rec = int(s_n.sum())
    sid = np.repeat(np.arange(n_steps), s_n)
    start = np.concatenate([[0], np.cumsum(s_n)[:-1]])
    u = (np.arange(n_rec) - start[sid]) / (s_n[sid] - 1)
    kind, mode = s_kind[sid], s_mode[sid]
    step_time = s_dur[sid] * u
    current = np.zeros(n_rec)
    capacity = s_q0[sid].copy()
    voltage = np.empty(n_rec)

    cc = mode == _MODE_CC
    current[cc] = s_i[sid[cc]]
    capacity[cc] += s_dq[sid[cc]] * u[cc]
    x = s_a[sid[cc]] + (s_b[sid[cc]] - s_a[sid[cc]]) * u[cc]
    half = s_half[sid[cc]]
    x = np.where(half % 2 == 1, 1.0 - x, x)
    voltage[cc] = _invert(v_grid, f_grid, half, x)

    cv = mode == _MODE_CV
    tau = s_a[sid[cv]]
    decay = np.exp(-step_time[cv] / tau)
    current[cv] = s_i[sid[cv]] * decay
    capacity[cv] += s_i[sid[cv]] * tau * (1.0 - decay) / 3600.0
    voltage[cv] = spec.v_max

    rest = kind == _KIND_REST
    # Relaxation toward open circuit from the voltage where the previous step ended.
    rest_steps = np.flatnonzero(s_kind == _KIND_REST)
    prev_end = np.where(rest_steps > 0, voltage[np.maximum(start[rest_steps] - 1, 0)], np.nan)
    after = np.where(rest_steps > 0, s_kind[np.maximum(rest_steps - 1, 0)], _KIND_REST)
    ocv0 = 2.35 if spec.first_half == "charge" else spec.v_max - 0.3
    v_from = np.where(after == _KIND_REST, ocv0, prev_end)
    v_to = np.select([after == _KIND_CHARGE, after == _KIND_DISCHARGE], [v_from - 0.08, v_from + 0.6], v_from)
    step_to_rest = np.full(n_steps, -1)
    step_to_rest[rest_steps] = np.arange(len(rest_steps))
    r = step_to_rest[sid[rest]]
    voltage[rest] = v_to[r] + (v_from[r] - v_to[r]) * np.exp(-4.0 * u[rest])

    voltage += rng.normal(0.0, spec.noise_v, n_rec) if spec.noise_v > 0 else 0.0

    # Energy: trapezoid of V dQ, accumulated with the same running rule as the capacity.
    rec_run = run_id[sid]
    dq = np.diff(capacity, prepend=0.0)
    new_run = np.concatenate([[True], rec_run[1:] != rec_run[:-1]])
    dq[new_run] = 0.0
    v_prev = np.concatenate([[voltage[0]], voltage[:-1]])
    de = np.cumsum(0.5 * (voltage + v_prev) * dq)
    energy = de - de[np.flatnonzero(new_run)][np.cumsum(new_run) - 1]

    test_time = s_t0[sid] + step_time
    df = pd.DataFrame(
        {
            "record": np.arange(1, n_rec + 1, dtype=np.int64),
            "test_time_s": test_time,
            "step_time_s": step_time,
            "current_ma": current,
            "voltage_v": voltage,
            "capacity_mah": capacity,
            "energy_mwh": energy,
            "cycle": s_cycle[sid],
            "step": (sid + 1).astype(np.int64),
            "step_kind": _KIND_NAMES[kind],
            "step_mode": _MODE_NAMES[mode],
            "sys_time": pd.Timestamp(spec.start) + pd.to_timedelta(np.round(test_time, 3), unit="s"),
        }
    )
    df["sys_time"] = df["sys_time"].astype("datetime64[ns]")
    return df


# --- The reference study's cells -------------------------------------------------------------------

_STUDY = {
    # first two cycles at 0.1C (formation), then C/3. Figures from DOMAIN.md; the second formation
    # cycle and the CE of the long run are plausible values, not published ones.
    "coated": dict(
        formation_charge=(188.2, 163.0),
        formation_discharge=(161.4, 159.6),
        lt_first=139.8,
        lt_after_500=88.6,
        lt_ce=(98.6, 99.8),
        rate_capacity={0.1: 159.2, 0.2: 151.3, 0.5: 127.6, 1.0: 104.7},
        peak_charge_v=3.10,
        peak_discharge_v=3.00,
        extra_peak_weight=0.0,
    ),
    "bare": dict(
        formation_charge=(76.0, 44.8),
        formation_discharge=(41.4, 40.1),
        lt_first=31.5,
        lt_zero_cycle=190,  # long-term cycle index where the fit reaches its floor
        lt_floor=0.5,
        lt_ce=(94.0, 98.0),
        rate_capacity={0.1: 39.8, 0.2: 30.2, 0.5: 17.5, 1.0: 8.6},
        peak_charge_v=3.16,
        peak_discharge_v=2.94,
        extra_peak_weight=0.35,
    ),
}


def _long_term(group: str, k: np.ndarray) -> np.ndarray:
    """Discharge capacity (mAh/g) of the k-th C/3 cycle (k = 0 for the first)."""
    p = _STUDY[group]
    if group == "coated":
        # Slightly accelerating fade through 139.8 (k=0) and 88.6 (k=499, i.e. after 500 cycles).
        t = k / 499.0
        g = 0.75 * t + 0.25 * t**2
        return p["lt_first"] - (p["lt_first"] - p["lt_after_500"]) * g
    t = np.clip(k / p["lt_zero_cycle"], 0.0, 1.0)
    return np.maximum(p["lt_first"] * (1.0 - t) ** 1.4, p["lt_floor"])


def study_cell(
    group: str = "coated",
    *,
    replicate: int = 1,
    n_cycles: int = 502,
    formation_cycles: int = 2,
    rate_test: bool = False,
    points_per_half_cycle: int = 60,
    seed: int | None = None,
    rate_cycles: int = 3,
    **overrides,
) -> tuple[pd.DataFrame, dict]:
    """Records of one cell of the reference study, plus the build parameters and expected figures.

    Protocol: 3 h rest, `formation_cycles` at 0.1C, optional rate test (0.1, 0.2, 0.5, 1C, then back
    to 0.1C, `rate_cycles` each), then C/3 until `n_cycles` cycles in total. replicate=1 with seed=None
    reproduces the published figures exactly; other replicates/seeds scale capacities by a seeded
    factor (about 2 % spread) and shift the peaks by a few mV. `overrides` go to SimSpec.
    """
    if group not in _STUDY:
        raise ValueError(f"group must be one of {sorted(_STUDY)}")
    p = _STUDY[group]
    nf = int(formation_cycles)
    rate_seq = [r for r in (*RATE_TEST_C_RATES, 0.1) for _ in range(rate_cycles)] if rate_test else []
    n_lt = n_cycles - nf - len(rate_seq)
    if nf < 1 or n_lt < 0:
        raise ValueError("n_cycles too small for the formation and rate-test cycles")

    form_c = np.resize(np.asarray(p["formation_charge"]), nf)
    form_d = np.resize(np.asarray(p["formation_discharge"]), nf)
    form_c[2:], form_d[2:] = p["formation_charge"][1], p["formation_discharge"][1]
    rt_d = np.array([p["rate_capacity"][r] for r in rate_seq])
    rt_c = rt_d / 0.99
    k = np.arange(n_lt)
    lt_d = _long_term(group, k)
    ce_lo, ce_hi = p["lt_ce"]
    lt_c = lt_d / ((ce_hi - (ce_hi - ce_lo) * np.exp(-k / 10.0)) / 100.0)
    charge = np.concatenate([form_c, rt_c, lt_c])
    discharge = np.concatenate([form_d, rt_d, lt_d])
    rates = np.concatenate([np.full(nf, 0.1), np.asarray(rate_seq, dtype=float), np.full(n_lt, 1.0 / 3.0)])
    segments = ["formation"] * nf + ["rate-test"] * len(rate_seq) + ["long-term"] * n_lt

    peak_c, peak_d = p["peak_charge_v"], p["peak_discharge_v"]
    if replicate != 1 or seed is not None:
        rep_seed = seed if seed is not None else zlib.crc32(f"{group}:{replicate}".encode())
        rng = np.random.default_rng(rep_seed)
        scale = float(np.clip(rng.normal(1.0, 0.02), 0.94, 1.06))
        first_scale = float(np.clip(rng.normal(1.0, 0.01), 0.97, 1.03))
        charge = charge * scale
        discharge = discharge * scale
        charge[0] *= first_scale
        peak_c += float(rng.normal(0.0, 0.005))
        peak_d += float(rng.normal(0.0, 0.005))
    else:
        rep_seed = 0

    kwargs = dict(
        charge_mah_g=tuple(charge),
        discharge_mah_g=tuple(discharge),
        c_rates=tuple(rates),
        points_per_half_cycle=points_per_half_cycle,
        peak_charge_v=peak_c,
        peak_discharge_v=peak_d,
        extra_peak_weight=p["extra_peak_weight"],
    )
    kwargs.update(overrides)
    spec = SimSpec(**kwargs)
    records = simulate_cell(spec, seed=rep_seed)
    info = sim_info(spec)
    info.update(group=group, replicate=replicate, segments=np.array(segments, dtype=object),
                formation_cycles=nf, long_term_cycles=n_lt)
    if n_lt:
        first_d = discharge[0]
        info["expected_decay_percent_per_cycle"] = (first_d - discharge[-1]) / first_d / n_lt * 100.0
    return records, info


def sim_info(spec: SimSpec) -> dict:
    """Build parameters and the figures the analysis should recover from simulate_cell(spec)."""
    n = spec.n_cycles
    charge = np.asarray(spec.charge_mah_g, dtype=float)
    discharge = np.asarray(spec.discharge_mah_g, dtype=float)
    first, second = (charge, discharge) if spec.first_half == "charge" else (discharge, charge)
    peaks = expected_peaks(spec)
    return {
        "spec": spec,
        "active_mass_mg": spec.active_mass_mg,
        "area_cm2": spec.area_cm2,
        "theoretical_mah_g": spec.theoretical_mah_g,
        "one_c_ma": spec.one_c_ma,
        "first_half": spec.first_half,
        "n_cycles": n,
        "charge_mah_g": charge,
        "discharge_mah_g": discharge,
        "ce_percent": second / first * 100.0,
        "c_rates": np.broadcast_to(np.asarray(spec.c_rates, dtype=float), (n,)).copy(),
        "peak_charge_v": peaks["peak_charge_v"],
        "peak_discharge_v": peaks["peak_discharge_v"],
        "extra_peak_weight": peaks["extra_peak_weight"],
        "extra_peak_charge_v": peaks["extra_peak_charge_v"],
        "extra_peak_discharge_v": peaks["extra_peak_discharge_v"],
    }


def simple_spec(n_cycles: int = 5, **kw) -> SimSpec:
    """A small constant-capacity cell (150/145 mAh/g at 0.1C), handy for tests."""
    base = dict(charge_mah_g=(150.0,) * n_cycles, discharge_mah_g=(145.0,) * n_cycles, c_rates=0.1)
    base.update(kw)
    return SimSpec(**base)


__all__ = [
    "CANONICAL_COLUMNS",
    "RATE_TEST_C_RATES",
    "STUDY_ACTIVE_MASS_MG",
    "STUDY_AREA_CM2",
    "STUDY_THEORETICAL_MAH_G",
    "SimSpec",
    "expected_peaks",
    "sim_info",
    "simple_spec",
    "simulate_cell",
    "study_cell",
]
