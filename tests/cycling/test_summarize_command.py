"""`manage.py summarize`: land_summary's JSON for any cycler, on the real Neware sample and LAND's."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

DATA = Path(__file__).resolve().parents[1] / "data"


def run(*args) -> dict:
    out = StringIO()
    call_command("summarize", *map(str, args), stdout=out)
    return json.loads(out.getvalue())


def test_it_summarises_the_neware_sample_like_its_cycle_sheet():
    result = run(DATA / "cyclers/neware/cellpy__custom_data_003.xls", "--active-mass-mg", 1.0)
    assert (result["instrument"], result["reader"]) == ("Neware", "assb-lab neware-bts")
    assert result["n_records"] == 2943 and len(result["cycles"]) == 14
    second = result["cycles"][1]
    # Cycle_14_1_3, cycle 2, as Neware wrote it; 1 mg of active material makes mAh/g = 1000 x mAh.
    assert second["charge_mah"] == pytest.approx(3.1196841666666666, rel=1e-6)
    assert second["discharge_mah"] == pytest.approx(2.8332516111111112, rel=1e-6)
    assert second["discharge_mah_g"] == pytest.approx(2833.2516111111112, rel=1e-6)
    assert result["warnings"] == []


def test_it_keeps_reading_land_files():
    result = run(DATA / "land/cellpy_custom_data_002.xlsx", "--active-mass-mg", 0.81)
    assert (result["instrument"], result["reader"]) == ("LAND", "assb-lab land")
    assert result["n_records"] == 16538 and len(result["cycles"]) == 14


def test_it_exits_2_with_the_reason_for_an_unreadable_file(tmp_path, capsys):
    bad = tmp_path / "run.mpr"
    bad.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a" + b" " * 64)
    with pytest.raises(SystemExit) as caught:
        call_command("summarize", str(bad), "--active-mass-mg", "1")
    assert caught.value.code == 2 and ".mpt" in capsys.readouterr().err


def test_it_reports_each_channel_of_a_multi_channel_workbook_against_its_statistics_sheet(tmp_path):
    from cycling.parsers import read_runs
    from cycling.simulate import study_cell
    from cycling.writers import write_arbin_xlsx

    runs = {"1-053": study_cell(group="coated", n_cycles=3, points_per_half_cycle=15, seed=11)[0],
            "1-059": study_cell(group="bare", n_cycles=4, points_per_half_cycle=15, seed=23)[0]}
    path = tmp_path / "two_channels.xlsx"
    with path.open("wb") as fh:
        write_arbin_xlsx(runs, fh)
    result = run(path, "--active-mass-mg", 6.594)
    assert [(c["channel"], c["n_cycles"]) for c in result["channels"]] == [("1-053", 3), ("1-059", 4)]
    statistics = {r.metadata["channel"]: r.cycle_table for r in read_runs(path)}
    for channel in result["channels"]:
        ours = [c["discharge_mah"] for c in channel["cycles"]]
        np_theirs = statistics[channel["channel"]]["discharge_mah"].to_numpy()
        assert ours == pytest.approx(list(np_theirs), rel=0.005)
    csv = StringIO()
    call_command("summarize", str(path), "--format", "csv", stdout=csv)
    lines = csv.getvalue().splitlines()
    assert lines[0].startswith("channel,") and len(lines) == 1 + 3 + 4
    assert [line.split(",")[0] for line in lines[1:]] == ["1-053"] * 3 + ["1-059"] * 4
