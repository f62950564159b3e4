"""BDF reader and writer (cycling.parsers.bdf): the field's sample files, the round trip, clear refusals."""
import io

import numpy as np
import pandas as pd
import pytest

from cycling.analysis import CellSpec, summarize_cycles
from cycling.parsers import RECORD_COLUMNS, ParseError
from cycling.parsers.bdf import read_bdf, sniff, write_bdf
from cycling.simulate import study_cell
from tests.landfiles import DATA

BDF = DATA / "cyclers" / "bdf"
SINTEF = BDF / "battery-data-format__SINTEF__LiGrR2032__2024-04-30__25degC__Landt.bdf.csv"
BATMO = BDF / "cellpy__batmo_bdf.csv"


def _cycles(records, spec=None):
    return summarize_cycles(records, spec or CellSpec()).set_index("cycle")


def test_it_reads_the_bdf_reference_file_into_our_record_columns():
    export = read_bdf(SINTEF)
    records = export.records
    assert list(records.columns) == RECORD_COLUMNS
    assert export.instrument == "BDF" and export.metadata["format"] == "bdf-csv"
    raw = pd.read_csv(SINTEF)
    assert len(records) == len(raw) == 25162
    assert records["current_ma"].to_numpy() == pytest.approx(raw["current_ampere"].to_numpy() * 1000)
    assert records["test_time_s"].iat[-1] == pytest.approx(262657.764)
    # No cycle column: the lab's cycle rule; the Li/graphite half cell discharges (lithiates) first.
    assert export.metadata["first_step_kind"] == "discharge"
    cycles = _cycles(records)
    assert list(cycles.index) == [1, 2]
    # The file's own per-step counters: 6.3 mAh discharge then 3.2 mAh charge in cycle 1.
    assert cycles.loc[1, "discharge_mah"] == pytest.approx(raw["discharging_capacity_ah"].max() * 1000)
    assert cycles.loc[1, "discharge_mah"] == pytest.approx(6.3)
    assert cycles.loc[1, "charge_mah"] == pytest.approx(3.2)
    assert cycles.loc[1, "ce_percent"] == pytest.approx(3.2 / 6.3 * 100)
    assert export.metadata["partial_last_cycle"] is True


def test_it_reads_human_labels_converts_hours_and_fixes_the_sign_convention():
    export = read_bdf(BATMO)
    raw = pd.read_csv(BATMO)
    records = export.records
    assert records["test_time_s"].iat[0] == pytest.approx(0.138888888888889 * 3600)
    assert any("negated" in w for w in export.warnings)
    charge = raw["Step Type / 1"] == "charge"
    assert (records.loc[charge.to_numpy(), "current_ma"] > 0).all()
    # Per-cycle capacities equal the file's own counters (its maxima per cycle and direction).
    own = raw.groupby("Cycle Count / 1")[["Charge Capacity / Ah", "Discharge Capacity / Ah"]].max() * 1000
    cycles = _cycles(records)
    assert list(cycles.index) == list(range(1, 11))
    np.testing.assert_allclose(cycles["charge_mah"], own["Charge Capacity / Ah"], rtol=1e-12)
    np.testing.assert_allclose(cycles["discharge_mah"], own["Discharge Capacity / Ah"], rtol=1e-12)
    assert cycles.loc[1, "discharge_mah"] == pytest.approx(159.789, abs=1e-3)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("labels", [False, True])
def test_it_round_trips_records_to_identical_per_cycle_values(fmt, labels):
    records, info = study_cell("coated", n_cycles=6, points_per_half_cycle=60)
    spec = CellSpec(active_mass_mg=info["active_mass_mg"], area_cm2=info["area_cm2"],
                    theoretical_mah_g=info["theoretical_mah_g"])
    buf = io.BytesIO()
    write_bdf(records, buf, fmt=fmt, labels=labels)
    back = read_bdf(io.BytesIO(buf.getvalue()), name=f"x.bdf.{fmt}").records
    assert list(back.columns) == RECORD_COLUMNS and len(back) == len(records)
    before, after = _cycles(records, spec), _cycles(back, spec)
    assert after.loc[1, "ce_percent"] == pytest.approx(85.8, abs=0.6)
    numeric = before.select_dtypes("number").columns
    pd.testing.assert_frame_equal(after[numeric], before[numeric], rtol=1e-9, check_dtype=False)
    assert (after["c_rate_label"] == before["c_rate_label"]).all()


