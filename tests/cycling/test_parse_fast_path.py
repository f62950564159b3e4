"""The fastexcel fast path for xlsx record sheets gives exactly what the python-calamine path gives, and
declines (to calamine) everything that is not the plain modern layout, so errors and warnings stay the same."""

import datetime as dt
import io
import os

import numpy as np
import pandas as pd
import pytest

import cycling.parsers.sources as sources
from cycling.parsers import ParseError, read_land
from cycling.simulate import study_cell
from cycling.testing import write_land

XLSX_VARIANTS = ("modern", "hhmmss", "excel_time", "micro", "amp", "chinese", "old", "lanhe")
HEADER = ["Record", "TestTime/Sec", "StepTime/Sec", "Current/mA", "Capacity/mAh", "Voltage/V", "Energy/mWh",
          "AuxTemp/dC.", "SysTime", "", "Cycle-Index", "Step-Index", "Step-State"]


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    frame, _ = study_cell(group="coated", n_cycles=3, points_per_half_cycle=20, seed=11)
    return frame


@pytest.fixture
def paths(monkeypatch):
    """Counts record sheets taken by the fast path and those handed to python-calamine."""
    taken = {"fast": 0, "calamine": 0}
    real = sources._fast_record_block

    def counting(reader, name, order):
        block = real(reader, name, order)
        taken["fast" if block is not None else "calamine"] += 1
        return block

    monkeypatch.setattr(sources, "_fast_record_block", counting)
    return taken


def read_both(data: bytes, monkeypatch, name: str = "cell.xlsx"):
    """(fast-path result, calamine-only result); each is an export or the ParseError message."""
    results = []
    for fast in (True, False):
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(sources, "_fast_reader", lambda data: None)
            try:
                results.append(read_land(io.BytesIO(data), name=name))
            except ParseError as exc:
                results.append(str(exc))
    return results


def assert_same(fast, slow) -> None:
    if isinstance(slow, str):
        assert fast == slow
        return
    pd.testing.assert_frame_equal(fast.records, slow.records, check_exact=True)
    for ours, theirs in ((fast.cycle_table, slow.cycle_table), (fast.step_table, slow.step_table)):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
    assert fast.warnings == slow.warnings
    assert fast.metadata == slow.metadata


def workbook(rows: list[list], *, header: list = HEADER, first_row: int = 0, formats: dict | None = None) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Record-Tab")
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    clock = book.add_format({"num_format": "hh:mm:ss"})
    sheet.write_row(first_row, 0, header)
    for i, row in enumerate(rows, start=first_row + 1):
        for j, value in enumerate(row):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(i, j, value, stamp)
            elif isinstance(value, dt.time):
                sheet.write_datetime(i, j, value, clock)
            elif value is not None:
                sheet.write(i, j, value)
    book.close()
    return buffer.getvalue()


def plain_rows(n: int = 12) -> list[list]:
    start = dt.datetime(2021, 3, 1, 9, 0, 0)
    rows = []
    for i in range(n):
        charge = i >= 2
        rows.append([i + 1, 10.0 * i, 10.0 * i, 0.5 if charge else 0.0, 0.001 * i if charge else 0.0,
                     3.0 + i / 100, 0.003 * i if charge else 0.0, "-", start + dt.timedelta(seconds=10 * i), None,
                     1, 2 if charge else 1, "C_CC" if charge else "R"])
    return rows


@pytest.mark.parametrize("variant", XLSX_VARIANTS)
def test_every_xlsx_variant_reads_the_same_through_either_reader(records, variant, monkeypatch, paths):
    buffer = io.BytesIO()
    write_land(records, buffer, variant=variant, step_table=True)
    assert_same(*read_both(buffer.getvalue(), monkeypatch))
    if variant in ("modern", "micro", "amp", "chinese"):
        assert paths["fast"] == 1  # the plain layout takes the fast path
    if variant in ("hhmmss", "old", "lanhe"):
        assert paths["fast"] == 0  # text times, a unit row, stacked blocks: python-calamine


