"""Everything that is not a readable LAND export is refused with a ParseError that says why."""

import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cycling.parsers import ParseError, read_land
from cycling.simulate import simple_spec, simulate_cell, study_cell
from cycling.testing import write_land

NEGATIVE = Path(__file__).resolve().parents[1] / "data" / "negative" / "neware_custom_data_003.xls"


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    frame, _ = study_cell(group="coated", n_cycles=2, points_per_half_cycle=12, seed=3)
    return frame


def refuse(data: bytes, name: str = "upload.xlsx") -> str:
    with pytest.raises(ParseError) as caught:
        read_land(io.BytesIO(data), name=name)
    message = str(caught.value)
    assert name in message
    return message


def land_csv(records: pd.DataFrame, **kwargs) -> str:
    buffer = io.BytesIO()
    write_land(records, buffer, variant="csv", cycle_table=False, **kwargs)
    return buffer.getvalue().decode("utf-8")


def test_it_refuses_the_neware_sample_by_name():
    message = refuse(NEGATIVE.read_bytes(), "neware_custom_data_003.xls")
    assert "Neware" in message and "not a LAND export" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"Data_Point,Test_Time(s),Step_Time(s),Current(A),Voltage(V),Charge_Capacity(Ah)\n1,0,0,0,3.1,0\n",
         "Arbin"),
        (b"EC-Lab ASCII FILE\nNb header lines : 3\n\nfreq/Hz\tRe(Z)/Ohm\n1\t2\n", "BioLogic"),
        (b"BIO-LOGIC MODULAR FILE\x1a                         \x00\x00", "BioLogic"),
        (b"Today's Date 01/02/2021\nRec#\tCyc#\tStep\tTest (Min)\tAmp-hr\tAmps\tVolts\n1\t0\t1\t0\t0\t0\t3.1\n",
         "Maccor"),
        (b"<!DOCTYPE html><html><body>Session expired</body></html>", "HTML"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
    ],
)
def test_it_names_other_instruments_and_formats(content, expected):
    assert expected in refuse(content)


def test_it_refuses_random_bytes():
    noise = bytes((i * 197 + 13) % 256 for i in range(4096))
    assert "binary" in refuse(noise)


def test_it_refuses_a_csv_from_something_else():
    message = refuse(b"time,value\n0,1\n1,2\n", "logger.csv")
    assert "no record table" in message and "not an export of a cycler this system reads" in message
    # Not recognised as any cycler: the refusal names every cycler's table it looked for, not LAND's only.
    assert "Record-Tab" not in message
    for cycler in ("LAND (", "Arbin (", "Maccor (", "Neware (", "BioLogic (", "BDF ("):
        assert cycler in message, (cycler, message)


def test_a_land_text_export_without_its_record_section_is_refused_in_lands_words():
    buffer = io.BytesIO()
    write_land(simulate_cell(simple_spec(2)), buffer, variant="csv")
    text = buffer.getvalue().decode("utf-8")
    cycle_tab_only = text[:text.index("Record-Tab")]  # LAND's Cycle-Tab section, the records cut off
    message = refuse(cycle_tab_only.encode(), "cut.csv")
    assert "no record table with data was found (a Record-Tab section with a header row" in message
    assert "Looked for" not in message


def test_it_refuses_an_empty_file():
    assert "empty" in refuse(b"", "empty.xlsx")
    assert "empty" in refuse(b"  \r\n", "blank.csv")


def test_it_refuses_a_truncated_workbook(records):
    buffer = io.BytesIO()
    write_land(records, buffer)
    assert "damaged or truncated" in refuse(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def test_it_refuses_a_password_protected_workbook():
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512
    assert "password-protected" in refuse(ole2)


def test_it_refuses_a_zip_that_is_not_a_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert "not an Excel workbook" in refuse(buffer.getvalue(), "report.xlsx")


def test_it_refuses_a_zip_bomb_before_unpacking_it():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (64 * 1024**2))
    assert "zip bomb" in refuse(buffer.getvalue())


def test_it_refuses_a_workbook_above_the_uncompressed_limit(records, monkeypatch):
    import cycling.parsers.sniff as sniff

    monkeypatch.setattr(sniff, "MAX_UNCOMPRESSED_BYTES", 1000)
    buffer = io.BytesIO()
    write_land(records, buffer)
    assert "limit" in refuse(buffer.getvalue())


def test_it_refuses_a_workbook_without_land_sheets():
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet("Sheet1").write_row(0, 0, ["a", "b"])
    book.close()
    message = refuse(buffer.getvalue())
    assert "no LAND table" in message and "'Sheet1'" in message


def test_it_refuses_an_empty_record_sheet():
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet("Record-Tab")
    book.close()
    assert "no record table" in refuse(buffer.getvalue())


