"""The solid-state registry, services and pages on the demo's LGPS batch: files go through the real ingest
(EIS and cycling), the results are computed by the services and shown on the batch page and a full cell's page."""
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from cells.demo import load_study_registry
from cells.models import Cell, ElectrolyteBatch
from cycling import services as cycling_services
from cycling.models import DataFile
from solidstate import services
from solidstate.demo import BATCH, CCD_SHORT_STEP, PELLET, SYMMETRIC, load_solid_registry, solid_demo_files
from tests.landfiles import upload_file

pytestmark = pytest.mark.django_db


def _ingest(cell, kind, name, notes, data):
    with mock.patch.object(cycling_services, "datafile_enqueue"):
        datafile, _ = cycling_services.datafile_create(cell=cell, upload=upload_file(data, name), kind=kind,
                                                       notes=notes)
    cycling_services.datafile_ingest(datafile_id=datafile.pk)
    datafile.refresh_from_db()
    return datafile


@pytest.fixture(scope="module")
def demo_files():
    return solid_demo_files()


@pytest.fixture
def demo_batch(demo_files):
    load_study_registry()
    load_solid_registry()
    for cell_name, kind, name, notes, data in demo_files:
        datafile = _ingest(Cell.objects.get(name=cell_name), kind, name, notes, data)
        assert datafile.status == DataFile.Status.IMPORTED, datafile.error
    return ElectrolyteBatch.objects.get(name=BATCH)


def test_it_gives_the_demo_lgps_batch_12_ms_cm_and_0_25_ev(demo_batch):
    pellet = Cell.objects.get(name=PELLET)
    rows = services.conductivity_refresh(cell=pellet)
    assert [r.temperature_c for r in rows] == [25, 35, 45, 55, 65, 80]
    assert all(r.temperature_source == "upload notes" and r.error == "" for r in rows)
    assert rows[0].sigma_total_s_cm == pytest.approx(0.012, rel=0.03)
    assert all(r.sigma_bulk_s_cm is None and r.measured == "total only" for r in rows)
    from solidstate.selectors import batch_conductivity_summary

    summary = batch_conductivity_summary(demo_batch)["arrhenius"]
    assert summary["sigma_25c_s_cm"] == pytest.approx(0.012, rel=0.03)
    assert abs(summary["ea_ev"] - 0.25) < 0.01 and summary["form"] == "sigma_T"
    assert services.conductivity_refresh(cell=pellet)[0].pk == rows[0].pk  # idempotent
    pellet.pellet_thickness_mm = 0.4  # a corrected thickness halves every conductivity
    pellet.save()
    again = services.conductivity_refresh(cell=pellet)
    assert again[0].pk != rows[0].pk and again[0].sigma_total_s_cm == pytest.approx(rows[0].sigma_total_s_cm / 2)


def test_it_gives_the_demo_symmetric_cells_ccd(demo_batch):
    [ccd] = services.ccd_refresh(cell=Cell.objects.get(name=SYMMETRIC))
    assert ccd.error == "" and ccd.ccd_ma_cm2 == pytest.approx(0.05 * (CCD_SHORT_STEP + 1), rel=1e-4)
    assert len(ccd.steps) == CCD_SHORT_STEP + 1 and ccd.steps[-1]["shorted"]
    assert len(ccd.trace["time_s"]) == len(ccd.trace["voltage_v"]) > 100


