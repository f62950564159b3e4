"""`manage.py land_summary`: the real LAND sample end to end, refusals, and simulated files."""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

from cycling.analysis import CellSpec, cross_check, run_metrics, summarize_cycles
from cycling.parsers import read_land

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SAMPLE = DATA / "land" / "cellpy_custom_data_002.xlsx"
CYCLE_TAB = DATA / "land" / "cellpy_custom_data_002.cycle_tab.csv"
NEWARE = DATA / "negative" / "neware_custom_data_003.xls"
SAMPLE_MASS_MG = 2.74823 / 3392.871 * 1000  # what the file's SpeCap implies (about 0.81 mg)


def run(*args):
    out = StringIO()
    call_command("land_summary", *map(str, args), stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def sample_json():
    return json.loads(run(SAMPLE, "--active-mass-mg", SAMPLE_MASS_MG))


def test_it_summarises_the_real_discharge_first_sample(sample_json):
    assert sample_json["file"].endswith("cellpy_custom_data_002.xlsx")
    assert sample_json["n_records"] == 16538
    cycles = sample_json["cycles"]
    assert [c["cycle"] for c in cycles] == list(range(1, 15))
    c1 = cycles[0]
    assert c1["charge_mah"] == pytest.approx(2.74823, abs=1e-9)
    assert c1["discharge_mah"] == pytest.approx(3.03312, abs=1e-9)
    assert c1["ce_percent"] == pytest.approx(90.6072, abs=5e-4)
    assert c1["charge_mah_g"] == pytest.approx(3392.871, rel=1e-6)
    assert sample_json["run"]["initial_ce_percent"] == pytest.approx(90.6072, abs=5e-4)
    assert sample_json["run"]["ce_convention"] == "charge/discharge"
    assert sample_json["warnings"] == []
    assert set(c1) == {"cycle", "charge_mah", "discharge_mah", "charge_mah_g", "discharge_mah_g", "ce_percent",
                       "c_rate", "segment", "is_partial", "dqdv_peak_charge_v", "dqdv_peak_discharge_v"}


def test_it_agrees_with_every_row_of_lands_cycle_tab(sample_json):
    land = pd.read_csv(CYCLE_TAB)
    ours = pd.DataFrame(sample_json["cycles"])
    pd.testing.assert_series_equal(ours["charge_mah"], land["CapC/mAh"], check_names=False, rtol=1e-9)
    pd.testing.assert_series_equal(ours["discharge_mah"], land["CapD/mAh"], check_names=False, rtol=1e-9)
    pd.testing.assert_series_equal(ours["ce_percent"], land["Efficiency/%"], check_names=False, atol=1e-3)


def test_it_warns_when_lands_cycle_tab_disagrees():
    export = read_land(SAMPLE)
    cycles = summarize_cycles(export.records, CellSpec(SAMPLE_MASS_MG, None, 160))
    assert cross_check(cycles, export.cycle_table) == []
    tampered = export.cycle_table.copy()
    tampered.loc[tampered["cycle"] == 5, "discharge_mah"] *= 1.01
    warnings = cross_check(cycles, tampered)
    assert len(warnings) == 1 and warnings[0].startswith("cycle 5: discharge capacity 1.9039 mAh")
    assert run_metrics(cycles)["first_charge_mah"] == pytest.approx(2.74823)


def test_it_prints_csv_with_every_cycle_column():
    text = run(SAMPLE, "--active-mass-mg", SAMPLE_MASS_MG, "--area-cm2", 1.0, "--format", "csv")
    table = pd.read_csv(StringIO(text))
    assert len(table) == 14
    assert table["charge_mah_cm2"].iloc[0] == pytest.approx(2.74823, rel=1e-5)
    assert table["segment"].notna().all()


def test_it_writes_null_not_nan_in_json(sample_json):
    text = run(SAMPLE, "--active-mass-mg", SAMPLE_MASS_MG)
    assert "NaN" not in text
    assert sample_json["run"]["knee_cycle"] is None


def test_it_exits_2_with_the_parse_error_on_stderr(capsys):
    with pytest.raises(SystemExit) as exc:
        run(NEWARE, "--active-mass-mg", 1)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "neware_custom_data_003.xls" in err


def test_it_exits_2_from_the_shell_too():
    proc = subprocess.run(
        [sys.executable, "manage.py", "land_summary", str(ROOT / "manage.py"), "--active-mass-mg", "1"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "manage.py" in proc.stderr
    assert proc.stdout.strip() == ""