def test_it_refuses_a_header_only_record_table(records):
    buffer = io.BytesIO()
    write_land(records.iloc[:0], buffer, cycle_table=False)
    message = refuse(buffer.getvalue())
    assert "no data rows" in message and "Record-Tab" in message


def test_it_refuses_records_without_a_voltage_column(records):
    keep = [i for i in range(17) if i != 7]  # drop Voltage/V
    buffer = io.BytesIO()
    write_land(records, buffer, column_order=keep)
    assert "no voltage column" in refuse(buffer.getvalue())


def test_it_refuses_records_without_a_current_column(records):
    text = land_csv(records, column_order=[i for i in range(17) if i != 3])
    assert "no current column" in refuse(text.encode(), "no_current.csv")


def test_it_names_the_row_and_column_of_text_in_a_numeric_column(records):
    lines = land_csv(records).split("\r\n")
    # line 1 is the section title, line 2 the header: line 12 is the 10th record.
    cells = lines[11].split(",")
    cells[3] = "abc"
    lines[11] = ",".join(cells)
    message = refuse("\r\n".join(lines).encode(), "bad.csv")
    assert "row 12" in message and "'Current/mA'" in message and "'abc' is not a number" in message


def test_it_names_the_excel_row_of_text_in_a_numeric_cell():
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Record-Tab")
    sheet.write_row(0, 0, ["Record", "TestTime/Sec", "Current/mA", "Capacity/mAh", "Voltage/V"])
    for row in range(1, 8):
        sheet.write_row(row, 0, [row, row * 10.0, 0.1, row * 0.01, 3.0 + row / 100])
    sheet.write_string(5, 4, "3.1 V?")
    book.close()
    message = refuse(buffer.getvalue())
    assert "sheet 'Record-Tab'" in message and "row 6" in message and "'Voltage/V'" in message


def test_it_refuses_infinite_and_missing_required_values(records):
    lines = land_csv(records).split("\r\n")
    cells = lines[5].split(",")
    cells[7] = "inf"
    message = refuse("\r\n".join([*lines[:5], ",".join(cells), *lines[6:]]).encode(), "inf.csv")
    assert "infinite" in message and "row 6" in message
    # A missing voltage keeps its record (tests/cycling/test_missing_voltage.py); a missing current refuses.
    cells[7] = "3.1"
    cells[3] = "-"
    message = refuse("\r\n".join([*lines[:5], ",".join(cells), *lines[6:]]).encode(), "gap.csv")
    assert "current value is missing" in message and "row 6" in message


def test_it_refuses_a_current_without_a_unit(records):
    text = land_csv(records).replace("Current/mA", "Current", 1)
    assert "no unit" in refuse(text.encode(), "nounit.csv")


def test_it_refuses_test_time_that_runs_backwards(records):
    shuffled = records.copy()
    shuffled.loc[20, "test_time_s"] = 5.0
    buffer = io.BytesIO()
    write_land(shuffled, buffer, variant="csv", cycle_table=False)
    message = refuse(buffer.getvalue(), "backwards.csv")
    assert "goes backwards" in message and "row 23" in message


def test_it_refuses_a_record_number_used_twice_for_different_rows(records):
    doubled = records.copy()
    doubled.loc[30, "record"] = doubled.loc[29, "record"]
    buffer = io.BytesIO()
    write_land(doubled, buffer, variant="csv", cycle_table=False)
    assert "appears twice" in refuse(buffer.getvalue(), "dup.csv")


def test_it_drops_exact_duplicate_rows_with_a_warning(records):
    text = land_csv(records)
    lines = text.split("\r\n")
    copy = "\r\n".join([*lines[:10], lines[9], *lines[10:]])
    export = read_land(io.BytesIO(copy.encode()), name="overlap.csv")
    assert len(export.records) == len(records)
    assert any("duplicate" in w for w in export.warnings)


def test_a_record_number_that_would_put_its_row_before_an_earlier_time_is_refused_naming_it(records):
    """Rows in time order whose record column was edited (found by fuzzing: '51' made '511'): the reader used to
    sort by record number and hand on a clock that ran backwards; it names the record's row instead."""
    lines = land_csv(records).splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("12,"))
    lines[row] = "912," + lines[row].split(",", 1)[1]
    message = refuse("\n".join(lines).encode(), "edited.csv")
    assert f"row {row + 1}" in message and "column 'record'" in message
    assert "record number 912 does not fit its place" in message
    # a record column counting down a run of whole-second ties (the reason the reader sorts) still reads
    same = land_csv(records).splitlines()
    first, second = same[2].split(",", 1), same[3].split(",", 1)
    same[2], same[3] = "2," + first[1], "1," + second[1].replace("2160.0,2160.0", "0.0,0.0", 1)
    assert read_land(io.BytesIO("\n".join(same).encode()), name="ties.csv").records["record"].tolist()[:2] == [1, 2]