@pytest.mark.parametrize("options", [
    {"max_rows_per_sheet": 50},
    {"column_order": [12, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16]},
    {"trailing_rows": [[], ["exported by LANDdt"]]},
    {"sheet_order": ["record", "step", "cycle"], "step_table": True},
    {"precision": "full"},
])
def test_layout_options_read_the_same_through_either_reader(records, options, monkeypatch):
    buffer = io.BytesIO()
    write_land(records, buffer, **options)
    assert_same(*read_both(buffer.getvalue(), monkeypatch))


def test_the_plain_layout_takes_the_fast_path_with_the_same_result(monkeypatch, paths):
    fast, slow = read_both(workbook(plain_rows()), monkeypatch)
    assert_same(fast, slow)
    assert paths == {"fast": 1, "calamine": 0}
    assert str(fast.records["sys_time"].iat[3]) == "2021-03-01 09:00:30"


def test_a_missing_required_value_names_the_same_excel_row(monkeypatch, paths):
    rows = plain_rows()
    rows[4][3] = None  # Current gap in Excel row 6, voltage present
    fast, slow = read_both(workbook(rows), monkeypatch)
    assert fast == slow and "row 6" in fast and "current value is missing" in fast
    assert paths["fast"] == 1


def test_a_voltage_gap_is_kept_with_the_same_warning_through_either_reader(monkeypatch, paths):
    rows = plain_rows()
    rows[4][5] = None  # Voltage gap in Excel row 6, current present: the record is kept
    fast, slow = read_both(workbook(rows), monkeypatch)
    assert_same(fast, slow)
    assert paths["fast"] == 1
    assert len(fast.records) == 12 and np.isnan(fast.records["voltage_v"].iat[4])
    assert [w for w in fast.warnings if "without a voltage" in w][0].startswith(
        "file 'cell.xlsx', sheet 'Record-Tab' row 6: 1 record(s) without a voltage")


def test_text_in_a_numeric_column_falls_back_with_the_same_error(monkeypatch, paths):
    rows = plain_rows()
    rows[6][5] = "3.1 V?"
    fast, slow = read_both(workbook(rows), monkeypatch)
    assert fast == slow and "row 8" in fast and "'Voltage/V'" in fast and "'3.1 V?' is not a number" in fast
    assert paths["fast"] == 0


def test_a_dash_gap_in_a_numeric_column_falls_back(monkeypatch, paths):
    rows = plain_rows()
    rows[5][6] = "-"  # Energy '-' among numbers: mixed cell types
    fast, slow = read_both(workbook(rows), monkeypatch)
    assert_same(fast, slow)
    assert paths["fast"] == 0


def test_a_mixed_time_column_falls_back_and_keeps_its_days(monkeypatch, paths):
    rows = plain_rows(6)
    header = list(HEADER)
    header[1] = "TestTime"
    for i, row in enumerate(rows):  # time-of-day cells below 24 h, then D-HH:MM:SS text
        row[1] = dt.time(23, 59, 50 + i) if i < 3 else f"1-00:00:0{i}"
    fast, slow = read_both(workbook(rows, header=header), monkeypatch)
    assert_same(fast, slow)
    assert paths["fast"] == 0
    assert fast.records["test_time_s"].iat[-1] == 86405.0


def test_time_of_day_cells_alone_fall_back(monkeypatch, paths):
    rows = plain_rows(6)
    for i, row in enumerate(rows):
        row[1] = dt.time(10, 0, i)
    fast, slow = read_both(workbook(rows), monkeypatch)
    assert_same(fast, slow)
    assert paths["fast"] == 0


def test_a_header_below_row_one_falls_back_with_the_right_rows(monkeypatch, paths):
    rows = plain_rows()
    rows[4][3] = None  # a current gap still refuses, naming the row as Excel numbers it
    fast, slow = read_both(workbook(rows, first_row=2), monkeypatch)  # two blank rows above the header
    assert fast == slow and "row 8" in fast and "current value is missing" in fast
    assert paths["fast"] == 0