def test_the_batch_page_shows_pellets_arrhenius_ccd_and_cells_built_from_it(demo_batch, client, lab_admin):
    client.force_login(lab_admin)
    page = client.get(demo_batch.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="sigma-25c">12.0' in html or 'id="sigma-25c">11.9' in html or 'id="sigma-25c">12.1' in html
    assert 'id="ea-ev">0.2' in html and PELLET in html and SYMMETRIC in html
    assert 'class="ccd-value">0.50' in html and "BARE-01" in html and "LNTO-03" in html
    assert 'class="num sigma-e">4.9' in html or 'class="num sigma-e">5.0' in html  # the demo's 5e-9 S/cm
    data = client.get(f"{demo_batch.get_absolute_url()}results.json").json()
    assert abs(data["conductivity"]["arrhenius"]["ea_ev"] - 0.25) < 0.01
    assert data["ccd"][0]["ccd_ma_cm2"] == pytest.approx(0.5, rel=1e-4) and data["ccd"][0]["stack_pressure_mpa"] == 50.0
    cell_page = client.get(Cell.objects.get(name="BARE-01").get_absolute_url()).content.decode()
    assert 'id="batch-conductivity"' in cell_page and "σ(25 °C) = 12.0" in cell_page.replace("11.9", "12.0")


def test_it_checks_a_specimens_build_sheet(demo_batch):
    pellet = Cell.objects.get(name=PELLET)
    pellet.full_clean()  # no cathode, no anode: a pellet needs neither
    pellet.pellet_thickness_mm = None
    with pytest.raises(ValidationError, match="thickness"):
        pellet.full_clean()
    full = Cell.objects.get(name="BARE-01")
    full.cathode_material = None
    with pytest.raises(ValidationError, match="A full cell needs it"):
        full.full_clean()


def test_it_gives_a_pellets_electronic_conductivity_from_a_dc_polarisation_file(client, lab_admin):
    from solidstate.simulate import dc_polarisation_export, write_records

    load_study_registry()
    load_solid_registry()
    pellet = Cell.objects.get(name=PELLET)
    records, i_e = dc_polarisation_export(sigma_e_s_cm=5e-9, seed=3)
    datafile = _ingest(pellet, "cycling", "dc_polarisation.mpt", "demo", write_records(records, "biologic"))
    assert datafile.status == DataFile.Status.IMPORTED, datafile.error
    short, _ = dc_polarisation_export(duration_s=3600.0, tau_s=1800.0, seed=4)  # stopped before the steady state
    _ingest(pellet, "cycling", "dc_short.mpt", "demo", write_records(short, "biologic"))
    rows = {r.datafile.original_name: r for r in services.electronic_refresh(cell=pellet)}
    assert rows["dc_polarisation.mpt"].sigma_e_s_cm == pytest.approx(5e-9, rel=0.03)
    assert rows["dc_polarisation.mpt"].current_ss_ma == pytest.approx(i_e, rel=0.03)
    assert rows["dc_short.mpt"].sigma_e_s_cm is None and "no steady state" in rows["dc_short.mpt"].error
    client.force_login(lab_admin)
    data = client.get(f"{ElectrolyteBatch.objects.get(name=BATCH).get_absolute_url()}results.json").json()
    found = {e["file"]: e for e in data["electronic"]}
    assert found["dc_polarisation.mpt"]["sigma_e_s_cm"] == pytest.approx(5e-9, rel=0.03)
    assert "steady state" in found["dc_polarisation.mpt"]["steady_state"] and found["dc_short.mpt"]["error"]


def test_the_dataset_zip_carries_the_solid_state_results_with_their_files(demo_batch, lab_admin):
    import io
    import json
    import zipfile

    from lab import dataset

    cells = [Cell.objects.get(name=n) for n in (PELLET, SYMMETRIC, "BARE-01")]
    zf = zipfile.ZipFile(io.BytesIO(b"".join(dataset.dataset_zip(lab_admin, cells, records=()))))
    pellet = json.loads(zf.read(f"cells/{PELLET}/solid_state.json"))
    assert pellet["cell_type"] == "pellet" and pellet["pellet_thickness_mm"] == 0.8
    assert [p["temperature_c"] for p in pellet["conductivity"]] == [25, 35, 45, 55, 65, 80]
    assert pellet["conductivity"][0]["sigma_total_s_cm"] == pytest.approx(0.012, rel=0.03)
    assert len(pellet["conductivity"][0]["sha256"]) == 64 and pellet["conductivity"][0]["r_bulk_ohm"] is None
    assert abs(pellet["arrhenius"]["ea_ev"] - 0.25) < 0.01 and pellet["arrhenius"]["form"] == "sigma_T"
    assert pellet["electronic"][0]["sigma_e_s_cm"] == pytest.approx(5e-9, rel=0.03)
    sym = json.loads(zf.read(f"cells/{SYMMETRIC}/solid_state.json"))
    assert sym["ccd"][0]["ccd_ma_cm2"] == pytest.approx(0.5, rel=1e-4) and "shorts" in sym["definitions"]["ccd"]
    full = json.loads(zf.read("cells/BARE-01/solid_state.json"))
    assert full["electrolyte_batch"]["name"] == BATCH
    assert full["electrolyte_batch"]["arrhenius"]["sigma_25c_s_cm"] == pytest.approx(0.012, rel=0.03)
    provenance = json.loads(zf.read("provenance.json"))
    assert provenance["cells"][PELLET]["solid_state"]["definitions"]["arrhenius_form"] == "sigma_T"
