"""`manage.py conductivity` and `manage.py ccd`: the JSON contracts on generated files with exact truth, exit 2
with the reason for a file that cannot give the result."""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from solidstate.simulate import LGPS, SLOW, ccd_records, pellet_series_files, write_records

REPO = Path(__file__).resolve().parents[2]
TEMPS = [25, 40, 55, 70, 80]


def run(command, *args) -> dict:
    out = StringIO()
    call_command(command, *map(str, args), stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def refused(command, *args, capsys) -> str:
    with pytest.raises(SystemExit) as caught:
        call_command(command, *map(str, args), stdout=StringIO(), stderr=StringIO())
    assert caught.value.code == 2
    return capsys.readouterr().err


def _pellet_files(tmp_path, preset, fmt="mpt"):
    paths, truths = [], []
    for k, (data, truth) in enumerate(pellet_series_files(TEMPS, fmt=fmt, seed=21, **preset)):
        path = tmp_path / f"pellet_{k}.{fmt}"
        path.write_bytes(data)
        paths.append(path)
        truths.append(truth)
    return paths, truths


def test_it_prints_the_conductivity_contract_for_an_lgps_series(tmp_path):
    paths, truths = _pellet_files(tmp_path, LGPS, fmt="dta")
    result = run("conductivity", *paths, "--thickness-mm", 0.8, "--diameter-mm", 10,
                 "--temperatures-c", ",".join(map(str, TEMPS)), "--format", "json")
    assert list(result) == ["points", "arrhenius"]
    assert [list(p) for p in result["points"]] == [["file", "temperature_c", "r_bulk_ohm", "r_total_ohm",
                                                    "sigma_bulk_s_cm", "sigma_total_s_cm"]] * 5
    for point, truth, path in zip(result["points"], truths, paths, strict=True):
        assert point["file"] == str(path) and point["temperature_c"] == truth.temperature_c
        assert point["sigma_total_s_cm"] == pytest.approx(truth.sigma_total_s_cm, rel=0.03)
        assert point["r_bulk_ohm"] is None and point["sigma_bulk_s_cm"] is None
    fit = result["arrhenius"]
    assert list(fit) == ["ea_ev", "ea_ev_se", "sigma_25c_s_cm", "form", "n_points"]
    assert abs(fit["ea_ev"] - 0.25) < 0.01 and fit["form"] == "sigma_T" and fit["n_points"] == 5
    assert fit["sigma_25c_s_cm"] == pytest.approx(0.012, rel=0.03) and 0 < fit["ea_ev_se"] < 0.01


def test_it_gives_bulk_values_where_resolvable_and_no_fit_below_three_points(tmp_path):
    paths, truths = _pellet_files(tmp_path, SLOW)
    result = run("conductivity", paths[0], paths[1], "--thickness-mm", 0.8, "--diameter-mm", 10,
                 "--temperatures-c", "25,40")
    assert result["arrhenius"] is None
    for point, truth in zip(result["points"], truths[:2], strict=True):
        assert point["sigma_bulk_s_cm"] == pytest.approx(truth.sigma_bulk_s_cm, rel=0.03)
        assert point["r_bulk_ohm"] == pytest.approx(truth.r_bulk_ohm, rel=0.03)


def test_it_exits_2_for_files_that_cannot_give_a_conductivity(tmp_path, capsys):
    paths, _ = _pellet_files(tmp_path, LGPS)
    err = refused("conductivity", paths[0], "--thickness-mm", 0.8, "--diameter-mm", 10, capsys=capsys)
    assert "does not say its temperature; give --temperatures-c" in err
    err = refused("conductivity", *paths[:2], "--thickness-mm", 0.8, "--diameter-mm", 10,
                  "--temperatures-c", "25", capsys=capsys)
    assert "1 temperature(s) for 2 file(s)" in err
    cycling = tmp_path / "run.mpt"
    cycling.write_bytes(write_records(ccd_records()[0], "biologic"))
    err = refused("conductivity", cycling, "--thickness-mm", 0.8, "--diameter-mm", 10, "--temperatures-c", "25",
                  capsys=capsys)
    assert "run.mpt" in err and "not an EIS spectrum" in err
    from impedance.simulate import simulate_spectrum, write_spectrum

    closed = simulate_spectrum("R0-p(R1,CPE1)", {"R0": 5.0, "R1": 100.0, "CPE1_0": 1e-6, "CPE1_1": 0.9})
    nospike = tmp_path / "nospike.csv"
    nospike.write_bytes(write_spectrum(closed, "csv"))
    err = refused("conductivity", nospike, "--thickness-mm", 0.8, "--diameter-mm", 10, "--temperatures-c", "25",
                  capsys=capsys)
    assert "nospike.csv: no blocking-electrode spike" in err


@pytest.mark.parametrize("fmt, short_step", [("land", 6), ("biologic", 3), ("land-csv", None)])
def test_it_prints_the_ccd_contract(tmp_path, fmt, short_step):
    records, truth = ccd_records(short_step=short_step, glitch_step=1, seed=5)
    path = tmp_path / {"land": "ccd.xlsx", "biologic": "ccd.mpt", "land-csv": "ccd.csv"}[fmt]
    path.write_bytes(write_records(records, fmt))
    result = run("ccd", path, "--area-cm2", truth.area_cm2, "--format", "json")
    assert list(result) == ["steps", "ccd_ma_cm2", "short_time_s", "definition"]
    assert all(list(s) == ["current_density_ma_cm2", "overpotential_mv"] for s in result["steps"])
    if short_step is None:
        assert result["ccd_ma_cm2"] is None and result["short_time_s"] is None and len(result["steps"]) == 10
    else:
        assert result["ccd_ma_cm2"] == pytest.approx(truth.ccd_ma_cm2, rel=1e-6)
        assert abs(result["short_time_s"] - truth.short_time_s) <= 10.0
        assert len(result["steps"]) == short_step + 1
    assert result["steps"][1]["overpotential_mv"] == pytest.approx(0.10 * 120, abs=0.5)
    assert "step in which the cell shorts" in result["definition"]


def test_it_exits_2_for_a_file_that_cannot_give_a_ccd(tmp_path, capsys):
    from cycling.simulate import simple_spec, simulate_cell

    full = tmp_path / "full.mpt"
    full.write_bytes(write_records(simulate_cell(simple_spec(3)), "biologic"))
    assert "a full cell?" in refused("ccd", full, "--area-cm2", 0.785, capsys=capsys)
    flat = tmp_path / "flat.csv"
    flat.write_bytes(write_records(ccd_records(n_steps=1, short_step=None)[0], "land-csv"))
    assert "no steps" in refused("ccd", flat, "--area-cm2", 0.785, capsys=capsys)
    eis = tmp_path / "eis.mpt"
    eis.write_bytes(pellet_series_files([25], **LGPS)[0][0])
    assert "eis.mpt" in refused("ccd", eis, "--area-cm2", 0.785, capsys=capsys)


def test_it_runs_as_manage_py_with_exit_status_2(tmp_path):
    flat = tmp_path / "flat.csv"
    flat.write_bytes(write_records(ccd_records(n_steps=1, short_step=None)[0], "land-csv"))
    proc = subprocess.run([sys.executable, "manage.py", "ccd", str(flat), "--area-cm2", "0.785", "--format", "json"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no steps" in proc.stderr and proc.stdout == ""
