"""The record simulator: canonical shape, LAND's running-total rule, study figures, speed."""

import subprocess
import sys
import time

import numpy as np
import pytest

from cycling.simulate import (
    CANONICAL_COLUMNS,
    STUDY_ACTIVE_MASS_MG,
    SimSpec,
    simple_spec,
    simulate_cell,
    study_cell,
)


def half_capacity_mah_g(records, kind):
    moving = records[records["step_kind"] == kind]
    return moving.groupby("cycle")["capacity_mah"].max() / STUDY_ACTIVE_MASS_MG * 1000.0


@pytest.fixture(scope="module")
def coated():
    return study_cell("coated")


def test_it_builds_the_studys_pellet():
    assert STUDY_ACTIVE_MASS_MG == pytest.approx(6.597, abs=1e-3)
    _, info = study_cell("coated", n_cycles=3)
    assert info["one_c_ma"] == pytest.approx(1.344 * 0.7854, rel=1e-4)
    assert info["area_cm2"] == 0.7854
    assert info["theoretical_mah_g"] == 160


def test_it_produces_canonical_columns_and_dtypes(coated):
    records, _ = coated
    assert list(records.columns) == CANONICAL_COLUMNS
    assert records["record"].dtype == np.int64
    assert records["cycle"].dtype == np.int64
    assert records["step"].dtype == np.int64
    assert str(records["sys_time"].dtype) == "datetime64[ns]"
    assert set(records["step_kind"].unique()) == {"rest", "charge", "discharge"}
    assert set(records["step_mode"].unique()) == {"", "CC", "CV"}
    assert (np.diff(records["test_time_s"]) >= 0).all()
    assert (np.diff(records["record"]) == 1).all()


def test_it_reproduces_the_studys_half_cycle_capacities(coated):
    records, info = coated
    charge = half_capacity_mah_g(records, "charge")
    discharge = half_capacity_mah_g(records, "discharge")
    assert charge[1] == pytest.approx(188.2, rel=1e-6)
    assert discharge[1] == pytest.approx(161.4, rel=1e-6)
    assert discharge[3] == pytest.approx(139.8, rel=1e-6)
    assert discharge[502] == pytest.approx(88.6, rel=1e-6)
    np.testing.assert_allclose(charge.to_numpy(), info["charge_mah_g"], rtol=1e-9)
    np.testing.assert_allclose(discharge.to_numpy(), info["discharge_mah_g"], rtol=1e-9)
    assert info["expected_decay_percent_per_cycle"] == pytest.approx(0.0902, abs=5e-5)


def test_it_fades_the_bare_cell_to_about_zero_within_200_cycles():
    records, info = study_cell("bare", n_cycles=210)
    discharge = half_capacity_mah_g(records, "discharge")
    assert discharge[1] == pytest.approx(41.4, rel=1e-6)
    assert half_capacity_mah_g(records, "charge")[1] == pytest.approx(76.0, rel=1e-6)
    assert discharge[200] < 1.0


def test_it_follows_lands_running_capacity_rule():
    records = simulate_cell(simple_spec(3, split_discharge_cycles=(2,)), seed=1)
    cap = records["capacity_mah"].to_numpy()
    kind = records["step_kind"].to_numpy()
    # Rests hold the running total of the step before them.
    rest_after_move = (kind[1:] == "rest") & (kind[:-1] != "rest")
    assert np.allclose(cap[1:][rest_after_move], cap[:-1][rest_after_move])
    # CC then CV keeps adding up: the CV step starts where the CC step ended.
    mode = records["step_mode"].to_numpy()
    cv_start = np.flatnonzero((mode[1:] == "CV") & (mode[:-1] == "CC")) + 1
    assert np.allclose(cap[cv_start], cap[cv_start - 1])
    # The interrupted discharge resumes its total after the rest; the half's capacity is the maximum.
    c2 = records[(records["cycle"] == 2) & (records["step_kind"] == "discharge")]
    steps = c2.groupby("step")["capacity_mah"].agg(["min", "max"])
    assert len(steps) == 2
    assert steps["min"].iloc[1] == pytest.approx(steps["max"].iloc[0])
    assert c2["capacity_mah"].max() == pytest.approx(145.0 * STUDY_ACTIVE_MASS_MG / 1000.0)
    # Direction change restarts at 0.
    starts = np.flatnonzero((kind[1:] == "discharge") & (kind[:-1] == "rest")) + 1
    assert cap[starts[0]] == 0.0


def test_it_keeps_the_cell_voltage_window():
    records, _ = study_cell("coated", n_cycles=10)
    assert records["voltage_v"].min() > 1.86
    assert records["voltage_v"].max() < 3.80


def test_it_is_deterministic_and_replicates_spread():
    a, _ = study_cell("coated", n_cycles=5)
    b, _ = study_cell("coated", n_cycles=5)
    assert a.equals(b)
    r2, info2 = study_cell("coated", n_cycles=5, replicate=2)
    r3, info3 = study_cell("coated", n_cycles=5, replicate=3)
    for info in (info2, info3):
        assert info["discharge_mah_g"][0] != pytest.approx(161.4, rel=1e-4)
        assert info["discharge_mah_g"][0] == pytest.approx(161.4, rel=0.07)
    assert info2["discharge_mah_g"][0] != info3["discharge_mah_g"][0]


def test_it_starts_on_discharge_when_asked():
    records = simulate_cell(simple_spec(3, first_half="discharge"))
    first_move = records[records["step_kind"] != "rest"].iloc[0]
    assert first_move["step_kind"] == "discharge"
    assert first_move["current_ma"] < 0
    assert records.groupby("cycle")["step_kind"].apply(lambda k: (k == "charge").any()).all()


def test_it_can_end_mid_test():
    records = simulate_cell(simple_spec(4, partial_last=True))
    last = records[records["cycle"] == 4]
    assert (last["step_kind"] == "charge").any()
    assert not (last["step_kind"] == "discharge").any()


def test_it_signs_current_by_direction():
    records = simulate_cell(simple_spec(2))
    assert (records.loc[records["step_kind"] == "charge", "current_ma"] > 0).all()
    assert (records.loc[records["step_kind"] == "discharge", "current_ma"] < 0).all()
    assert (records.loc[records["step_kind"] == "rest", "current_ma"] == 0).all()
    cv = records[records["step_mode"] == "CV"]
    assert (np.diff(cv.groupby("step")["current_ma"].first()) == 0).all()
    assert (cv.groupby("step")["current_ma"].apply(lambda s: np.all(np.diff(s) < 0))).all()


def test_it_generates_500_cycles_fast():
    study_cell("coated", n_cycles=20)  # warm-up
    t0 = time.perf_counter()
    records, _ = study_cell("coated", n_cycles=502, points_per_half_cycle=60)
    elapsed = time.perf_counter() - t0
    assert records["cycle"].max() == 502
    assert elapsed < 1.5, f"{elapsed:.2f} s"


def test_it_refuses_inconsistent_specs():
    with pytest.raises(ValueError):
        simulate_cell(SimSpec(charge_mah_g=(1.0, 2.0), discharge_mah_g=(1.0,)))
    with pytest.raises(ValueError):
        simulate_cell(simple_spec(2, first_half="sideways"))


def test_it_does_not_import_django():
    code = "import sys, cycling.simulate, cycling.analysis; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
