"""Generated runs with known truth for the rule tests: simulator records -> the analysis' per-cycle table."""
import numpy as np

from cycling.analysis import CellSpec, summarize_cycles
from cycling.simulate import STUDY_ACTIVE_MASS_MG, STUDY_AREA_CM2, SimSpec, simulate_cell, study_cell

SPEC = CellSpec(active_mass_mg=STUDY_ACTIVE_MASS_MG, area_cm2=STUDY_AREA_CM2, theoretical_mah_g=160.0,
                first_half="charge")
FADE_PER_CYCLE_MAH_G = 0.48  # linear fade of the long-term cycles in `fading_run`


def per_cycle(records):
    """What the ingest stores per cycle, with the rules' capacity columns (the discharge of a charge-first cell)."""
    cycles = summarize_cycles(records, SPEC)
    volt = records.groupby("cycle")["voltage_v"].agg(["min", "max"]).rename(
        columns={"min": "min_voltage_v", "max": "max_voltage_v"})
    cycles = cycles.merge(volt, left_on="cycle", right_index=True, how="left")
    return cycles.assign(capacity_mah_g=cycles["discharge_mah_g"], capacity_mah=cycles["discharge_mah"])


def fading_run(n_cycles=80, *, ce_dip=(), drop_at=None, drop_percent=0.0, v_max=None, seed=1):
    """2 formation cycles at 0.1C (161.4 mAh/g, ICE 85.8 %), then C/3 from 140 mAh/g losing 0.48 mAh/g a cycle.

    Known truth: 80 % of the reference (cycle 3, 140 mAh/g) is 112 mAh/g, first undercut at k = 59
    (111.68 mAh/g), i.e. cycle 62; cycle 61 is at 112.16 (not on a boundary LAND's rounding could flip). `ce_dip` cycles get a CE of 90 %; `drop_at` loses `drop_percent` for good from that cycle.
    """
    k = np.arange(n_cycles - 2)
    lt = 140.0 - FADE_PER_CYCLE_MAH_G * k
    discharge = np.concatenate([[161.4, 159.6], lt])
    if drop_at is not None:
        discharge[drop_at - 1:] *= 1.0 - drop_percent / 100.0
    ce = np.concatenate([[85.8, 97.9], np.full(n_cycles - 2, 99.5)])
    for c in ce_dip:
        ce[c - 1] = 90.0
    charge = discharge / (ce / 100.0)
    rates = np.concatenate([[0.1, 0.1], np.full(n_cycles - 2, 1.0 / 3.0)])
    kw = {} if v_max is None else {"v_max": v_max}
    spec = SimSpec(charge_mah_g=tuple(charge), discharge_mah_g=tuple(discharge), c_rates=tuple(rates),
                   points_per_half_cycle=16, cv_points=3, rest_points=2, **kw)
    return simulate_cell(spec, seed=seed), spec


def bare_run(n_cycles=200):
    """The study's bare cell (fades to ~0 within 200 cycles), with the simulator's per-cycle capacities."""
    records, info = study_cell("bare", n_cycles=n_cycles, points_per_half_cycle=12, cv_points=3, rest_points=2)
    return records, info
