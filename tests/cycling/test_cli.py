"""`python -m cycling.cli summarize`: the pure core's command line, without Django, printing what manage.py does."""
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
NEWARE = DATA / "cyclers/neware/cellpy__custom_data_003.xls"
# Runs the CLI, then says which Django modules it had loaded (none is the point).
PROBE = ("import sys, runpy; sys.argv = ['cycling.cli', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('cycling.cli', run_name='__main__')\n"
         "except SystemExit as exc:\n    code = exc.code\n"
         "sys.stderr.write('DJANGO=' + ','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
         "('django', 'rest_framework', 'celery'))) + '\\n')\nsys.exit(code)\n")


def cli(*args):
    return subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_it_prints_what_manage_py_summarize_prints_without_loading_django():
    args = ["summarize", NEWARE, "--active-mass-mg", "1.0"]
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "DJANGO="
    out = StringIO()
    call_command(*map(str, args), stdout=out)
    assert done.stdout == out.getvalue()
    result = json.loads(done.stdout)
    assert result["n_records"] == 2943 and len(result["cycles"]) == 14
    assert result["cycles"][1]["discharge_mah_g"] == pytest.approx(2833.2516111111112, rel=1e-6)


def test_it_prints_the_same_csv_as_manage_py():
    args = ["summarize", NEWARE, "--active-mass-mg", "1.0", "--format", "csv"]
    done = cli(*args)
    out = StringIO()
    call_command(*map(str, args), stdout=out)
    assert done.returncode == 0 and done.stdout == out.getvalue()
    assert done.stdout.splitlines()[0].startswith("cycle,") and len(done.stdout.splitlines()) == 15


def test_it_names_the_bad_option_and_exits_2():
    done = cli("summarize", NEWARE, "--active-mass-mg", "1", "--active-loading-mg-cm2", "8")
    assert done.returncode == 2
    assert "give either --active-mass-mg or --active-loading-mg-cm2 with --area-cm2, not both" in done.stderr


def test_it_exits_2_with_the_reason_for_an_unreadable_file(tmp_path):
    bad = tmp_path / "run.mpr"
    bad.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a" + b" " * 64)
    done = cli("summarize", bad)
    assert done.returncode == 2 and "run.mpr" in done.stderr and done.stdout == ""


def test_it_loads_a_workbooks_record_sheet_before_pandas_is_imported(tmp_path):
    """The record sheet's cell grid is the command's peak memory: nothing of pandas may sit under it."""
    from cycling.simulate import study_cell
    from cycling.testing import write_land

    frame, _ = study_cell(group="coated", n_cycles=3, points_per_half_cycle=20, seed=5)
    path = tmp_path / "cell.xlsx"
    write_land(frame, path)
    order = ("import sys, runpy\nimport cycling.parsers.recordsheets as sheets\nreal = sheets._load\n"
             "def load(reader, name):\n"
             "    sys.stderr.write(f'LOAD {name} pandas={\"pandas\" in sys.modules}\\n')\n"
             "    return real(reader, name)\n"
             "sheets._load = load\nsys.argv = ['cycling.cli', *sys.argv[1:]]\n"
             "runpy.run_module('cycling.cli', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", order, "summarize", str(path), "--active-mass-mg", "6.597"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("LOAD")] == ["LOAD Record-Tab pandas=False"]
    assert json.loads(done.stdout)["n_records"] == len(frame)
