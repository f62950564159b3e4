"""Plausibility checks: each finding triggered by a small, known edit of a simulated cell, none on the study cells."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cycling.analysis import CellSpec, summarize_cycles
from cycling.analysis.checks import (
    PEAK_TRACK_COLUMNS,
    Finding,
    cycle_identity_checks,
    derive_cycles,
    peak_drift,
    peak_tracking,
    resolve_cycles,
    sanity_checks,
)
from cycling.simulate import (
    STUDY_ACTIVE_MASS_MG,
    STUDY_THEORETICAL_MAH_G,
    STUDY_V_MAX,
    STUDY_V_MIN,
    simple_spec,
    simulate_cell,
    study_cell,
)

ROOT = Path(__file__).resolve().parents[2]
WINDOW = (STUDY_V_MIN, STUDY_V_MAX)


@pytest.fixture(scope="module")
def coated60():
    records, info = study_cell("coated", n_cycles=60)
    return records


def run_checks(records, *, mass=STUDY_ACTIVE_MASS_MG, **kw):
    cycles = summarize_cycles(records, CellSpec(active_mass_mg=mass, theoretical_mah_g=STUDY_THEORETICAL_MAH_G))
    return sanity_checks(records, cycles, theoretical_mah_g=STUDY_THEORETICAL_MAH_G, active_mass_mg=mass,
                         voltage_window_v=WINDOW, **kw)


def of(findings, code):
    return [f for f in findings if f.code == code]


def records_of(records, cycle, kind):
    return records.loc[(records["cycle"] == cycle) & (records["step_kind"] == kind), "record"].to_numpy()


# --- no false alarms -------------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["coated", "bare"])
def test_it_finds_nothing_in_the_unmodified_study_cells(group):
    records, info = study_cell(group, n_cycles=502)
    assert run_checks(records) == []
    assert cycle_identity_checks(records) == []
    assert resolve_cycles(records)[1] == "land"
    np.testing.assert_array_equal(derive_cycles(records), records["cycle"].to_numpy())


def test_it_does_not_take_a_sparsely_logged_rest_next_to_dense_cc_records_for_a_pause():
    # 700 records per half cycle (~1 min apart at 0.1C) after a 3 h rest logged every 36 min.
    records, _ = study_cell("coated", n_cycles=20, points_per_half_cycle=700)
    assert records["test_time_s"].diff().iloc[1] == pytest.approx(2160.0)
    assert run_checks(records) == []


def test_it_finds_nothing_in_a_study_cell_with_a_rate_test():
    records, _ = study_cell("coated", n_cycles=60, rate_test=True)
    assert run_checks(records) == []
    assert cycle_identity_checks(records) == []


def test_it_does_not_flag_the_first_charge_above_theoretical_during_formation(coated60):
    # The coated cell's first charge is 188.2 mAh/g against 160 mAh/g: irreversible capacity, not an error.
    cycles = summarize_cycles(coated60, CellSpec(active_mass_mg=STUDY_ACTIVE_MASS_MG))
    assert cycles["charge_mah_g"].iloc[0] == pytest.approx(188.2, rel=1e-3)
    assert of(run_checks(coated60), "capacity_above_theoretical") == []
    flagged = run_checks(coated60, formation_cycles=0)
    assert [f.cycles for f in of(flagged, "capacity_above_theoretical")] == [[1]]


# --- sanity checks ---------------------------------------------------------------------------------


def test_it_reports_current_with_the_wrong_sign_and_its_record_range(coated60):
    records = coated60.copy()
    charge = records_of(records, 20, "charge")
    flipped = charge[10:25]
    records.loc[records["record"].isin(flipped), "current_ma"] *= -1
    found = run_checks(records)
    sign = of(found, "current_sign_vs_state")
    assert len(sign) == 1
    assert (sign[0].first_record, sign[0].last_record) == (int(flipped[0]), int(flipped[-1])) == (2715, 2729)
    assert sign[0].cycles == [20]
    assert f"records {flipped[0]:,}–{flipped[-1]:,}" in sign[0].message
    assert "cycle 20" in sign[0].message
    assert sign[0].severity == "warning"


def test_it_groups_the_ranges_of_one_code_into_one_finding_with_the_cycle_ranges(coated60):
    records = coated60.copy()
    flips = [records_of(records, c, "discharge")[5:8] for c in [*range(20, 35), 40, 41]]
    records.loc[records["record"].isin(np.concatenate(flips)), "current_ma"] *= -1
    sign = of(run_checks(records), "current_sign_vs_state")
    assert len(sign) == 1
    assert sign[0].cycles == [*range(20, 35), 40, 41]
    assert (sign[0].first_record, sign[0].last_record) == (int(flips[0][0]), int(flips[-1][-1]))
    assert sign[0].message.startswith(f"Current has the wrong sign for a discharge step in records "
                                      f"{flips[0][0]:,}–{flips[0][-1]:,} (cycle 20)")
    assert (f"The same in 17 ranges with a wrong current sign in all, cycles 20–34, 40–41 "
            f"(records {flips[0][0]:,}–{flips[-1][-1]:,}).") in sign[0].message


def test_it_reports_a_two_hour_pause_between_the_two_records(coated60):
    records = coated60.copy()
    discharge = records_of(records, 30, "discharge")
    before, after = int(discharge[20]), int(discharge[21])
    records.loc[records["record"] >= after, "test_time_s"] += 7200.0
    gaps = of(run_checks(records), "time_gap")
    assert len(gaps) == 1
    assert (gaps[0].first_record, gaps[0].last_record) == (before, after)
    assert gaps[0].cycles == [30]
    assert (before, after) == (4221, 4222)
    assert gaps[0].message.startswith("Test time jumps 2.0 h between records 4,221 and 4,222 (cycle 30) while the "
                                      "logging interval around it is ~2.6 min")
    assert of(run_checks(records), "time_backwards") == []


def test_it_reports_time_going_backwards_with_the_records_behind(coated60):
    records = coated60.copy()
    charge = records_of(records, 40, "charge")
    back = charge[30:36]
    records.loc[records["record"].isin(back), "test_time_s"] -= 5000.0
    found = run_checks(records)
    backwards = of(found, "time_backwards")
    assert len(backwards) == 1
    assert (backwards[0].first_record, backwards[0].last_record) == (int(back[0]), int(back[-1]))
    assert backwards[0].cycles == [40]
    assert "records 5,575–5,580 (cycle 40): they are up to 1.3 h earlier" in backwards[0].message
    # Catching up again after the backward step is not a pause.
    assert of(found, "time_gap") == []


def test_it_reports_voltage_above_the_cell_window(coated60):
    records = coated60.copy()
    charge = records_of(records, 12, "charge")
    high = charge[40:44]
    records.loc[records["record"].isin(high), "voltage_v"] = 3.95
    volt = of(run_checks(records), "voltage_outside_window")
    assert len(volt) == 1
    assert (volt[0].first_record, volt[0].last_record) == (int(high[0]), int(high[-1])) == (1609, 1612)
    assert "3.9500 V" in volt[0].message and "above" in volt[0].message


def test_it_tolerates_voltage_within_20_mv_of_the_window(coated60):
    records = coated60.copy()
    records.loc[records["record"].isin(records_of(records, 12, "charge")[40:44]), "voltage_v"] = STUDY_V_MAX + 0.015
    assert of(run_checks(records), "voltage_outside_window") == []


def test_it_tolerates_30_mv_by_default_and_flags_35_mv_naming_the_tolerance(coated60):
    records = coated60.copy()
    high = records_of(records, 12, "charge")[40:44]
    records.loc[records["record"].isin(high), "voltage_v"] = STUDY_V_MAX + 0.029
    assert of(run_checks(records), "voltage_outside_window") == []
    records.loc[records["record"].isin(high), "voltage_v"] = STUDY_V_MAX + 0.035
    volt = of(run_checks(records), "voltage_outside_window")
    assert len(volt) == 1 and "tolerance 30 mV" in volt[0].message and "3.8150 V" in volt[0].message


def test_it_widens_the_tolerance_to_the_cyclers_cut_off(coated60):
    records = coated60.copy()
    high = records_of(records, 12, "charge")[40:44]
    records.loc[records["record"].isin(high), "voltage_v"] = STUDY_V_MAX + 0.045
    assert len(of(run_checks(records), "voltage_outside_window")) == 1
    # 45 mV is beyond max(30 mV, a cut-off 20 mV past the window), but within a cut-off 50 mV past it.
    assert len(of(run_checks(records, cutoff_voltage_v=(STUDY_V_MIN, STUDY_V_MAX + 0.02)),
                  "voltage_outside_window")) == 1
    assert of(run_checks(records, cutoff_voltage_v=(STUDY_V_MIN, STUDY_V_MAX + 0.05)),
              "voltage_outside_window") == []


def test_a_502_cycle_study_file_cut_off_at_3_80_v_has_no_window_warning_and_a_wide_overshoot_is_one_line():
    # The study's cells: 2.5–4.4 V vs Li with the In-Li anode = 1.88–3.78 V, the cycler cuts off at 3.80 V.
    records, _ = study_cell("coated", n_cycles=502, points_per_half_cycle=20, v_max=3.80)
    assert records["voltage_v"].max() > STUDY_V_MAX + 0.02  # the overshoot that used to be flagged
    assert of(run_checks(records), "voltage_outside_window") == []
    over, _ = study_cell("coated", n_cycles=502, points_per_half_cycle=20, v_max=3.85)
    volt = of(run_checks(over), "voltage_outside_window")
    assert len(volt) == 1
    assert volt[0].cycles == list(range(1, 503))
    assert "The same in 502 ranges outside the voltage window in all, cycles 1–502" in volt[0].message


def test_it_flags_capacity_above_theoretical_from_a_wrong_mass(coated60):
    # A mass entered 10 % low makes the 0.1C discharges 161.4 / 0.9 = 179.3 mAh/g > 1.1 x 160.
    found = run_checks(coated60, mass=0.9 * STUDY_ACTIVE_MASS_MG)
    cap = of(found, "capacity_above_theoretical")
    assert len(cap) == 1
    assert cap[0].cycles == [1, 2]
    first, last = int(coated60["record"].iloc[0]), int(coated60.loc[coated60["cycle"] == 2, "record"].max())
    assert (cap[0].first_record, cap[0].last_record) == (first, last) == (1, 290)
    assert "179.3 mAh/g (discharge, 12 % above)" in cap[0].message


def test_it_flags_ce_of_120_percent_after_formation():
    discharge = [135.0] * 10
    discharge[4] = discharge[5] = 168.0  # cycles 5 and 6: 168 / 140 = 120 %
    records = simulate_cell(simple_spec(10, charge_mah_g=(140.0,) * 10, discharge_mah_g=tuple(discharge)))
    cycles = summarize_cycles(records, CellSpec(active_mass_mg=STUDY_ACTIVE_MASS_MG))
    found = sanity_checks(records, cycles, theoretical_mah_g=160.0, active_mass_mg=STUDY_ACTIVE_MASS_MG,
                          voltage_window_v=WINDOW)
    assert [f.code for f in found] == ["ce_out_of_range"]
    assert found[0].cycles == [5, 6]
    first = int(cycles.loc[cycles["cycle"] == 5, "first_record"].iloc[0])
    last = int(cycles.loc[cycles["cycle"] == 6, "last_record"].iloc[0])
    assert (found[0].first_record, found[0].last_record) == (first, last)
    assert "up to 120.0 %" in found[0].message


def test_it_flags_ce_below_50_percent_only_after_formation():
    # The bare cell's ICE of 54.5 % is fine; a 40 % cycle 3 (and a 40 % cycle 1, in formation) is judged apart.
    discharge = [56.0, 100.0, 56.0, 130.0, 130.0]
    records = simulate_cell(simple_spec(5, charge_mah_g=(140.0,) * 5, discharge_mah_g=tuple(discharge)))
    found = sanity_checks(records, None, active_mass_mg=STUDY_ACTIVE_MASS_MG)
    ce = of(found, "ce_out_of_range")
    assert [f.cycles for f in ce] == [[3]]
    assert "down to 40.0 %" in ce[0].message


def test_it_says_once_that_per_gram_values_wait_for_the_mass(coated60):
    found = sanity_checks(coated60, None, theoretical_mah_g=160.0, active_mass_mg=None, voltage_window_v=WINDOW)
    assert [(f.code, f.severity) for f in found] == [("mass_missing", "info")]
    assert "until the mass is entered" in found[0].message


def test_it_serialises_findings_to_plain_json(coated60):
    records = coated60.copy()
    records.loc[records["record"].isin(records_of(records, 12, "charge")[40:44]), "voltage_v"] = 3.95
    found = run_checks(records)
    assert all(isinstance(f, Finding) for f in found)
    payload = json.loads(json.dumps([f.as_dict() for f in found]))
    assert set(payload[0]) == {"code", "severity", "message", "first_record", "last_record", "cycles"}


# --- cycle identity --------------------------------------------------------------------------------


def test_it_derives_cycles_for_a_discharge_first_cell():
    records = simulate_cell(simple_spec(6, first_half="discharge"))
    np.testing.assert_array_equal(derive_cycles(records), records["cycle"].to_numpy())
    assert cycle_identity_checks(records) == []


def test_a_discharge_first_file_on_a_charge_first_cell_gets_one_finding_and_keeps_lands_index():
    records = simulate_cell(simple_spec(15, first_half="discharge"))
    found = cycle_identity_checks(records, "charge")
    assert [f.code for f in found] == ["first_half_mismatch"]
    first_discharge = int(records.loc[records["step_kind"] == "discharge", "record"].min())
    assert (f"registered charge-first, but this file starts with a discharge (record {first_discharge:,})"
            in found[0].message)
    assert "CE = discharge/charge" in found[0].message and "'First half-cycle'" in found[0].message
    assert "LAND's cycle index is self-consistent and is kept" in found[0].message
    cycles, source = resolve_cycles(records, "charge")
    assert source == "land"
    np.testing.assert_array_equal(cycles, records["cycle"].to_numpy())
    assert cycles.max() == 15


def test_a_charge_first_file_registered_charge_first_gets_no_first_half_finding(coated60):
    assert of(cycle_identity_checks(coated60, "charge"), "first_half_mismatch") == []


def test_a_wrong_registration_with_a_broken_index_still_uses_derived_cycles(coated60):
    records = coated60.copy()
    records.loc[records["cycle"] >= 11, "cycle"] -= 1
    found = cycle_identity_checks(records, "discharge")
    assert [f.code for f in found][:2] == ["first_half_mismatch", "cycle_index_not_advancing"]
    assert "LAND's cycle index is not usable either way" in found[0].message
    assert resolve_cycles(records, "discharge")[1] == "derived"


def test_it_flags_two_cycles_merged_under_one_index_and_uses_derived_cycles(coated60):
    records = coated60.copy()
    original = records["cycle"].to_numpy().copy()
    records.loc[records["cycle"] >= 11, "cycle"] -= 1  # LAND's index did not advance from 10 to 11
    found = cycle_identity_checks(records)
    assert [f.code for f in found] == ["cycle_index_not_advancing"]
    first = int(coated60.loc[coated60["cycle"] == 10, "record"].min())
    last = int(coated60.loc[coated60["cycle"] == 11, "record"].max())
    assert (found[0].first_record, found[0].last_record) == (first, last) == (1285, 1568)
    assert found[0].cycles == [10]
    assert "LAND's cycle index 10 covers 2 charge/discharge pairs" in found[0].message
    cycles, source = resolve_cycles(records)
    assert source == "derived"
    np.testing.assert_array_equal(cycles, original)
    merged = summarize_cycles(records.assign(cycle=cycles), CellSpec(active_mass_mg=STUDY_ACTIVE_MASS_MG))
    assert len(merged) == 60


def test_it_flags_a_capacity_counter_that_does_not_reset(coated60):
    records = coated60.copy()
    charge_end = records.loc[(records["cycle"] == 7) & (records["step_kind"] == "charge"), "capacity_mah"].max()
    discharge = records_of(records, 7, "discharge")
    records.loc[records["record"].isin(discharge), "capacity_mah"] += charge_end
    found = cycle_identity_checks(records)
    assert [f.code for f in found] == ["capacity_counter_not_reset"]
    assert (found[0].first_record, found[0].last_record) == (int(discharge[0]), int(discharge[-1])) == (935, 994)
    assert found[0].cycles == [7]
    assert "changed to discharge" in found[0].message


def test_it_flags_a_land_index_that_changes_mid_cycle(coated60):
    records = coated60.copy()
    discharge = records_of(records, 8, "discharge")
    records.loc[records["record"].isin(discharge), "cycle"] = 9
    mismatch = of(cycle_identity_checks(records), "cycle_index_mismatch")
    assert len(mismatch) == 1
    assert mismatch[0].cycles == [8, 9]
    assert mismatch[0].first_record == int(coated60.loc[coated60["cycle"] == 8, "record"].min())
    assert mismatch[0].last_record == int(coated60.loc[coated60["cycle"] == 8, "record"].max())


def test_it_flags_a_restarted_channel_and_counts_cycles_on():
    part = simulate_cell(simple_spec(4))
    records = pd.concat([part, part], ignore_index=True)  # record numbers and test time start over
    found = cycle_identity_checks(records)
    assert [f.code for f in found] == ["channel_restarted"]
    n = len(part)
    assert (found[0].first_record, found[0].last_record) == (n, 1)
    derived = derive_cycles(records)
    np.testing.assert_array_equal(derived, np.concatenate([part["cycle"], part["cycle"] + 4]))
    cycles, source = resolve_cycles(records)
    assert source == "derived" and cycles.max() == 8
    assert of(sanity_checks(records, None, active_mass_mg=STUDY_ACTIVE_MASS_MG), "time_backwards")


# --- dQ/dV peaks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [2.0, -1.5])
def test_it_tracks_a_peak_drifting_a_known_mv_per_cycle(shift):
    spec = simple_spec(20, peak_shift_mv_per_cycle=shift, points_per_half_cycle=200)
    peaks = peak_tracking(simulate_cell(spec))
    assert list(peaks.columns) == PEAK_TRACK_COLUMNS
    drift = peak_drift(peaks).set_index("peak_id")
    assert list(drift.index) == ["charge-1", "discharge-1"]
    assert drift.loc["charge-1", "n_cycles"] == 20
    assert drift.loc["charge-1", "drift_mv_per_cycle"] == pytest.approx(shift, abs=0.1)
    assert drift.loc["discharge-1", "drift_mv_per_cycle"] == pytest.approx(-shift, abs=0.1)
    assert drift.loc["charge-1", "first_voltage_v"] == pytest.approx(3.10, abs=0.005)


def test_it_keeps_one_redox_pair_for_the_coated_cell_and_finds_new_high_voltage_peaks_on_the_bare_one():
    coated, _ = study_cell("coated", n_cycles=200)
    bare, _ = study_cell("bare", n_cycles=200)
    coated_drift = peak_drift(peak_tracking(coated), min_cycles=10)
    assert list(coated_drift["peak_id"]) == ["charge-1", "discharge-1"]
    assert coated_drift["n_cycles"].tolist() == [200, 200]
    assert coated_drift["drift_mv_per_cycle"].abs().max() < 0.05

    bare_peaks = peak_tracking(bare)
    bare_drift = peak_drift(bare_peaks, min_cycles=10)
    high = bare_drift[bare_drift["first_voltage_v"] > 3.4]
    assert set(high["half"]) == {"charge", "discharge"}
    assert high["first_cycle"].min() > 100
    assert high.loc[high["half"] == "charge", "first_voltage_v"].iloc[0] == pytest.approx(3.55, abs=0.02)
    assert (bare_peaks["cycle"] <= 100).sum() == 200  # one peak per half cycle until the extra peak grows
    csv = bare_peaks.to_csv(index=False)
    assert csv.splitlines()[0] == ",".join(PEAK_TRACK_COLUMNS)


# --- purity ----------------------------------------------------------------------------------------


def test_it_imports_checks_and_timezones_without_django():
    code = ("import sys, cycling.analysis.checks, cycling.timezones; "
            "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PATH": "", "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_the_real_discharge_first_land_sample_on_a_charge_first_cell_gets_one_finding_and_lands_14_cycles():
    from cycling.parsers import read_land

    records = read_land(ROOT / "tests" / "data" / "land" / "cellpy_custom_data_002.xlsx").records
    found = cycle_identity_checks(records, "charge")
    assert [f.code for f in found] == ["first_half_mismatch"]  # not one "index did not advance" per cycle
    assert "registered charge-first, but this file starts with a discharge" in found[0].message
    cycles, source = resolve_cycles(records, "charge")
    assert source == "land" and sorted(set(cycles)) == list(range(1, 15))


def test_cycle_identity_findings_name_the_instrument_the_export_came_from(coated60):
    """An Arbin/Maccor file's findings speak of that cycler's cycle index, not LAND's (the pipeline passes
    export.instrument down)."""
    from cycling.analysis.pipeline import analyse
    from cycling.parsers import Export

    merged = coated60.copy()
    merged.loc[merged["cycle"] >= 11, "cycle"] -= 1  # the index did not advance from 10 to 11
    split = coated60.copy()
    split.loc[split["record"].isin(records_of(split, 8, "discharge")), "cycle"] = 9  # changes mid pair
    first_discharge = simulate_cell(simple_spec(15, first_half="discharge"))
    found = (cycle_identity_checks(merged, instrument="Arbin")
             + of(cycle_identity_checks(split, instrument="Arbin"), "cycle_index_mismatch")
             + cycle_identity_checks(first_discharge, "charge", instrument="Arbin"))
    assert [f.code for f in found] == ["cycle_index_not_advancing", "cycle_index_mismatch", "first_half_mismatch"]
    assert "Arbin's cycle index 10 covers 2 charge/discharge pairs" in found[0].message
    assert "Arbin's index is kept for display" in found[0].message
    assert "Arbin's cycle index changes inside one charge/discharge pair" in found[1].message
    assert "Arbin cycles 8–9): Arbin's cycles there are not full cycles" in found[1].message
    assert "Arbin's cycle index is self-consistent and is kept" in found[2].message
    assert not any("LAND" in f.message for f in found)
    records = merged
    spec = CellSpec(active_mass_mg=STUDY_ACTIVE_MASS_MG)
    maccor = analyse(Export(records=records, cycle_table=None, step_table=None, instrument="Maccor"), spec)
    merged = of(maccor.findings, "cycle_index_not_advancing")
    assert len(merged) == 1 and "Maccor's cycle index 10 covers 2" in merged[0].message
    assert not any("LAND" in f.message for f in maccor.findings)
    land = analyse(Export(records=records, cycle_table=None, step_table=None), spec)
    assert "LAND's cycle index 10 covers 2" in of(land.findings, "cycle_index_not_advancing")[0].message
