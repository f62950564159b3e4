"""The solid-state demo through setup_demo: the batch, the specimens and the study cells linked to the batch;
its files sent once through the demo PC's API client (answered in-process here), never to a user's cell."""
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

import solidstate.demo as demo
from cells.demo import DEMO_DEVICE
from cells.models import Cell, CyclerDevice, ElectrolyteBatch
from cycling.services import datafile_create

pytestmark = pytest.mark.django_db


def test_setup_demo_registers_the_batch_and_its_specimens(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    for _ in range(2):  # idempotent
        call_command("setup_demo", "--registry-only", stdout=out)
    batch = ElectrolyteBatch.objects.get(name=demo.BATCH)
    assert batch.material.name == "LGPS"
    pellet, sym = Cell.objects.get(name=demo.PELLET), Cell.objects.get(name=demo.SYMMETRIC)
    assert (pellet.cell_type, pellet.pellet_thickness_mm, pellet.electrode_area_cm2) == ("pellet", 0.8,
                                                                                       pytest.approx(0.7854, abs=1e-4))
    assert sym.cell_type == "symmetric" and sym.anode.name == "Li" and sym.stack_pressure_mpa == 50.0
    assert set(batch.cells.values_list("name", flat=True)) == {
        "BARE-01", "BARE-02", "BARE-03", "LNTO-01", "LNTO-02", "LNTO-03", demo.PELLET, demo.SYMMETRIC}
    assert "Solid-state demo" in out.getvalue()


def test_the_demo_files_are_sent_once(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    call_command("setup_demo", "--registry-only", stdout=io.StringIO())
    CyclerDevice.objects.get_or_create(name=DEMO_DEVICE)
    sent = []
    monkeypatch.setattr(demo, "multipart_body", lambda fields, name, data: ((fields, name, data), "multipart"))

    def call(url, token, data=None, content_type=None):
        fields, name, body = data
        sent.append((fields["cell"], fields["kind"], name, fields["notes"]))
        datafile, _ = datafile_create(cell=Cell.objects.get(name=fields["cell"]), upload=SimpleUploadedFile(name, body),
                                      kind=fields["kind"], notes=fields["notes"], enqueue=False)
        return {"id": datafile.pk}

    monkeypatch.setattr(demo, "api_call", call)
    for _ in range(2):
        demo.upload_solid_demo(base_url="http://demo", stdout=io.StringIO())
    assert len(sent) == 8  # six spectra, a DC polarisation and one CCD run; the second run sends nothing
    assert sent[0] == (demo.PELLET, "eis", f"{demo.PELLET}_PEIS_25C.mpt", "demo temperature_c=25")
    assert sent[-1][:3] == (demo.SYMMETRIC, "cycling", f"{demo.SYMMETRIC}_CCD.xlsx")
