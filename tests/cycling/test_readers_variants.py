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
