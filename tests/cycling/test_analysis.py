"""Cycle analysis: the reference study's figures from simulated cells, hand-computed cases, dQ/dV."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cycling.analysis import (
    ANALYSIS_VERSION,
    CYCLE_COLUMNS,
    CellSpec,
    DqdvParams,
    analyse,
    c_rate_label,
    cross_check,
    dqdv,
    dqdv_all,
    dqdv_peak_table,
    dqdv_peaks,
    knee_point,
    run_metrics,
    summarize_cycles,
    track_peak,
    window_decay,
)
from cycling.simulate import SimSpec, simple_spec, simulate_cell, study_cell


def spec_of(info, **kw):
    return CellSpec(info["active_mass_mg"], info["area_cm2"], info["theoretical_mah_g"], **kw)


@pytest.fixture(scope="module")
def coated():
    records, info = study_cell("coated")
    cycles = summarize_cycles(records, spec_of(info))
    return records, info, cycles


@pytest.fixture(scope="module")
def bare():
    records, info = study_cell("bare", n_cycles=250)
    curves = dqdv_all(records)
    return records, info, summarize_cycles(records, spec_of(info), curves=curves), curves


@pytest.fixture(scope="module")
def rate_cell():
    records, info = study_cell("coated", rate_test=True, n_cycles=40)
    return records, info, summarize_cycles(records, spec_of(info))


# --- the reference study ----------------------------------------------------------------------------


def test_it_recovers_the_coated_cells_formation(coated):
    _, _, cycles = coated
    c1 = cycles.iloc[0]
    assert c1["charge_mah_g"] == pytest.approx(188.2, rel=1e-3)
    assert c1["discharge_mah_g"] == pytest.approx(161.4, rel=1e-3)
    assert c1["ce_percent"] == pytest.approx(85.8, abs=0.05)
    assert cycles.attrs["ce_convention"] == "discharge/charge"
    assert cycles.attrs["analysis_version"] == ANALYSIS_VERSION


def test_it_recovers_the_coated_cells_long_run(coated):
    _, _, cycles = coated
    assert list(cycles.columns) == CYCLE_COLUMNS
    assert len(cycles) == 502
    by = cycles.set_index("cycle")
    assert by.loc[3, "discharge_mah_g"] == pytest.approx(139.8, rel=1e-3)
    assert by.loc[502, "discharge_mah_g"] == pytest.approx(88.6, rel=1e-3)
    run = run_metrics(cycles)
    assert run["initial_ce_percent"] == pytest.approx(85.8, abs=0.05)
    assert run["decay_percent_per_cycle"] == pytest.approx(0.090, abs=0.0005)
    assert run["decay_reference_cycle"] == 1
    assert run["decay_cycles"] == 500
    assert run["retention_reference_cycle"] == 3
    assert run["retention_percent"] == pytest.approx(88.6 / 139.8 * 100, rel=1e-3)
    assert run["capacity_at_cycle"]["502"] == pytest.approx(88.6, rel=1e-3)
    # 80 % of 139.8 is 111.84 mAh/g, reached between 300 and 310 cycles into the C/3 run.
    assert 295 <= run["cycles_to_80_percent"] <= 310
    assert run["cycles_to_70_percent"] > run["cycles_to_80_percent"]


def test_it_labels_c_rates_and_segments(coated):
    _, _, cycles = coated
    assert list(cycles["c_rate_label"][:3]) == ["0.1C", "0.1C", "C/3"]
    assert cycles["c_rate"].iloc[0] == pytest.approx(0.1, rel=1e-6)
    assert cycles["c_rate"].iloc[5] == pytest.approx(1 / 3, rel=1e-6)
    assert list(cycles["segment"][:2]) == ["formation", "formation"]
    assert (cycles["segment"][2:] == "long-term").all()
    assert not cycles["is_partial"].any()


def test_it_recovers_the_bare_cell(bare):
    _, _, cycles, _ = bare
    c1 = cycles.iloc[0]
    assert c1["charge_mah_g"] == pytest.approx(76.0, rel=1e-3)
    assert c1["discharge_mah_g"] == pytest.approx(41.4, rel=1e-3)
    assert c1["ce_percent"] == pytest.approx(54.5, abs=0.05)
    assert cycles.set_index("cycle").loc[200, "discharge_mah_g"] < 1.0
    run = run_metrics(cycles)
    assert run["cycles_to_80_percent"] is not None and run["cycles_to_80_percent"] < 100


def test_it_recovers_the_rate_test(rate_cell):
    _, info, cycles = rate_cell
    by_label = cycles[cycles["segment"] == "rate-test"].groupby("c_rate_label")["discharge_mah_g"].mean()
    assert by_label["1C"] == pytest.approx(104.7, rel=1e-3)
    assert by_label["0.1C"] > by_label["0.2C"] > by_label["0.5C"] > by_label["1C"]
    assert list(cycles["segment"]) == list(info["segments"])
    labels = cycles["c_rate_label"].tolist()
    assert labels[:5] == ["0.1C"] * 5 and labels[5:8] == ["0.2C"] * 3
    assert labels[8:11] == ["0.5C"] * 3 and labels[11:14] == ["1C"] * 3 and labels[17] == "C/3"


def test_it_names_c_rates():
    assert c_rate_label(0.1) == "0.1C"
    assert c_rate_label(0.33) == "C/3"
    assert c_rate_label(0.48) == "0.5C"
    assert c_rate_label(1.1) == "1C"
    assert c_rate_label(float("nan")) == ""


# --- dQ/dV ------------------------------------------------------------------------------------------


def test_it_finds_the_dqdv_peaks_where_the_simulator_put_them(coated):
    _, info, cycles = coated
    err_c = np.abs(cycles["dqdv_peak_charge_v"] - info["peak_charge_v"])
    err_d = np.abs(cycles["dqdv_peak_discharge_v"] - info["peak_discharge_v"])
    assert err_c.max() < 0.015
    assert err_d.max() < 0.015
    assert err_c.median() < 0.005
    assert err_d.median() < 0.006


def test_it_keeps_one_redox_pair_for_the_coated_cell(coated):
    records, _, _ = coated
    peaks = dqdv_peak_table(dqdv_all(records, cycles=[1, 50, 150, 300, 500]), prominence_fraction=0.1)
    assert (peaks.groupby(["cycle", "half"]).size() == 1).all()
    assert peaks["voltage_v"][peaks["half"] == "charge"].between(3.08, 3.12).all()
    assert peaks["voltage_v"][peaks["half"] == "discharge"].between(2.98, 3.02).all()


def test_it_sees_the_bare_cell_gain_high_voltage_peaks_after_100_cycles(bare):
    _, info, _, curves = bare
    peaks = dqdv_peak_table(curves, prominence_fraction=0.1)
    high = peaks[peaks["voltage_v"] > 3.35]
    assert high[high["cycle"] <= 100].empty
    for half, expected in (("charge", 3.55), ("discharge", 3.45)):
        cycles_with = set(high.loc[high["half"] == half, "cycle"])
        assert set(range(120, 201)) <= cycles_with
        assert high.loc[high["half"] == half, "voltage_v"].sub(expected).abs().max() < 0.015


def test_it_tracks_a_peak_shifting_a_known_mv_per_cycle():
    spec = simple_spec(40, peak_shift_mv_per_cycle=2.0, noise_v=0.001)
    records = simulate_cell(spec, seed=3)
    peaks = dqdv_peak_table(dqdv_all(records))
    charge = track_peak(peaks, "charge", 3.10)
    discharge = track_peak(peaks, "discharge", 3.00)
    assert len(charge) == len(discharge) == 40
    assert charge.attrs["drift_mv_per_cycle"] == pytest.approx(2.0, abs=0.1)
    assert discharge.attrs["drift_mv_per_cycle"] == pytest.approx(-2.0, abs=0.1)
    assert charge["voltage_v"].iloc[-1] == pytest.approx(3.10 + 0.078, abs=0.01)


def test_it_makes_no_dqdv_spikes_from_cv_rests_or_noise():
    clean = simulate_cell(simple_spec(3, noise_v=0.0, cv_fraction=0.15))
    noisy = simulate_cell(simple_spec(3, noise_v=0.004, cv_fraction=0.15, points_per_half_cycle=400), seed=7)
    ref = dqdv(clean, 2, "charge")
    top = ref["dqdv_mah_v"].max()
    for recs in (clean, noisy):
        for half, centre in (("charge", 3.10), ("discharge", 3.00)):
            curve = dqdv(recs, 2, half)
            assert np.isfinite(curve["dqdv_mah_v"]).all()
            # Nothing above the redox peak: not at the CV hold (3.78 V), not at plateaus.
            assert curve["dqdv_mah_v"].max() < 1.3 * top
            peaks = dqdv_peaks(curve, prominence_fraction=0.1)
            assert len(peaks) == 1
            assert peaks["voltage_v"].iloc[0] == pytest.approx(centre, abs=0.015)
            if half == "charge":
                near_cutoff = curve[curve["voltage_v"] > 3.7]["dqdv_mah_v"]
                assert near_cutoff.max() < 0.2 * top


def test_it_excludes_cv_even_without_step_modes():
    records = simulate_cell(simple_spec(2, cv_fraction=0.2, noise_v=0.0))
    blind = records.assign(step_mode="")
    a, b = dqdv(records, 1, "charge"), dqdv(blind, 1, "charge")
    assert b["dqdv_mah_v"].max() == pytest.approx(a["dqdv_mah_v"].max(), rel=0.02)
    assert b[b["voltage_v"] > 3.7]["dqdv_mah_v"].max() < 0.2 * a["dqdv_mah_v"].max()


def test_it_integrates_dqdv_back_to_the_cc_capacity():
    records = simulate_cell(simple_spec(2, noise_v=0.0, cv=False, points_per_half_cycle=300))
    curve = dqdv(records, 1, "discharge", DqdvParams(smooth=False))
    area = np.trapezoid(curve["dqdv_mah_v"], curve["voltage_v"])
    assert area == pytest.approx(145.0 * SimSpec((1,), (1,)).active_mass_mg / 1000.0, rel=0.02)


# --- other layouts ----------------------------------------------------------------------------------


def test_it_handles_discharge_first_cells():
    spec = SimSpec(charge_mah_g=(140.0, 150.0, 151.0), discharge_mah_g=(160.0, 152.0, 151.5),
                   c_rates=0.1, first_half="discharge")
    cycles = summarize_cycles(simulate_cell(spec), CellSpec(spec.active_mass_mg, spec.area_cm2, 160))
    assert cycles.attrs["first_half"] == "discharge"
    assert cycles.attrs["ce_convention"] == "charge/discharge"
    assert list(cycles["cycle"]) == [1, 2, 3]
    np.testing.assert_allclose(cycles["ce_percent"], [140 / 160 * 100, 150 / 152 * 100, 151 / 151.5 * 100])
    run = run_metrics(cycles)
    assert run["capacity_half"] == "charge"
    assert run["initial_ce_percent"] == pytest.approx(87.5)


def test_it_flags_the_partial_last_cycle():
    records = simulate_cell(simple_spec(4, partial_last=True))
    cycles = summarize_cycles(records, CellSpec(6.597, 0.7854, 160))
    assert list(cycles["is_partial"]) == [False, False, False, True]
    assert np.isnan(cycles["ce_percent"].iloc[-1])
    assert np.isnan(cycles["discharge_mah"].iloc[-1])
    run = run_metrics(cycles)
    assert run["n_cycles"] == 3 and run["n_partial_cycles"] == 1
    assert run["last_cycle"] == 3


def test_it_leaves_per_gram_values_nan_without_mass():
    records = simulate_cell(simple_spec(3))
    cycles = summarize_cycles(records, CellSpec(None, None, 160))
    for col in ("charge_mah_g", "discharge_mah_g", "charge_mah_cm2", "discharge_mah_cm2", "charge_wh_kg",
                "c_rate"):
        assert cycles[col].isna().all(), col
    assert cycles["charge_mah"].notna().all()
    assert (cycles["c_rate_label"] == "").all()
    assert run_metrics(cycles)["capacity_unit"] == "mAh"
    no_area = summarize_cycles(records, CellSpec(6.597, None, 160))
    assert no_area["charge_mah_g"].notna().all() and no_area["charge_mah_cm2"].isna().all()


def test_it_takes_the_running_maximum_not_the_sum_of_steps():
    records = simulate_cell(simple_spec(3, split_discharge_cycles=(2,)))
    cycles = summarize_cycles(records, CellSpec(6.597, 0.7854, 160))
    assert cycles["discharge_mah_g"].iloc[1] == pytest.approx(145.0, rel=1e-3)


# --- hand-computed ----------------------------------------------------------------------------------


def hand_frame():
    """Two cycles, 10 mg active, 1 cm2, 100 mAh/g (1C = 1 mA). Charge CC 0->1.0 then CV to 1.2 mAh."""
    rows = [
        # cycle, kind, mode, t, I, V, Q, E
        (1, "rest", "", 0, 0.0, 2.9, 0.0, 0.0),
        (1, "rest", "", 100, 0.0, 2.9, 0.0, 0.0),
        (1, "charge", "CC", 100, 0.1, 3.0, 0.0, 0.0),
        (1, "charge", "CC", 18100, 0.1, 3.2, 0.5, 1.55),
        (1, "charge", "CC", 36100, 0.1, 3.4, 1.0, 3.2),
        (1, "charge", "CV", 36100, 0.05, 3.4, 1.0, 3.2),
        (1, "charge", "CV", 40000, 0.02, 3.4, 1.2, 3.88),
        (1, "rest", "", 40000, 0.0, 3.3, 1.2, 3.88),
        (1, "discharge", "CC", 40100, -0.1, 3.3, 0.0, 0.0),
        (1, "discharge", "CC", 58100, -0.1, 3.1, 0.5, 1.6),
        (1, "discharge", "CC", 76100, -0.1, 2.9, 1.0, 3.1),
        (1, "rest", "", 76200, 0.0, 3.0, 1.0, 3.1),
        (2, "charge", "CC", 76200, 0.1, 3.0, 0.0, 0.0),
        (2, "charge", "CC", 92400, 0.1, 3.2, 0.45, 1.4),
        (2, "charge", "CC", 108600, 0.1, 3.4, 0.9, 2.9),
        (2, "discharge", "CC", 108700, -0.1, 3.3, 0.0, 0.0),
        (2, "discharge", "CC", 123100, -0.1, 3.1, 0.4, 1.28),
        (2, "discharge", "CC", 137500, -0.1, 2.9, 0.8, 2.48),
    ]
    df = pd.DataFrame(rows, columns=["cycle", "step_kind", "step_mode", "test_time_s", "current_ma",
                                     "voltage_v", "capacity_mah", "energy_mwh"])
    df.insert(0, "record", np.arange(1, len(df) + 1))
    step_change = (df["step_kind"] != df["step_kind"].shift()) | (df["step_mode"] != df["step_mode"].shift())
    df["step"] = step_change.cumsum()
    df["step_time_s"] = df["test_time_s"] - df.groupby("step")["test_time_s"].transform("first")
    df["sys_time"] = pd.NaT
    return df


def test_it_computes_a_two_cycle_frame_by_hand():
    cycles = summarize_cycles(hand_frame(), CellSpec(10.0, 1.0, 100.0))
    c1, c2 = cycles.iloc[0], cycles.iloc[1]
    assert (c1["first_record"], c1["last_record"], c2["first_record"], c2["last_record"]) == (1, 12, 13, 18)
    assert c1["duration_s"] == 76200 and c2["start_time_s"] == 76200
    assert c1["charge_mah"] == 1.2 and c1["discharge_mah"] == 1.0
    assert c1["charge_mah_g"] == pytest.approx(120.0)
    assert c1["discharge_mah_g"] == pytest.approx(100.0)
    assert c1["charge_mah_cm2"] == pytest.approx(1.2)
    assert c1["ce_percent"] == pytest.approx(100 / 120 * 100)
    assert c1["charge_energy_mwh"] == 3.88
    assert c1["charge_wh_kg"] == pytest.approx(388.0)
    assert c1["discharge_wh_kg"] == pytest.approx(310.0)
    assert c1["mean_charge_v"] == pytest.approx(3.88 / 1.2)
    assert c1["mean_discharge_v"] == pytest.approx(3.1)
    assert c1["hysteresis_v"] == pytest.approx(3.88 / 1.2 - 3.1)
    assert c1["median_charge_v"] == 3.4  # first record at >= 0.6 mAh
    assert c1["median_discharge_v"] == 3.1  # first record at >= 0.5 mAh
    assert c1["cc_charge_fraction"] == pytest.approx(1.0 / 1.2)
    assert c2["cc_charge_fraction"] == 1.0
    assert c1["c_rate"] == pytest.approx(0.1) and c1["c_rate_label"] == "0.1C"
    assert c2["ce_percent"] == pytest.approx(0.8 / 0.9 * 100)
    assert list(cycles["is_partial"]) == [False, False]
    run = run_metrics(cycles)
    assert run["decay_percent_per_cycle"] == pytest.approx((100 - 80) / 100 / 1 * 100)
    assert run["retention_percent"] == pytest.approx(80.0)


def test_it_falls_back_to_integrating_energy_when_land_has_none():
    frame = hand_frame().assign(energy_mwh=np.nan)
    c1 = summarize_cycles(frame, CellSpec(10.0, 1.0, 100.0)).iloc[0]
    # Trapezoids of V dQ: 0.5*3.1 + 0.5*3.3 + 0*3.4 + 0.2*3.4 = 3.88 mWh
    assert c1["charge_energy_mwh"] == pytest.approx(3.88)
    assert c1["discharge_energy_mwh"] == pytest.approx(0.5 * 3.2 + 0.5 * 3.0)


# --- run metrics helpers ----------------------------------------------------------------------------


def test_it_finds_a_knee_by_two_line_fit():
    cyc = np.arange(1, 401)
    cap = np.where(cyc < 250, 150 - 0.02 * cyc, 150 - 0.02 * 250 - 0.3 * (cyc - 250))
    assert knee_point(cyc, cap) == pytest.approx(250, abs=2)
    assert knee_point(cyc, 150 - 0.05 * cyc) is None
    assert knee_point(cyc[:6], cap[:6]) is None


def test_it_measures_decay_per_window():
    cyc = np.arange(1, 301)
    windows = window_decay(cyc, 100 - 0.05 * cyc, 100.0, window=100)
    assert [w["start_cycle"] for w in windows] == [1, 101, 201]
    assert all(w["percent_per_cycle"] == pytest.approx(0.05) for w in windows)


def test_it_returns_none_where_metrics_are_undefined():
    cycles = summarize_cycles(simulate_cell(simple_spec(2)), CellSpec(6.597, 0.7854, 160))
    run = run_metrics(cycles)
    assert run["cycles_to_80_percent"] is None
    assert run["knee_cycle"] is None
    assert run["long_term_first_cycle"] is None


# --- LAND cross-check -------------------------------------------------------------------------------


def test_it_cross_checks_against_lands_cycle_tab():
    cycles = summarize_cycles(simulate_cell(simple_spec(3)), CellSpec(6.597, 0.7854, 160))
    land = cycles[["cycle", "charge_mah", "discharge_mah"]].copy()
    assert cross_check(cycles, land) == []
    close = land.assign(discharge_mah=land["discharge_mah"] * 1.001)
    assert cross_check(cycles, close) == []
    off = land.copy()
    off.loc[1, "charge_mah"] *= 1.01
    warnings = cross_check(cycles, off)
    assert len(warnings) == 1
    assert "cycle 2" in warnings[0] and "charge" in warnings[0]
    assert f"{cycles['charge_mah'].iloc[1]:.5g}" in warnings[0]
    assert f"{off['charge_mah'].iloc[1]:.5g}" in warnings[0]
    assert cross_check(cycles, None) == []


# --- invariants -------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 12),
    first_half=st.sampled_from(["charge", "discharge"]),
    rate=st.sampled_from([0.05, 0.1, 0.2, 1 / 3, 0.5, 1.0, 2.0]),
    cap=st.floats(5.0, 220.0),
    ce=st.floats(0.5, 1.0),
    cv=st.booleans(),
    partial=st.booleans(),
    ppc=st.integers(8, 80),
    seed=st.integers(0, 2**16),
)
def test_it_keeps_its_invariants_on_random_cells(n, first_half, rate, cap, ce, cv, partial, ppc, seed):
    rng = np.random.default_rng(seed)
    first = cap * rng.uniform(0.9, 1.1, n)
    second = first * ce
    charge, discharge = (first, second) if first_half == "charge" else (second, first)
    spec = SimSpec(charge_mah_g=tuple(charge), discharge_mah_g=tuple(discharge), c_rates=rate,
                   first_half=first_half, cv=cv, partial_last=partial and n > 1, points_per_half_cycle=ppc)
    cycles = summarize_cycles(simulate_cell(spec, seed=seed), CellSpec(spec.active_mass_mg, spec.area_cm2, 160))
    assert len(cycles) == n
    assert list(cycles["cycle"]) == list(range(1, n + 1))
    assert (cycles[["charge_mah", "discharge_mah"]].fillna(0) >= 0).all().all()
    done = cycles[~cycles["is_partial"]]
    assert done["ce_percent"].between(0, 101).all()
    np.testing.assert_allclose(done["ce_percent"], ce * 100, rtol=1e-6)
    np.testing.assert_allclose(done["c_rate"], rate, rtol=1e-6)
    assert cycles["is_partial"].sum() == (1 if partial and n > 1 else 0)
    assert (cycles["duration_s"] >= 0).all()
    assert cycles.attrs["first_half"] == first_half


def test_it_analyses_everything_at_once(coated):
    records, info, _ = coated
    export = SimpleNamespace(records=records.iloc[:3000], cycle_table=None, warnings=["from the parser"])
    result = analyse(export, spec_of(info))
    assert result.run["initial_ce_percent"] == pytest.approx(85.8, abs=0.05)
    assert result.cycle_source == "land" and result.warnings[0] == "from the parser"
    assert len(result.curves.cycle) == 2 * len(result.cycles) - int(result.cycles["is_partial"].iloc[-1])


@pytest.mark.parametrize("bad, field", [
    ({"grid_mv": 0}, "grid_mv"), ({"grid_mv": float("nan")}, "grid_mv"), ({"window_points": 20}, "window_points"),
    ({"window_points": 1}, "window_points"), ({"polyorder": 21}, "polyorder"), ({"polyorder": -1}, "polyorder"),
])
def test_it_refuses_bad_dqdv_params_naming_the_field(bad, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        DqdvParams(**bad)


def test_it_uses_the_dqdv_params_it_is_given():
    records = simulate_cell(simple_spec(n_cycles=2))
    fine, coarse = dqdv_all(records), dqdv_all(records, DqdvParams(grid_mv=10.0, window_points=11))
    assert fine.params == DqdvParams() and coarse.params.grid_mv == 10.0
    assert np.diff(fine.voltage_v)[0] == pytest.approx(0.005) and np.diff(coarse.voltage_v)[0] == pytest.approx(0.010)
