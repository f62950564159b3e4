"""read_land(write_land(records)) gives the records back, in every LAND variant the writer knows."""

import io
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cycling.parsers import ParseError, read_land
from cycling.simulate import study_cell
from cycling.testing import LAND_DECIMALS, VARIANTS, land_cycle_table, land_rounded, write_land

NUMERIC = ["record", "test_time_s", "step_time_s", "current_ma", "voltage_v", "capacity_mah", "energy_mwh",
           "cycle", "step"]
# write_land writes LAND's precision (land_rounded); what it wrote comes back to float precision, except
# text times (whole seconds, LANHE milliseconds) and Excel time-of-day cells.
TIME_TOLERANCE_S = {"hhmmss": 0.51, "excel_time": 1.0, "lanhe": 0.0011}


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    # 3 days of cycling so that Excel time cells wrap and text times need the D- prefix.
    frame, _ = study_cell(group="coated", n_cycles=4, points_per_half_cycle=25, seed=7)
    assert frame["test_time_s"].iat[-1] > 2 * 86400
    return frame


def written(records: pd.DataFrame, **kwargs) -> bytes:
    buffer = io.BytesIO()
    write_land(records, buffer, **kwargs)
    return buffer.getvalue()


def assert_same_records(got: pd.DataFrame, expected: pd.DataFrame, variant: str = "modern") -> None:
    """``got`` is what was read from a file write_land made of ``expected`` (at LAND's precision)."""
    expected = land_rounded(expected)
    assert len(got) == len(expected)
    tolerance = TIME_TOLERANCE_S.get(variant, 1e-6)
    for name in NUMERIC:
        if name == "energy_mwh" and variant == "old":
            assert got[name].isna().all()  # the old layout has no energy column
            continue
        atol = tolerance if name.endswith("time_s") else 1e-9
        np.testing.assert_allclose(got[name].to_numpy(float), expected[name].to_numpy(float),
                                   rtol=1e-9, atol=atol, err_msg=f"{variant}: {name}")
    assert (got["step_kind"].to_numpy() == expected["step_kind"].astype(str).to_numpy()).all()
    assert (got["step_mode"].to_numpy() == expected["step_mode"].astype(str).to_numpy()).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_it_reads_back_every_writer_variant(records, variant):
    export = read_land(io.BytesIO(written(records, variant=variant, step_table=True)), name=f"cell.{variant}")
    assert_same_records(export.records, records, variant)
    assert export.warnings == []
    expected_table = land_rounded(land_cycle_table(land_rounded(records)))
    np.testing.assert_allclose(export.cycle_table["discharge_mah"], expected_table["discharge_mah"], rtol=1e-9)
    np.testing.assert_allclose(export.cycle_table["ce_percent"], expected_table["ce_percent"], rtol=1e-9)
    assert list(export.step_table["step"]) == sorted(records["step"].unique())
    assert set(export.step_table["step_kind"]) == {"rest", "charge", "discharge"}
    assert export.metadata["first_step_kind"] == "charge"
    if variant not in ("old", "csv", "txt", "hhmmss"):
        delta = (export.records["sys_time"] - land_rounded(records)["sys_time"]).abs().max()
        assert delta <= pd.Timedelta(milliseconds=1)


def test_it_writes_values_at_lands_precision_unless_asked_for_full_floats(records):
    export = read_land(io.BytesIO(written(records)), name="land.xlsx")
    for name, decimals in LAND_DECIMALS.items():
        if name not in records:
            continue
        got, exact = export.records[name].to_numpy(float), records[name].to_numpy(float)
        scaled = got * 10.0**decimals
        np.testing.assert_allclose(scaled, np.round(scaled), atol=1e-6, err_msg=name)  # no more decimals
        assert np.abs(got - exact).max() <= 0.5 * 10.0**-decimals + 1e-9, name  # and correctly rounded
    assert (export.records["sys_time"] == export.records["sys_time"].dt.round("s")).all()
    assert not records["voltage_v"].equals(export.records["voltage_v"])
    full = read_land(io.BytesIO(written(records, precision="full")), name="full.xlsx").records
    for name in NUMERIC:
        np.testing.assert_allclose(full[name].to_numpy(float), records[name].to_numpy(float), rtol=1e-15, atol=1e-9)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030"])
def test_it_reads_chinese_csv_in_every_encoding_lands_software_uses(records, encoding):
    data = written(records, variant="csv", encoding=encoding, chinese=True, step_table=True)
    export = read_land(io.BytesIO(data), name="电池.csv")
    assert_same_records(export.records, records, "csv")
    assert export.metadata["encoding"] == encoding
    assert export.metadata["format"] == "csv"
    assert export.cycle_table["discharge_mah"].notna().all()
    assert export.step_table is not None


def test_it_reads_a_chinese_workbook_by_its_sheet_names(records):
    export = read_land(io.BytesIO(written(records, variant="chinese")), name="记录.xlsx")
    assert export.metadata["sheets"] == ["循环", "记录"]
    assert_same_records(export.records, records, "chinese")


