"""A record without a voltage (#NUM!, NaN, blank) among valid records: kept for capacity, out of voltage figures."""

import io
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from cycling.analysis import CellSpec, dqdv_all, summarize_cycles
from cycling.analysis.checks import sanity_checks
from cycling.models import DataFile
from cycling.parsers import ParseError, read_land
from cycling.simulate import STUDY_ACTIVE_MASS_MG, STUDY_V_MAX, STUDY_V_MIN, study_cell
from cycling.testing import land_rounded, write_land

ROOT = Path(__file__).resolve().parents[2]
SPEC = CellSpec(active_mass_mg=STUDY_ACTIVE_MASS_MG)


@pytest.fixture(scope="module")
def records():
    frame, _ = study_cell("coated", n_cycles=6, points_per_half_cycle=40)
    return frame


def with_gaps(records, positions):
    gapped = records.copy()
    gapped.loc[positions, "voltage_v"] = np.nan
    return gapped


def charge_positions(records, cycle):
    return records.index[(records["cycle"] == cycle) & (records["step_kind"] == "charge")].to_numpy()


@pytest.fixture(scope="module")
def gaps(records):
    # One lone gap in cycle 2's charge and three in a row in cycle 4's charge.
    return np.concatenate([charge_positions(records, 2)[10:11], charge_positions(records, 4)[5:8]])


def xlsx(records) -> bytes:
    buf = io.BytesIO()
    write_land(records, buf)  # NaN becomes an Excel #NUM! error cell
    return buf.getvalue()


def test_it_keeps_records_with_a_num_error_voltage_and_warns_once_naming_file_sheet_and_rows(records, gaps):
    export = read_land(io.BytesIO(xlsx(with_gaps(records, gaps))), name="LNTO-01.xlsx")
    assert len(export.records) == len(records)
    assert int(export.records["voltage_v"].isna().sum()) == 4
    rows = gaps + 2  # Excel row = position + 2 (header in row 1)
    voltage_warnings = [w for w in export.warnings if "without a voltage" in w]
    assert len(voltage_warnings) == 1
    assert voltage_warnings[0].startswith(
        f"file 'LNTO-01.xlsx', sheet 'Record-Tab' rows {rows[0]:,}, {rows[1]:,}–{rows[3]:,}: 4 record(s) "
        "without a voltage (blank, NaN or an Excel error such as #NUM!)")


@pytest.mark.parametrize("gap_text", ["#NUM!", "NaN", ""])
def test_it_reads_a_num_nan_or_blank_voltage_in_a_csv_as_a_gap(records, gap_text):
    buf = io.BytesIO()
    write_land(records, buf, variant="csv", cycle_table=False)
    lines = buf.getvalue().decode().split("\r\n")
    header = lines[1].split(",")
    col = header.index("Voltage/V")
    cells = lines[7].split(",")
    cells[col] = gap_text
    lines[7] = ",".join(cells)
    export = read_land(io.BytesIO("\r\n".join(lines).encode()), name="gap.csv")
    assert len(export.records) == len(records)
    assert export.records["voltage_v"].isna().sum() == 1
    assert [w for w in export.warnings if "without a voltage" in w][0].startswith(
        "file 'gap.csv', sheet 'Record-Tab section' row 8: 1 record(s) without a voltage")


def test_capacity_and_energy_are_unchanged_and_voltage_figures_skip_the_gaps(records, gaps):
    clean = read_land(io.BytesIO(xlsx(records))).records
    gapped = read_land(io.BytesIO(xlsx(with_gaps(records, gaps)))).records
    a, b = summarize_cycles(clean, SPEC), summarize_cycles(gapped, SPEC)
    for column in ("charge_mah", "discharge_mah", "charge_mah_g", "discharge_mah_g", "ce_percent",
                   "charge_energy_mwh", "discharge_energy_mwh"):
        np.testing.assert_allclose(b[column], a[column], rtol=1e-12, err_msg=column)
    # Without LAND's energy column the energy is integrated from V dQ: a gap borrows its neighbour's voltage.
    own_a = summarize_cycles(clean.assign(energy_mwh=np.nan), SPEC)
    own_b = summarize_cycles(gapped.assign(energy_mwh=np.nan), SPEC)
    assert np.isfinite(own_b["charge_energy_mwh"]).all()
    np.testing.assert_allclose(own_b["charge_energy_mwh"], own_a["charge_energy_mwh"], rtol=1e-3)
    assert np.isfinite(b["median_charge_v"]).all() and np.isfinite(b["mean_charge_v"]).all()
    np.testing.assert_allclose(b["median_charge_v"], a["median_charge_v"], atol=2e-3)
    curves = dqdv_all(gapped)
    assert np.isfinite(curves.dqdv_mah_v).all()
    found = sanity_checks(gapped, b, active_mass_mg=STUDY_ACTIVE_MASS_MG, voltage_window_v=(STUDY_V_MIN, STUDY_V_MAX))
    assert [f.code for f in found if f.code == "voltage_outside_window"] == []


def test_a_missing_current_still_refuses_with_file_sheet_row_and_column(records):
    gapped = records.copy()
    gapped.loc[5, "current_ma"] = np.nan
    with pytest.raises(ParseError) as caught:
        read_land(io.BytesIO(xlsx(gapped)), name="bad.xlsx")
    message = str(caught.value)
    assert "file 'bad.xlsx'" in message and "sheet 'Record-Tab'" in message and "row 7" in message
    assert "current value is missing" in message and "current_ma" in message


def test_land_summary_exits_0_and_prints_the_warning(records, gaps, tmp_path):
    path = tmp_path / "gap.xlsx"
    path.write_bytes(xlsx(with_gaps(records, gaps)))
    done = subprocess.run([sys.executable, "manage.py", "land_summary", str(path), "--active-mass-mg",
                           str(STUDY_ACTIVE_MASS_MG)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["n_records"] == len(records)
    assert len(payload["cycles"]) == 6
    first = summarize_cycles(land_rounded(records), SPEC).iloc[0]
    # The JSON rounds to the column contract's precision (mAh/g: 3 decimals), no further.
    assert payload["cycles"][0]["discharge_mah_g"] == round(float(first["discharge_mah_g"]), 3)
    assert sum("without a voltage" in w for w in payload["warnings"]) == 1


@pytest.mark.django_db
def test_the_ingest_command_imports_the_file_with_the_warning(records, gaps, tmp_path, cell):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "gap.xlsx").write_bytes(xlsx(with_gaps(records, gaps)))
    out = StringIO()
    call_command("ingest", str(folder), "--cell", cell.name, "--now", stdout=out)  # raises on a non-zero exit
    assert "1 imported" in out.getvalue()
    datafile = DataFile.objects.get(cell=cell)
    assert datafile.status == DataFile.Status.IMPORTED and datafile.n_cycles == 6
    assert sum("without a voltage" in w for w in datafile.warnings) == 1
