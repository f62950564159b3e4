"""Real-world variants of the cycler exports (issue 23): each kind of file reads to the instrument's own
per-cycle numbers (within 0.5 %) where it has them, else to the current-integrated capacity."""
import io
from functools import cache

import numpy as np
import pandas as pd
import pytest

from cycling.parsers import ParseError, read_export, read_runs
from cycling.parsers.crosscheck import compare_with_instrument, cycle_capacities
from cycling.simulate import study_cell
from cycling.writers import write_arbin_csv, write_arbin_xlsx

TOLERANCE = 0.005


@cache
def run(seed: int = 11, n_cycles: int = 3) -> pd.DataFrame:
    frame, _ = study_cell(group="coated", n_cycles=n_cycles, points_per_half_cycle=15, seed=seed)
    return frame


def integrated_capacity(records: pd.DataFrame) -> pd.DataFrame:
    """Per cycle and direction: the integral of |I| dt (mAh), trapezoids between records of that direction."""
    t = records["test_time_s"].to_numpy()
    current = records["current_ma"].to_numpy()
    kind = records["step_kind"].to_numpy(dtype=object)
    piece = np.r_[0.0, 0.5 * (np.abs(current[1:]) + np.abs(current[:-1])) * np.diff(t) / 3600.0]
    same = np.r_[False, kind[1:] == kind[:-1]]
    frame = pd.DataFrame({"cycle": records["cycle"], "kind": kind, "mah": np.where(same, piece, 0.0)})
    table = frame[frame["kind"] != "rest"].pivot_table(index="cycle", columns="kind", values="mah", aggfunc="sum")
    return pd.DataFrame({"charge_mah": table["charge"], "discharge_mah": table["discharge"]})


def assert_matches_instrument(export):
    table = compare_with_instrument(export.records, export.cycle_table)
    assert len(table) == export.records["cycle"].nunique() >= 2
    for column in ("charge_mah_rel_diff", "discharge_mah_rel_diff"):
        assert (table[column] <= TOLERANCE).all(), table


def assert_matches_integrated_current(records):
    ours = cycle_capacities(records)
    theirs = integrated_capacity(records)
    both = ours.join(theirs.add_suffix("_integrated"), how="inner")
    assert len(both) >= 2
    for column in ("charge_mah", "discharge_mah"):
        assert np.allclose(both[column], both[f"{column}_integrated"], rtol=TOLERANCE), both


def _xlsx(channels, **kwargs) -> bytes:
    buffer = io.BytesIO()
    write_arbin_xlsx(channels, buffer, **kwargs)
    return buffer.getvalue()


# --- finding 2: Excel datetime cells --------------------------------------------------------------------------

def test_it_reads_an_arbin_workbook_whose_date_time_cells_are_real_excel_datetimes():
    export = read_export(io.BytesIO(_xlsx({"11": run()})), name="dates.xlsx")
    assert export.instrument == "Arbin" and export.metadata["channel"] == "11"
    stamps = export.records["sys_time"].to_numpy(dtype="datetime64[ms]")
    expected = run()["sys_time"].to_numpy(dtype="datetime64[ms]")
    assert (np.abs(stamps - expected) <= np.timedelta64(1, "ms")).all()
    assert_matches_instrument(export)


# --- finding 3: several channels, one run each ----------------------------------------------------------------

def test_it_reads_a_multi_channel_arbin_workbook_as_one_run_per_channel():
    data = _xlsx({"1-053": run(11), "1-059": run(23, n_cycles=4)})
    runs = read_runs(io.BytesIO(data), name="two_channels.xlsx")
    assert [r.metadata["channel"] for r in runs] == ["1-053", "1-059"]
    assert [r.records["cycle"].nunique() for r in runs] == [3, 4]
    for export, seed_run in zip(runs, (run(11), run(23, n_cycles=4)), strict=True):
        assert len(export.records) == len(seed_run)
        assert np.allclose(export.records["voltage_v"], seed_run["voltage_v"])
        assert export.metadata["channels_in_file"] == 2
        assert_matches_instrument(export)  # each channel against its own Statistics sheet


def test_a_multi_channel_workbook_needs_the_channel_named():
    data = _xlsx({"1-053": run(11), "1-059": run(23, n_cycles=4)})
    with pytest.raises(ParseError, match=r"file 'two\.xlsx': the file holds 2 channels \(1-053, 1-059\)"):
        read_export(io.BytesIO(data), name="two.xlsx")
    second = read_export(io.BytesIO(data), name="two.xlsx", channel="1-059")
    assert second.metadata["channel"] == "1-059" and second.records["cycle"].nunique() == 4
    with pytest.raises(ParseError, match="no channel '7'"):
        read_export(io.BytesIO(data), name="two.xlsx", channel="7")


