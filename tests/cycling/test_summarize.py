"""`manage.py summarize` / `land_summary` run the ingest's pipeline: same numbers, warnings and findings."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cells.models import Cell
from cycling import selectors, services
from cycling.analysis import CELL_METRIC_KEYS
from cycling.models import DataFile
from lab.compare import SUMMARY_METRICS, Selection, compare
from lab.views import cells_with_figures
from tests.landfiles import study_export, upload_file

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def coated_file(tmp_path_factory):
    data, info = study_export("coated", n_cycles=30)
    path = tmp_path_factory.mktemp("summarize") / "LNTO-01_ch3.xlsx"
    path.write_bytes(data)
    return path, info


def summarize(command, *args):
    out = StringIO()
    call_command(command, *map(str, args), stdout=out)
    return json.loads(out.getvalue())


def build_facts(cell):
    low, high = cell.cell_voltage_window_v
    return ["--active-mass-mg", cell.active_mass_mg, "--area-cm2", cell.electrode_area_cm2,
            "--theoretical-mah-g", cell.effective_theoretical_mah_g, "--voltage-window-v", low, high]


def test_it_gives_the_ingests_numbers_warnings_and_findings(api, researcher, cell, coated_file):
    path, _ = coated_file
    resp = api.post("/api/v1/datafiles/", {"file": upload_file(path.read_bytes(), path.name), "cell": cell.name},
                    format="multipart")
    assert services.datafile_ingest(datafile_id=resp.json()["id"]) == "imported"
    datafile = DataFile.objects.get(pk=resp.json()["id"])
    for command in ("summarize", "land_summary"):
        cli = summarize(command, path, *build_facts(cell))
        api_file = api.get(f"/api/v1/datafiles/{datafile.pk}/").json()
        assert cli["warnings"] == api_file["warnings"]
        assert cli["findings"] == api_file["provenance"]["findings"]
        assert cli["n_cycles"] == api_file["n_cycles"] == 30 and cli["n_records"] == api_file["n_records"]
        for key in ("cycle_source", "ce_convention", "active_mass_mg", "theoretical_mah_g", "dqdv_params",
                    "instrument", "reader", "reader_version"):
            assert cli["provenance"][key] == api_file["provenance"][key], key
        summary = {row["cell"]: row for row in compare(researcher, Selection((), (cell.pk,)))["summary"]["cells"]}
        summary = summary[cell.name]
        run = cli["run"]
        assert run["initial_ce_percent"] == pytest.approx(85.8, abs=0.05)
        assert run["first_discharge_mah_g"] == pytest.approx(161.4, rel=1e-3)
        # The cell page and the cell list read the same cell metrics.
        page = selectors.cell_run_metrics(cell)
        for key in CELL_METRIC_KEYS:
            assert page.get(key) == run.get(key), key
        listed = cells_with_figures(Cell.objects.filter(pk=cell.pk)).get()
        assert listed.latest_cycle == run["last_cycle"]
        assert listed.first_discharge_mah_g == pytest.approx(run["first_discharge_mah_g"])
        assert listed.retention_percent == pytest.approx(run["retention_percent"])
        decimals = {k: d for k, _, d in SUMMARY_METRICS}  # the summary rounds for display
        for key in ("initial_ce_percent", "first_discharge_mah_g", "retention_percent", "decay_percent_per_cycle",
                    "retention_reference_cycle", "last_cycle"):
            assert summary[key] == pytest.approx(round(run[key], decimals[key])), key


def test_it_assumes_no_mass_and_reports_mah_only(coated_file):
    path, _ = coated_file
    body = summarize("summarize", path)
    assert body["capacity_unit"] == "mAh" and body["run"]["capacity_unit"] == "mAh"
    assert body["cycles"][0]["charge_mah_g"] is None and body["cycles"][0]["c_rate"] is None
    assert body["provenance"]["active_mass_mg"] is None and body["provenance"]["theoretical_mah_g"] is None


def test_it_takes_the_mass_from_loading_and_area(coated_file):
    path, info = coated_file
    by_mass = summarize("summarize", path, "--active-mass-mg", 8.4 * 0.7854, "--theoretical-mah-g", 160)
    by_loading = summarize("summarize", path, "--active-loading-mg-cm2", 8.4, "--area-cm2", 0.7854,
                           "--theoretical-mah-g", 160)
    assert by_loading["provenance"]["active_mass_mg"] == pytest.approx(8.4 * 0.7854)
    assert by_loading["run"]["first_charge_mah_g"] == pytest.approx(by_mass["run"]["first_charge_mah_g"])
    assert by_loading["cycles"][0]["c_rate"] == pytest.approx(0.1, rel=0.02)


@pytest.mark.parametrize("args, message", [
    (["--active-loading-mg-cm2", "8.4"], "needs --area-cm2"),
    (["--active-mass-mg", "-1"], "--active-mass-mg must be a positive number"),
    (["--voltage-window-v", "3.8", "1.9"], "MIN_V must be below MAX_V"),
])
def test_it_refuses_build_facts_that_make_no_sense(coated_file, args, message):
    with pytest.raises(CommandError, match=message):
        summarize("summarize", coated_file[0], *args)