def test_blank_rows_fall_back_and_warn_with_their_row(monkeypatch, paths):
    rows = plain_rows()
    rows[7] = [None] * 8 + ["note"]
    fast, slow = read_both(workbook(rows), monkeypatch)
    assert_same(fast, slow)
    assert paths["fast"] == 0
    assert any("row 9" in w for w in fast.warnings)


def test_a_second_header_in_the_first_rows_falls_back(monkeypatch, paths):
    rows = plain_rows()
    rows[3] = [None, None, None, *HEADER[3:]]  # a repeated header whose first cells are empty
    fast, slow = read_both(workbook(rows), monkeypatch)
    assert_same(fast, slow)
    assert paths["fast"] == 0


def test_a_repeated_header_name_falls_back(monkeypatch, paths):
    header = list(HEADER)
    header[6] = "Voltage/V"
    fast, slow = read_both(workbook(plain_rows(), header=header), monkeypatch)
    assert_same(fast, slow)
    assert paths["fast"] == 0


def test_without_fastexcel_python_calamine_reads_it(records, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_fastexcel(name, *args, **kwargs):
        if name == "fastexcel":
            raise ImportError("no fastexcel")
        return real_import(name, *args, **kwargs)

    buffer = io.BytesIO()
    write_land(records, buffer)
    expected = read_land(io.BytesIO(buffer.getvalue()), name="cell.xlsx")
    monkeypatch.setattr(builtins, "__import__", no_fastexcel)
    assert sources._fast_reader(buffer.getvalue()) is None
    pd.testing.assert_frame_equal(read_land(io.BytesIO(buffer.getvalue()), name="cell.xlsx").records,
                                  expected.records, check_exact=True)


def test_a_mixed_column_no_record_field_comes_from_keeps_the_fast_path(monkeypatch, paths):
    rows = plain_rows()
    for i, row in enumerate(rows):
        row[7] = 25.0 + i if i % 2 else "-"  # AuxTemp: numbers and '-' (mixed types), read by neither path
    fast, slow = read_both(workbook(rows), monkeypatch)
    assert_same(fast, slow)
    assert paths == {"fast": 1, "calamine": 0}  # only the columns records come from are typed and checked


def test_a_workbook_on_disk_is_recognised_without_reading_its_bytes(records, tmp_path):
    from cycling.parsers.probe import Probe
    from cycling.parsers.registry import READERS

    path = tmp_path / "cell.xlsx"
    write_land(records, path)
    probe = Probe(path=str(path), name="cell.xlsx")
    assert READERS.pick(probe).name == "assb-lab land"
    assert not probe.holds_bytes  # every sniff made do with the head and the sheet names


def test_preloaded_record_sheets_are_taken_not_loaded_again(records, tmp_path, monkeypatch, paths):
    from cycling.parsers import read_runs, recordsheets

    path = tmp_path / "cell.xlsx"
    write_land(records, path)
    expected = read_land(str(path))
    paths["fast"] = 0
    loads = []
    real = recordsheets._load
    monkeypatch.setattr(recordsheets, "_load", lambda reader, name: loads.append(name) or real(reader, name))
    with recordsheets.preloaded(path):
        assert loads == ["Record-Tab"]
        runs = read_runs(str(path))
    assert loads == ["Record-Tab"] and paths == {"fast": 1, "calamine": 0}
    assert len(runs[0].records) == len(records)
    pd.testing.assert_frame_equal(runs[0].records, expected.records, check_exact=True)
    assert recordsheets._PRELOADED == {}


def test_a_file_changed_after_the_preload_is_read_anew(records, tmp_path, monkeypatch):
    from cycling.parsers import read_runs, recordsheets

    path = tmp_path / "cell.xlsx"
    write_land(records, path)
    with recordsheets.preloaded(path):
        shorter = records[records["cycle"] < 3]
        write_land(shorter, path)
        os.utime(path, ns=(1, 1))  # a different modification time, even on a coarse clock
        runs = read_runs(str(path))
    assert len(runs[0].records) == len(shorter) < len(records)
    assert recordsheets._PRELOADED == {}