# --- finding 5: no cycle index ----------------------------------------------------------------------------------

def test_it_derives_cycles_from_the_current_when_the_arbin_csv_has_no_cycle_index():
    buffer = io.BytesIO()
    write_arbin_csv(run(), buffer)
    frame = pd.read_csv(io.BytesIO(buffer.getvalue()))
    frame["Cycle_Index"] = np.nan
    frame["Step_Index"] = np.nan
    export = read_export(io.BytesIO(frame.to_csv(index=False).encode()), name="no_index.csv")
    assert export.metadata["cycle_source"] == "derived"
    assert any("Cycle_Index column is empty: cycles were derived" in w for w in export.warnings)
    assert (export.records["cycle"].to_numpy() == run()["cycle"].to_numpy()).all()
    assert_matches_integrated_current(export.records)


def test_it_reads_excel_date_cells_that_stayed_python_objects():
    # A Date_Time column of date cells that pandas keeps as objects (a date-only cell at midnight among
    # datetimes) once crashed the reader with ".str accessor ... not date".
    import datetime as dt

    from cycling.parsers.tables import Table

    cells = [dt.datetime(2024, 1, 1, 23, 59, 58 + i) if i < 2 else dt.date(2024, 1, 2) for i in range(3)] * 400
    table = Table(frame=pd.DataFrame({"Date_Time": pd.Series(cells, dtype=object)}), rows=np.arange(2, 1202))
    stamps = table.stamps(table.find("Date_Time"), np.arange(1200.0))
    expected = np.array(["2024-01-01T23:59:58", "2024-01-01T23:59:59", "2024-01-02T00:00:00"] * 400,
                        dtype="datetime64[ns]")
    assert (stamps == expected).all()


# --- finding 4: clock glitches and the older BDF names --------------------------------------------------------

def _bdf(records: pd.DataFrame) -> pd.DataFrame:
    from cycling.parsers.bdf import write_bdf

    buffer = io.BytesIO()
    write_bdf(records, buffer, fmt="csv")
    return pd.read_csv(io.BytesIO(buffer.getvalue()))


def _glitched(frame: pd.DataFrame, column: str, rows: list[int]) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[rows, column] = 0.0
    return frame


def test_it_repairs_one_record_clock_glitches_in_a_bdf_file_and_names_their_rows():
    starts = np.flatnonzero(np.diff(run()["step"].to_numpy())) + 1  # step starts: where the cyclers glitch
    glitched = _glitched(_bdf(run()), "test_time_second", [int(starts[1]), int(starts[4])])
    export = read_export(io.BytesIO(glitched.to_csv(index=False).encode()), name="glitch.bdf.csv")
    rows = [int(starts[1]) + 2, int(starts[4]) + 2]  # header on line 1, data from line 2
    finding = [w for w in export.warnings if "clock glitch" in w]
    assert len(finding) == 1 and f"row(s) {rows[0]}, {rows[1]}" in finding[0]
    assert export.records["test_time_s"].is_monotonic_increasing
    assert (export.records["cycle"].to_numpy() == run()["cycle"].to_numpy()).all()
    assert_matches_integrated_current(export.records)


def test_it_still_refuses_a_real_restart_of_the_test_time():
    frame = _bdf(run())
    half = len(frame) // 2
    frame.loc[half:, "test_time_second"] -= frame.loc[half, "test_time_second"]  # a second test appended
    with pytest.raises(ParseError, match=rf"row {half + 2}, column 'test_time_second': test time goes backwards"):
        read_export(io.BytesIO(frame.to_csv(index=False).encode()), name="merged.bdf.csv")


def test_it_repairs_a_clock_glitch_in_an_arbin_csv_too():
    buffer = io.BytesIO()
    write_arbin_csv(run(), buffer)
    frame = pd.read_csv(io.BytesIO(buffer.getvalue()))
    frame.loc[40, "Test_Time(s)"] = 0.0
    export = read_export(io.BytesIO(frame.to_csv(index=False).encode()), name="glitch.csv")
    assert any("row(s) 42;" in w for w in export.warnings)
    assert export.records["test_time_s"].iat[40] == pytest.approx(
        0.5 * (run()["test_time_s"].iat[39] + run()["test_time_s"].iat[41]))


