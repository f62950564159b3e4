"""The real LAND export (cellpy custom_data_002.xlsx) read against LAND's own Cycle-Tab."""

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cycling.parsers import PARSER_VERSION, RECORD_COLUMNS, Export, read_land

DATA = Path(__file__).resolve().parents[1] / "data" / "land"
SAMPLE = DATA / "cellpy_custom_data_002.xlsx"
CYCLE_CSV = DATA / "cellpy_custom_data_002.cycle_tab.csv"


@pytest.fixture(scope="module")
def export() -> Export:
    return read_land(SAMPLE)


def recomputed(records: pd.DataFrame) -> pd.DataFrame:
    """CapC/CapD the LAND way: the largest running capacity over the cycle's charge/discharge records."""
    moving = records[records["step_kind"] != "rest"]
    return moving.pivot_table(index="cycle", columns="step_kind", values="capacity_mah", aggfunc="max")


def test_it_reads_every_record_and_cycle(export):
    assert len(export.records) == 16538
    assert export.records["cycle"].nunique() == 14
    assert export.metadata["n_records"] == 16538
    assert export.metadata["first_step_kind"] == "discharge"
    assert export.metadata["partial_last_cycle"] is False
    assert export.metadata["parser_version"] == PARSER_VERSION
    assert export.metadata["format"] == "xlsx"
    assert export.metadata["sheets"] == ["Cycle-Tab", "Record-Tab"]
    assert export.source_name == "cellpy_custom_data_002.xlsx"
    assert export.step_table is None
    assert export.warnings == []


def test_it_returns_exactly_the_canonical_columns_and_dtypes(export):
    records = export.records
    assert list(records.columns) == RECORD_COLUMNS
    for name in ("record", "cycle", "step"):
        assert records[name].dtype == np.int64
    for name in ("test_time_s", "step_time_s", "current_ma", "voltage_v", "capacity_mah", "energy_mwh"):
        assert records[name].dtype == np.float64
    assert records["sys_time"].dtype == "datetime64[ns]"
    assert set(records["step_kind"]) == {"rest", "charge", "discharge"}
    assert set(records["step_mode"]) <= {"CC", "CV", ""}
    assert records["record"].is_monotonic_increasing
    assert records["test_time_s"].is_monotonic_increasing
    assert list(records.index) == list(range(len(records)))


def test_it_keeps_lands_signs_and_values(export):
    records = export.records
    assert records["test_time_s"].iat[-1] == 388864.0
    first_discharge = records[records["step_kind"] == "discharge"].iloc[0]
    assert first_discharge["record"] == 123
    assert first_discharge["current_ma"] == pytest.approx(-0.14571)
    assert (records.loc[records["step_kind"] == "charge", "current_ma"] > 0).all()
    assert (records.loc[records["step_kind"] == "discharge", "current_ma"] < 0).all()


def test_it_reproduces_lands_cycle_tab_from_the_records(export):
    ours = recomputed(export.records)
    table = export.cycle_table.set_index("cycle")
    np.testing.assert_allclose(ours["charge"], table["charge_mah"], rtol=1e-3)
    np.testing.assert_allclose(ours["discharge"], table["discharge_mah"], rtol=1e-3)


def test_it_agrees_with_the_cycle_tab_written_out_as_csv(export):
    expected = pd.read_csv(CYCLE_CSV)
    ours = recomputed(export.records)
    np.testing.assert_allclose(ours["charge"].to_numpy(), expected["CapC/mAh"], rtol=1e-3)
    np.testing.assert_allclose(ours["discharge"].to_numpy(), expected["CapD/mAh"], rtol=1e-3)
    # Efficiency as LAND wrote it: second half over first, here CapC/CapD for a discharge-first cell.
    np.testing.assert_allclose(export.cycle_table["ce_percent"], expected["Efficiency/%"], rtol=1e-9)
    assert export.cycle_table["ce_percent"].iat[0] == pytest.approx(2.74823 / 3.03312 * 100, rel=1e-5)


def test_it_names_cycle_tab_columns_canonically_and_keeps_the_others(export):
    columns = list(export.cycle_table.columns)
    assert columns[:10] == [
        "cycle", "charge_mah", "discharge_mah", "charge_mah_g", "discharge_mah_g", "ce_percent",
        "charge_energy_mwh", "discharge_energy_mwh", "median_charge_v", "median_discharge_v",
    ]
    assert {"cc_cap_mah", "plat_time_d_s", "retention_d_percent", "dcir_d_mohm"} <= set(columns)
    assert export.cycle_table["cycle"].dtype == np.int64
    assert export.cycle_table["charge_mah_g"].iat[0] == pytest.approx(3392.871)


def test_it_reads_the_midnight_systime_that_calamine_returns_as_a_date(export):
    row = export.records.loc[export.records["record"] == 15899].iloc[0]
    assert row["sys_time"] == pd.Timestamp("2021-03-02 00:00:00")
    assert export.records["sys_time"].notna().all()
    assert export.metadata["start_time"] == dt.datetime(2021, 2, 25, 13, 41, 24).isoformat()


def test_it_counts_a_continued_running_capacity_once(export):
    # Cycle 1 discharges in two steps; the running total carries over the rest: 2.74947 then 3.03312.
    cycle1 = export.records[(export.records["cycle"] == 1) & (export.records["step_kind"] == "discharge")]
    assert cycle1["step"].nunique() == 2
    assert cycle1["capacity_mah"].max() == pytest.approx(3.03312)


def test_it_reads_a_file_object_and_reports_progress():
    seen = []
    with open(SAMPLE, "rb") as handle:
        export = read_land(io.BytesIO(handle.read()), name="upload.xlsx", progress=seen.append)
    assert export.source_name == "upload.xlsx"
    assert seen[-1] == 1.0 and seen == sorted(seen) and all(0 <= f <= 1 for f in seen)


def test_it_reads_the_sample_saved_under_an_xls_name(tmp_path):
    renamed = tmp_path / "exported.xls"
    renamed.write_bytes(SAMPLE.read_bytes())
    assert len(read_land(renamed).records) == 16538
