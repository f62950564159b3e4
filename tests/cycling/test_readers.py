"""Every cycler reader against the real public samples (tests/data/cyclers, SOURCES.md): record counts,
first/last values read by hand from the files, and per-cycle capacities against the instrument's own summary."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import python_calamine

from cycling.parsers import RECORD_COLUMNS, Export, ParseError, read_export
from cycling.parsers.crosscheck import compare_with_instrument, cross_check

DATA = Path(__file__).resolve().parents[1] / "data" / "cyclers"


def read(path: str) -> Export:
    export = read_export(DATA / path)
    assert list(export.records.columns) == RECORD_COLUMNS
    return export


def test_it_matches_the_neware_cycle_sheet_exactly():
    export = read("neware/cellpy__custom_data_003.xls")
    assert (export.instrument, export.reader) == ("Neware", "assb-lab neware-bts")
    records = export.records
    assert len(records) == 2943  # Detail_14_1_3: 2944 rows with the header
    assert records["voltage_v"].iat[0] == pytest.approx(2.3304)
    assert str(records["sys_time"].iat[0]) == "2021-05-20 23:36:18"
    # The Cycle_14_1_3 sheet, as Neware wrote it.
    assert export.cycle_table["discharge_mah"].iat[0] == pytest.approx(3.5241456666666666)
    assert export.cycle_table["charge_mah"].iat[1] == pytest.approx(3.1196841666666666)
    table = compare_with_instrument(records, export.cycle_table)
    assert len(table) == 14
    assert table["charge_mah_rel_diff"].max() < 1e-9 and table["discharge_mah_rel_diff"].max() < 1e-9
    assert cross_check(records, export.cycle_table, instrument="Neware") == []


def test_the_cross_check_names_the_cycle_that_disagrees():
    export = read("neware/cellpy__custom_data_003.xls")
    table = export.cycle_table.copy()
    table.loc[table["cycle"] == 5, "discharge_mah"] *= 1.05
    warnings = cross_check(export.records, table, instrument="Neware")
    assert len(warnings) == 1 and "discharge" in warnings[0] and "cycle(s) 5" in warnings[0]
    assert "Neware cycle summary" in warnings[0] and "4.8 %" in warnings[0]  # |1 - 1/1.05|


def test_fastnda_and_newarenda_agree_on_the_nda_sample():
    import NewareNDA

    export = read("neware/navani__test.nda")
    assert export.reader == "fastnda"
    records = export.records
    reference = NewareNDA.read(str(DATA / "neware/navani__test.nda"), cycle_mode="auto", log_level="ERROR")
    assert len(records) == len(reference) == 439
    assert np.allclose(records["voltage_v"], reference["Voltage"], atol=1e-4)
    assert np.allclose(records["current_ma"], reference["Current(mA)"], atol=1e-4)
    assert (records["cycle"].to_numpy() == reference["Cycle"].to_numpy()).all()
    ours = records[records["step_kind"] == "discharge"].groupby("cycle")["capacity_mah"].max()
    theirs = reference.groupby("Cycle")["Discharge_Capacity(mAh)"].max()
    assert np.allclose(ours.to_numpy(), theirs.loc[ours.index].to_numpy(), rtol=1e-4)
    assert records["current_ma"].iat[2] == pytest.approx(-0.0294, abs=1e-4)  # first discharge record


def test_it_reads_the_ndax_sample_and_its_metadata():
    export = read("neware/navani__test.ndax")
    assert len(export.records) == 1464
    assert export.records["voltage_v"].iat[0] == pytest.approx(3.4666, abs=1e-4)
    assert export.metadata["start_time"] == "2024-02-01 20:24:23"
    assert "BTS" in export.metadata["software"]


def test_it_falls_back_to_newarenda_when_fastnda_fails(monkeypatch):
    import fastnda

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported version")

    monkeypatch.setattr(fastnda, "read", broken)
    export = read("neware/navani__test.nda")
    assert export.reader == "NewareNDA" and len(export.records) == 439


def test_it_reads_a_neware_record_sheet_workbook():
    export = read("neware/battery-data-format__sample_data_neware.xlsx")
    records = export.records
    assert len(records) == 105
    assert records["current_ma"].iat[0] == pytest.approx(3.99929)
    assert records["capacity_mah"].iat[1] == pytest.approx(0.00122)
    assert records["test_time_s"].iat[2] == pytest.approx(2.0)


def test_it_reads_the_neware_csv_in_amperes():
    export = read("neware/cellpy__neware_uio_first2000.csv")
    raw = pd.read_csv(DATA / "neware/cellpy__neware_uio_first2000.csv")
    assert len(export.records) == len(raw) == 2000
    assert np.allclose(export.records["current_ma"], raw["Current(A)"] * 1000)
    discharge = export.records[export.records["step_kind"] == "discharge"]
    assert discharge["capacity_mah"].max() == pytest.approx(raw["DChg. Cap.(Ah)"].max() * 1000)


def test_it_reads_the_arbin_workbook_with_global_info():
    export = read("arbin/navani__bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx")
    assert export.instrument == "Arbin"
    assert export.metadata["channel"] == "11" and export.metadata["software"].startswith("PV7.0")
    records = export.records
    assert len(records) == 4526
    assert records["test_time_s"].iat[0] == pytest.approx(1.001)
    assert records["voltage_v"].iat[0] == pytest.approx(2.637298583984375)
    sheet = python_calamine.CalamineWorkbook.from_path(
        str(DATA / "arbin/navani__bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx")).get_sheet_by_name(
        "Channel_11_1").to_python()
    # Arbin's Charge_Capacity runs over the whole cycle; at the end of the first charge (step 3) it is the
    # charge of that step alone, which is our running total there.
    end_of_charge = int(records.index[records["step"] == 3][-1])
    assert records["capacity_mah"].iat[end_of_charge] == pytest.approx(sheet[end_of_charge + 1][7] * 1000)
    # The second charge of cycle 1 is the charge counter's increase over its own records: the counter's
    # tick at the discharge's first record (2e-6 mAh, record 3191, the tail of the first charge) is
    # neither discharge nor part of the second charge.
    kind = records["step_kind"].to_numpy()
    start = int(np.flatnonzero(kind != "charge")[-1]) + 1  # first record of the last charge
    assert start > end_of_charge + 1 and (kind[start:] == "charge").all()
    assert records["capacity_mah"].iat[-1] == pytest.approx(
        (sheet[-1][7] - sheet[start][7]) * 1000, rel=1e-9)  # sheet row start = record start - 1 (header)


def test_it_reads_arbin_csv_dumps_with_and_without_units():
    export = read("arbin/PyProBE__sample_data_arbin.csv")
    lines = (DATA / "arbin/PyProBE__sample_data_arbin.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(export.records) == len(lines) - 1
    assert export.records["current_ma"].iat[-1] == pytest.approx(float(lines[-1].split(",")[9]) * 1000)
    # The charge counts Arbin's Charge Capacity only (its Discharge Capacity ticks 0.020 mAh at the charge's
    # first record): the running capacity and energy are Arbin's own counters, record by record.
    last = lines[-1].split(",")
    assert export.records["capacity_mah"].iat[-1] == pytest.approx(float(last[12]) * 1000, rel=1e-9)
    assert export.records["capacity_mah"].iat[-1] == pytest.approx(0.400839, rel=1e-9)
    assert export.records["energy_mwh"].iat[-1] == pytest.approx(float(last[14]) * 1000, rel=1e-9)
    charging = export.records["step_kind"].to_numpy() == "charge"
    counters = np.array([[float(v) for v in line.split(",")[12:14]] for line in lines[1:]]) * 1000
    assert export.records["capacity_mah"].to_numpy()[charging] == pytest.approx(counters[charging, 0], rel=1e-9)
    tri = read("arbin/beep__FastCharge_000025_CH8.csv")
    assert len(tri.records) == 248 and tri.metadata["units"]["Current"] == "A (instrument default)"


def test_it_reads_biologic_mpt_with_and_without_a_header_block():
    bt = read("biologic/PyProBE__Sample_data_biologic_01_MB_CA1.txt")
    assert bt.instrument == "BioLogic" and bt.metadata["header_lines"] == 102
    assert bt.metadata["channel"] == "A1 (SN 0335)"
    records = bt.records
    assert len(records) == 1397
    assert records["current_ma"].iat[-1] == pytest.approx(-899.82635)
    # (Q-Qo) of the last line, read by hand: the charge passed in the discharge.
    last = (DATA / "biologic/PyProBE__Sample_data_biologic_01_MB_CA1.txt").read_text(
        encoding="latin-1").splitlines()[-1].split("\t")
    assert records["capacity_mah"].iat[-1] == pytest.approx(abs(float(last[5])), rel=1e-6)
    bare = read("biologic/PyProBE__Sample_data_biologic_no_header.mpt")
    assert bare.metadata["header_lines"] == 0 and len(bare.records) == 13
    assert bare.records["voltage_v"].iat[0] == pytest.approx(2.9344745)


def test_it_reads_the_maccor_layouts():
    csv = read("maccor/PyProBE__sample_data_maccor.csv")
    assert csv.instrument == "Maccor" and len(csv.records) == 15
    assert csv.records["current_ma"].iat[11] == pytest.approx(28844.0)  # 28.844 A, Maccor's default unit
    assert csv.records["capacity_mah"].iat[-1] == pytest.approx(24.0)
    beep = read("maccor/beep__maccor_test_file_4267-66-6519.041")  # '.041' extension, '0d 00:00:00' times
    assert len(beep.records) == 74 and beep.metadata["cycle_offset"] == 1
    txt = read("maccor/cellpy__maccor_001_first1500.txt")
    records = txt.records
    assert len(records) == 1500 and txt.metadata["channel"] == "1"
    # Amps are unsigned in the file; State D makes them discharge current.
    assert records["current_ma"].iat[2] == pytest.approx(-504.01)
    assert records["test_time_s"].iat[3] == pytest.approx(9.3100004196167)


def test_it_chooses_by_content_not_by_extension():
    data = (DATA / "arbin/PyProBE__sample_data_arbin.csv").read_bytes()
    assert read_export(io.BytesIO(data), name="misnamed.xlsx").instrument == "Arbin"
    nda = (DATA / "neware/navani__test.nda").read_bytes()
    assert read_export(io.BytesIO(nda), name="data.csv").instrument == "Neware"


@pytest.mark.parametrize(("head", "phrase"), [
    (b"\x00\x01\x00\x00Standard Jet DB\x00" + b"\x00" * 64, "the .res database cannot be read (access-parser"),
    (b"BIO-LOGIC MODULAR FILE\x1a" + b" " * 40, "(Export as Text, .mpt)"),
])
def test_it_refuses_binary_formats_with_what_to_do(head, phrase):
    with pytest.raises(ParseError) as caught:
        read_export(io.BytesIO(head), name="run.bin")
    assert "run.bin" in str(caught.value) and phrase in str(caught.value)


def test_it_refuses_a_zip_that_is_no_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(ParseError, match="not an Excel workbook"):
        read_export(io.BytesIO(buffer.getvalue()), name="report.xlsx")


def test_it_names_row_and_column_of_junk_in_a_maccor_file():
    text = (DATA / "maccor/PyProBE__sample_data_maccor.csv").read_text().splitlines()
    cells = text[6].split(",")
    cells[8] = "3.7x"
    text[6] = ",".join(cells)
    with pytest.raises(ParseError) as caught:
        read_export(io.BytesIO("\n".join(text).encode()), name="bad.csv")
    message = str(caught.value)
    assert "'3.7x' is not a number" in message and "row 7" in message and "column 'Voltage'" in message


def _workbook(sheets: dict[str, list[list]]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for i, row in enumerate(rows):
            sheet.write_row(i, 0, row)
    book.close()
    return buffer.getvalue()


def test_it_reads_the_newer_lanhe_layout_in_microamps():
    header = ["Record", "Cycle", "Step", "WorkMode", "StepTime", "TestTime", "SysTime", "Voltage/V", "Current/uA",
              "Capacity/uAh", "SpeCap_cal/mAh/g", "Energy/uWh"]
    rows = [[1, 1, 1, "REST", "0 00:00:00.000", "0 00:00:00.000", "2024-03-01 10:00:00", 3.0, 0, 0, 0, 0],
            [2, 1, 2, "C_CC", "0 00:00:00.000", "0 00:01:00.000", "2024-03-01 10:01:00", 3.5, 150, 0, 0, 0],
            [3, 1, 2, "C_CC", "0 01:00:00.000", "0 01:01:00.000", "2024-03-01 11:01:00", 4.2, 150, 150, 20, 600],
            [4, 1, 3, "D_CC", "0 00:00:00.000", "0 01:01:01.000", "2024-03-01 11:01:01", 4.1, 150, 0, 0, 0],
            [5, 1, 3, "D_CC", "1 00:00:00.000", "1 01:01:01.000", "2024-03-02 11:01:01", 3.0, 150, 3600, 480, 12000]]
    data = _workbook({"Test information": [["Start time", "2024-03-01 10:00:00"], ["Channel", "7"]],
                      "Ch1_Proc": [["Step", "Mode"]], "Log": [["Time", "Event"]],
                      "1-DefaultGroup": [header, *rows]})
    export = read_export(io.BytesIO(data), name="lanhe_new.xlsx")
    assert (export.instrument, export.reader) == ("LAND", "assb-lab lanhe")
    records = export.records
    assert records["current_ma"].tolist() == pytest.approx([0.0, 0.15, 0.15, -0.15, -0.15])  # D_CC: discharge
    assert records["capacity_mah"].tolist() == pytest.approx([0.0, 0.0, 0.15, 0.0, 3.6])
    assert records["energy_mwh"].iat[-1] == pytest.approx(12.0)
    assert records["test_time_s"].iat[-1] == pytest.approx(86400 + 3661)  # '1 01:01:01.000'
    assert export.metadata["channel"] == "7"


def test_it_names_what_a_lanhe_export_with_only_specific_capacity_lacks():
    data = _workbook({"Test information": [["Start time", "x"]],
                      "DefaultGroup": [["Record", "TestTime/Sec.", "Voltage/V", "Current/mA", "SCapacity/mAh/g"],
                                       [1, 0, 3.0, 0.1, 0.0]]})
    with pytest.raises(ParseError) as caught:
        read_export(io.BytesIO(data), name="lanhe_old.xlsx")
    message = str(caught.value)
    assert "only specific capacity" in message and "column 'SCapacity/mAh/g'" in message
    assert "sheet 'DefaultGroup'" in message


def test_it_takes_the_arbin_statistics_sheet_as_the_cycle_table():
    header = ["Data_Point", "Test_Time(s)", "Step_Index", "Cycle_Index", "Current(A)", "Voltage(V)",
              "Charge_Capacity(Ah)", "Discharge_Capacity(Ah)"]
    rows = [[1, 0, 1, 1, 0.001, 3.0, 0.0, 0.0], [2, 3600, 1, 1, 0.001, 4.0, 0.001, 0.0],
            [3, 3601, 2, 1, -0.001, 3.9, 0.001, 0.0], [4, 7200, 2, 1, -0.001, 3.0, 0.001, 0.00095]]
    stats = [["Cycle_Index", "Charge_Capacity(Ah)", "Discharge_Capacity(Ah)"], [1, 0.001, 0.00095]]
    data = _workbook({"Global_Info": [["TEST REPORT"]], "Channel_5_1": [header, *rows], "Statistics_5": stats})
    export = read_export(io.BytesIO(data), name="arbin_stats.xlsx")
    assert export.cycle_table.to_dict("records") == [{"cycle": 1, "charge_mah": 1.0, "discharge_mah": 0.95}]
    assert cross_check(export.records, export.cycle_table, instrument="Arbin") == []
    assert export.records["capacity_mah"].tolist() == pytest.approx([0.0, 1.0, 0.0, 0.95])


NEWARE_TICKS = """DataPoint,Cycle Index,Step Index,Step Type,Time,Total Time,Current(A),Voltage(V),Chg. Cap.(Ah),DChg. Cap.(Ah),Chg. Energy(Wh),DChg. Energy(Wh),Date
1,1,1,CC_Chg,0:00:00,0:00:00,0.001,3.0,0,0.00002,0,0.00006,2021-03-01 09:00:00
2,1,1,CC_Chg,0:10:00,0:10:00,0.001,3.5,0.000166,0,0.0005,0,2021-03-01 09:10:00
3,1,1,CC_Chg,0:20:00,0:20:00,0.001,3.8,0.000333,0,0.0011,0,2021-03-01 09:20:00
4,1,2,CC_DChg,0:00:00,0:30:00,-0.001,3.4,0.00001,0,0.00003,0,2021-03-01 09:30:00
5,1,2,CC_DChg,0:10:00,0:40:00,-0.001,3.0,0,0.000166,0,0.0005,2021-03-01 09:40:00
6,1,2,CC_DChg,0:20:00,0:50:00,-0.001,2.8,0,0.000333,0,0.0009,2021-03-01 09:50:00
"""


BIOLOGIC_TICKS = "\n".join("\t".join(row) for row in [
    ["mode", "ox/red", "time/s", "Ecell/V", "I/mA", "Q discharge/mA.h", "Q charge/mA.h", "half cycle",
     "Energy charge/W.h", "Energy discharge/W.h", "cycle number"],
    ["1", "1", "0", "3.0", "1.0", "0.02", "0", "0", "0", "0.00006", "0"],
    ["1", "1", "600", "3.5", "1.0", "0", "0.166", "0", "0.0005", "0", "0"],
    ["1", "1", "1200", "3.8", "1.0", "0", "0.333", "0", "0.0011", "0", "0"],
    ["1", "0", "1800", "3.4", "-1.0", "0", "0.01", "1", "0.00003", "0", "0"],
    ["1", "0", "2400", "3.0", "-1.0", "0.166", "0", "1", "0", "0.0005", "0"],
    ["1", "0", "3000", "2.8", "-1.0", "0.333", "0", "1", "0", "0.0009", "0"],
]) + "\n"


@pytest.mark.parametrize("text, name, instrument", [(NEWARE_TICKS, "ticks.csv", "Neware"),
                                                     (BIOLOGIC_TICKS, "ticks.mpt", "BioLogic")])
def test_a_stray_tick_of_the_other_counter_at_a_step_start_is_not_counted(text, name, instrument):
    # At each step's (half cycle's) first record the idle counter still shows a tick (discharge 0.02 mAh as
    # the charge starts, charge 0.01 mAh as the discharge starts): no charge flowed that way, so each half is
    # its own counter alone.
    export = read_export(io.BytesIO(text.encode()), name=name)
    assert export.instrument == instrument
    records = export.records
    charge, discharge = records["step_kind"] == "charge", records["step_kind"] == "discharge"
    assert records["capacity_mah"][charge].tolist() == pytest.approx([0.0, 0.166, 0.333], rel=1e-12)
    assert records["capacity_mah"][discharge].tolist() == pytest.approx([0.0, 0.166, 0.333], rel=1e-12)
    assert records["energy_mwh"][charge].iat[-1] == pytest.approx(1.1, rel=1e-12)
    assert records["energy_mwh"][discharge].iat[-1] == pytest.approx(0.9, rel=1e-12)