def test_it_reads_the_older_bdf_column_names_and_integrates_the_current_without_capacity():
    frame = _bdf(run())
    old = pd.DataFrame({"test_time_millisecond": (frame["test_time_second"] * 1000).round(),
                        "voltage_volt": frame["voltage_volt"], "current_ampere": frame["current_ampere"],
                        "cycle_dimensionless": frame["cycle_count"],
                        "date_time_millisecond": (frame["unix_time_second"] * 1000).round()})
    export = read_export(io.BytesIO(old.to_csv(index=False).encode()), name="old.bdf.csv")
    assert export.instrument == "BDF"
    assert np.allclose(export.records["test_time_s"], run()["test_time_s"], atol=1e-3)
    assert (export.records["cycle"].to_numpy() == run()["cycle"].to_numpy()).all()
    assert any("integrated from the current" in w for w in export.warnings)
    assert_matches_integrated_current(export.records)
    # ... and, the simulated cell's capacity being the integral of its current, the cell's own numbers too
    ours, truth = cycle_capacities(export.records), cycle_capacities(run())
    assert np.allclose(ours, truth, rtol=TOLERANCE)


# --- finding 6: Maccor layouts and unit variants; finding 1: Windows-1252 bytes --------------------------------

def _maccor(**kwargs) -> bytes:
    from cycling.writers import write_maccor_text

    buffer = io.BytesIO()
    write_maccor_text(run(), buffer, **kwargs)
    return buffer.getvalue()


def assert_same_run(records: pd.DataFrame, original: pd.DataFrame = None):
    original = run() if original is None else original
    assert len(records) == len(original)
    assert (records["cycle"].to_numpy() == original["cycle"].to_numpy()).all()
    assert (records["step_kind"].to_numpy() == original["step_kind"].to_numpy()).all()
    for column in ("test_time_s", "current_ma", "voltage_v", "capacity_mah"):
        assert np.allclose(records[column], original[column], rtol=1e-8, atol=1e-9), column


@pytest.mark.parametrize("layout", ["today", "name-channel"])
@pytest.mark.parametrize("milli", [False, True])
def test_it_reads_both_maccor_layouts_in_amps_and_in_milli_units(layout, milli):
    export = read_export(io.BytesIO(_maccor(layout=layout, milli=milli)), name="run.001")
    assert export.instrument == "Maccor"
    assert export.metadata["channel"] == ("12" if layout == "name-channel" else "1")
    assert_same_run(export.records)
    assert_matches_integrated_current(export.records)
    if milli:
        units = export.metadata["units"]
        assert set(units.values()) >= {"mA", "mAh", "mV"}, units


def test_it_reads_a_maccor_file_whose_description_has_windows_1252_and_control_bytes():
    data = _maccor(description="Zelle µ-7 bei 25 °C, Kapazität 2 mAh, 3 €", encoding="cp1252", layout="name-channel")
    data = data.replace(b"Zelle", b"Zelle\xff\x01\x00", 1)  # what a re-saved description line holds
    export = read_export(io.BytesIO(data), name="run.002")
    assert export.metadata["encoding"] == "cp1252"
    assert export.metadata["description"].startswith("Zelleÿ\x01 µ-7 bei 25 °C")
    assert_same_run(export.records)


def _cp1252_file(fmt: str) -> tuple[bytes, str]:
    """A file of ``fmt`` written by the seeded writers, with Windows-1252 text where that format has free text
    or a unit ('°C', 'µ', '²', '€'), encoded as a European Windows PC saves it."""
    from cycling.parsers.bdf import write_bdf
    from cycling.testing import write_land
    from cycling.writers import write_biologic_mpt, write_neware_csv

    buffer = io.BytesIO()
    if fmt == "land":
        write_land(run(), buffer, variant="csv")
        text = "Barcode: Zelle-µ7 25 °C 3 €\n" + buffer.getvalue().decode("utf-8-sig")
        return text.encode("cp1252"), "run.csv"
    if fmt == "biologic":
        write_biologic_mpt(run(), buffer)
        lines = buffer.getvalue().decode().split("\n")
        lines[2] = "Electrode surface area : 1.130 cm² (3 €)"  # replaces a blank line: the count stays
        return "\n".join(lines).encode("cp1252"), "run.mpt"
    if fmt == "maccor":
        return _maccor(description="Zelle µ-7, 25 °C, 3 €", encoding="cp1252"), "run.003"
    writer = {"arbin": write_arbin_csv, "neware": write_neware_csv,
              "bdf": lambda records, dest: write_bdf(records, dest, fmt="csv")}[fmt]
    writer(run(), buffer)
    frame = pd.read_csv(io.BytesIO(buffer.getvalue()), dtype=str, keep_default_na=False)
    frame["Aux_Temperature_1(°C)" if fmt != "bdf" else "comment"] = "25 °C, 3 €"
    return frame.to_csv(index=False).encode("cp1252"), f"run.{fmt}.csv"