def test_it_writes_the_specs_column_names_and_units():
    records, _ = study_cell("bare", n_cycles=2, points_per_half_cycle=20)
    buf = io.BytesIO()
    write_bdf(records, buf)
    frame = pd.read_csv(io.BytesIO(buf.getvalue()))
    for name in ("test_time_second", "voltage_volt", "current_ampere", "unix_time_second", "cycle_count",
                 "charging_capacity_ah", "discharging_capacity_ah"):
        assert name in frame
    assert frame["current_ampere"].abs().max() == pytest.approx(records["current_ma"].abs().max() / 1000)
    # The simulator's naive times are read as UTC: 2021-03-01 09:00:00 UTC.
    assert frame["unix_time_second"].iat[0] == pytest.approx(1614589200.0)
    labelled = io.BytesIO()
    write_bdf(records, labelled, labels=True)
    assert labelled.getvalue().startswith(b"Test Time / s,Voltage / V,Current / A,")


def test_it_sniffs_bdf_tables_and_nothing_else():
    assert sniff(SINTEF.read_bytes()[:1024], SINTEF.name)
    assert sniff(BATMO.read_bytes()[:1024], BATMO.name)
    assert sniff(b"PAR1\x15\x04", "records.parquet")
    assert not sniff(b"Record,TestTime/Sec,Current/mA,Voltage/V,Capacity/mAh\n1,0,0.1,3.0,0\n", "land.csv")
    assert not sniff(b"", "empty.csv")


def _csv(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def test_it_names_file_row_and_column_of_a_value_that_is_not_a_number():
    bad = _csv("test_time_second,voltage_volt,current_ampere,charging_capacity_ah,discharging_capacity_ah\n"
               "0,3.0,0.001,0,0\n10,3.1,0.001,0.00001,0\n20,oops,0.001,0.00002,0\n")
    with pytest.raises(ParseError) as err:
        read_bdf(bad, name="run7.bdf.csv")
    assert str(err.value) == "file 'run7.bdf.csv', row 4, column 'voltage_volt': 'oops' is not a number"


def test_it_refuses_a_table_without_current_naming_what_is_missing():
    with pytest.raises(ParseError) as err:
        read_bdf(_csv("test_time_second,voltage_volt\n0,3.0\n"), name="v.csv")
    assert "no current_ampere column" in str(err.value) and "file 'v.csv'" in str(err.value)


def test_it_refuses_time_running_backwards_at_its_row():
    bad = _csv("Test Time / s,Voltage / V,Current / mA,Step Capacity / Ah\n0,3,1,0\n100,3.1,1,0.1\n50,3.2,1,0.2\n")
    with pytest.raises(ParseError) as err:
        read_bdf(bad, name="t.csv")
    assert "row 4" in str(err.value) and "test time goes backwards" in str(err.value)


def test_it_refuses_a_unit_of_the_wrong_dimension():
    with pytest.raises(ParseError) as err:
        read_bdf(_csv("Test Time / s,Voltage / V,Current / Ah,Step Capacity / Ah\n0,3,1,0\n"), name="u.csv")
    assert "column 'Current / Ah'" in str(err.value) and "not a unit of current" in str(err.value)


def test_it_is_chosen_by_the_reader_registry_from_content_not_name(tmp_path):
    from cycling.parsers import read_export

    renamed = tmp_path / "export.txt"
    renamed.write_bytes(SINTEF.read_bytes())
    export = read_export(renamed)
    assert export.instrument == "BDF"
    assert len(export.records) == 25162
    parquet = tmp_path / "records.dat"
    records, _ = study_cell("coated", n_cycles=3, seed=1)
    write_bdf(records, parquet, fmt="parquet")
    assert read_export(parquet).instrument == "BDF"