def test_it_reads_records_continued_over_several_sheets_in_any_order(records):
    data = written(records, max_rows_per_sheet=70, step_table=True,
                   sheet_order=["Record-Tab2", "Step-Tab", "Record-Tab", "Cycle-Tab", "Record-Tab1"])
    export = read_land(io.BytesIO(data), name="long.xlsx")
    assert export.metadata["sheets"][0] == "Record-Tab2"
    assert_same_records(export.records, records)


def test_it_reads_an_xlsx_saved_with_an_xls_name(records, tmp_path):
    path = tmp_path / "cell.xls"
    write_land(records, path)
    export = read_land(path)
    assert export.source_name == "cell.xls"
    assert export.metadata["format"] == "xlsx"
    assert_same_records(export.records, records)


def test_it_derives_cycles_and_steps_when_the_old_layout_has_none(records):
    export = read_land(io.BytesIO(written(records, variant="old")), name="old.xlsx")
    assert (export.records["cycle"].to_numpy() == records["cycle"].to_numpy()).all()
    assert (export.records["step"].to_numpy() == records["step"].to_numpy()).all()


def test_it_derives_cycles_by_the_one_rule_the_checks_use(records):
    from cycling.analysis.checks import derive_cycles

    # The old layout has no Cycle-Index; the second file starts on discharge.
    discharge_first = records[records.index >= records.index[records["step_kind"] == "discharge"][0]]
    for frame in (records, discharge_first):
        got = read_land(io.BytesIO(written(frame, variant="old")), name="no_index.xlsx").records
        assert got["cycle"].nunique() >= 3
        np.testing.assert_array_equal(got["cycle"].to_numpy(), derive_cycles(got))


def test_it_marks_a_test_exported_mid_cycle_as_partial(records):
    last = records["cycle"].max()
    cut = records[(records["cycle"] < last) | (records["step_kind"] != "discharge")]
    cut = cut[~((cut["cycle"] == last) & (cut.index > cut[cut["cycle"] == last].index.min() + 20))]
    export = read_land(io.BytesIO(written(cut, variant="csv")), name="running.csv")
    assert export.metadata["partial_last_cycle"] is True
    assert len(export.records) == len(cut)
    complete = read_land(io.BytesIO(written(records, variant="csv")), name="done.csv")
    assert complete.metadata["partial_last_cycle"] is False


def test_it_rebuilds_test_time_from_excel_time_cells_that_wrap_at_midnight(records):
    export = read_land(io.BytesIO(written(records, variant="excel_time")), name="wrapped.xlsx")
    assert export.records["test_time_s"].is_monotonic_increasing
    assert export.records["test_time_s"].iat[-1] == pytest.approx(records["test_time_s"].iat[-1], abs=1.0)


def test_it_reads_lanhe_blocks_stacked_per_step_in_microamps(records):
    data = written(records, variant="lanhe")
    export = read_land(io.BytesIO(data), name="lanhe.xlsx")
    assert_same_records(export.records, records, "lanhe")


def test_it_warns_when_records_disagree_with_lands_cycle_tab(records):
    table = land_cycle_table(records)
    table.loc[1, "charge_mah"] *= 1.2
    export = read_land(io.BytesIO(written(records, cycle_table=table)), name="odd.xlsx")
    assert any("Cycle-Tab" in w and "2" in w for w in export.warnings)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    variant=st.sampled_from(["modern", "micro", "amp", "csv", "txt"]),
    junk=st.lists(st.sampled_from([[""], ["Exported by LANDdt 7.3"], ["", ""], ["end of data", "", "-"]]),
                  max_size=3),
)
def test_it_reads_any_column_order_unit_variant_and_trailing_junk(records, seed, variant, junk):
    order = list(range(17))
    random.Random(seed).shuffle(order)
    data = written(records, variant=variant, column_order=order, trailing_rows=junk, cycle_table=False)
    export = read_land(io.BytesIO(data), name=f"shuffled.{variant}")
    assert_same_records(export.records, records, variant)


@pytest.fixture(scope="module")
def small_files(records):
    small = records.iloc[:60].copy()
    return [written(small), written(small, variant="csv"), written(small, variant="lanhe")]


@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096))
def test_it_only_ever_raises_parse_error_on_random_bytes(data):
    try:
        read_land(io.BytesIO(data), name="fuzz.xlsx")
    except ParseError:
        pass


@settings(max_examples=80, deadline=10000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.integers(0, 2),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.none() | st.floats(0.05, 1.0),
)
def test_it_only_ever_raises_parse_error_on_mutated_real_files(small_files, which, edits, cut):
    data = bytearray(small_files[which])
    for where, byte in edits:
        data[int(where * len(data))] = byte
    if cut is not None:
        data = data[: int(cut * len(data))]
    try:
        export = read_land(io.BytesIO(bytes(data)), name="mutated.xlsx")
    except ParseError:
        return
    assert export.records["test_time_s"].is_monotonic_increasing