@pytest.mark.parametrize("fmt", ["arbin", "maccor", "biologic", "neware", "bdf", "land"])
def test_it_reads_windows_1252_text_in_every_text_format(fmt):
    data, name = _cp1252_file(fmt)
    assert b"\x80" in data  # '€': a byte only Windows-1252 gives meaning to
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    export = read_export(io.BytesIO(data), name=name)
    assert export.instrument == {"arbin": "Arbin", "maccor": "Maccor", "biologic": "BioLogic", "neware": "Neware",
                                 "bdf": "BDF", "land": "LAND"}[fmt]
    assert export.records["cycle"].nunique() == 3
    if fmt == "land":
        assert export.metadata["barcode"] == "Zelle-µ7 25 °C 3 €"
        assert np.allclose(cycle_capacities(export.records), cycle_capacities(run()), rtol=TOLERANCE)
    else:
        assert_same_run(export.records)


# --- finding 7: Neware's layered general report ----------------------------------------------------------------

def test_it_reads_nevares_layered_report_from_its_record_layer_and_checks_it_against_its_cycle_layer():
    from cycling.writers import write_neware_layered

    buffer = io.BytesIO()
    write_neware_layered(run(), buffer)
    export = read_export(io.BytesIO(buffer.getvalue()), name="report.csv")
    assert export.instrument == "Neware" and export.metadata["format"] == "neware-layered-csv"
    records = export.records
    assert len(records) == len(run())
    assert (records["cycle"].to_numpy() == run()["cycle"].to_numpy()).all()
    assert (records["step_kind"].to_numpy() == run()["step_kind"].to_numpy()).all()
    assert np.allclose(records["capacity_mah"], run()["capacity_mah"], rtol=1e-8, atol=1e-6)
    assert export.cycle_table["cycle"].tolist() == [1, 2, 3]
    assert_matches_instrument(export)
    assert export.warnings == []  # the cross-check with the cycle layer found nothing


def test_a_layered_report_whose_cycle_layer_disagrees_is_flagged():
    from cycling.writers import write_neware_layered

    buffer = io.BytesIO()
    write_neware_layered(run(), buffer)
    lines = buffer.getvalue().decode().split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("2,"))
    cells = lines[at].split(",")
    cells[2] = f"{float(cells[2]) * 1.05:.6f}"  # the instrument's discharge of cycle 2, 5 % off
    lines[at] = ",".join(cells)
    export = read_export(io.BytesIO("\n".join(lines).encode()), name="report.csv")
    assert any("discharge capacity" in w and "cycle(s) 2" in w for w in export.warnings), export.warnings


def test_summarize_reports_each_channel_of_a_multi_channel_workbook(tmp_path):
    import json

    from django.core.management import call_command

    path = tmp_path / "two_channels.xlsx"
    path.write_bytes(_xlsx({"1-053": run(11), "1-059": run(23, n_cycles=4)}))
    out = io.StringIO()
    call_command("summarize", str(path), stdout=out)
    body = json.loads(out.getvalue())
    assert [c["channel"] for c in body["channels"]] == ["1-053", "1-059"]
    assert [c["n_cycles"] for c in body["channels"]] == [3, 4]
    assert {c["instrument"] for c in body["channels"]} == {"Arbin"}
    table = io.StringIO()
    call_command("summarize", str(path), "--format", "csv", stdout=table)
    frame = pd.read_csv(io.StringIO(table.getvalue()), dtype={"channel": str})
    assert frame.groupby("channel")["cycle"].count().to_dict() == {"1-053": 3, "1-059": 4}


# --- finding 8: native binaries ----------------------------------------------------------------------------------

def test_it_reads_an_arbin_res_database_to_its_own_per_cycle_counters_and_the_integrated_current():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data/cyclers/arbin/cellpy__20160805_test001_45_cc_01.res"
    export = read_export(path)
    assert (export.instrument, export.metadata["format"], export.metadata["parser"]) == ("Arbin", "res",
                                                                                         "assb-lab arbin-res")
    assert export.metadata["software"] == "4.32 Build: 130904"
    assert export.metadata["start_time"].startswith("2016-08-05T16:16")
    records = export.records
    assert len(records) == 10261 and records["cycle"].max() == 18
    # Arbin's own counters: Charge_/Discharge_Capacity run over a cycle; their largest value per cycle is
    # the instrument's per-cycle capacity (read straight from the database here, independently of the reader).
    from access_parser import AccessParser

    raw = pd.DataFrame(AccessParser(str(path)).parse_table("Channel_Normal_Table"))
    theirs = raw.groupby("Cycle_Index")[["Charge_Capacity", "Discharge_Capacity"]].max() * 1000
    ours = cycle_capacities(records)
    both = ours.join(theirs, how="inner")
    moving = both[(both["Charge_Capacity"] > 1e-3) & (both["Discharge_Capacity"] > 1e-3)]
    assert len(moving) >= 15
    assert np.allclose(moving["charge_mah"], moving["Charge_Capacity"], rtol=TOLERANCE)
    assert np.allclose(moving["discharge_mah"], moving["Discharge_Capacity"], rtol=TOLERANCE)
