"""The demo owns only the cells it created: two demo runs leave a user's cells (and a user's cell with a demo
name) untouched and send no file twice."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import lab.demo as demo
from cells.demo import DEMO_CELL_NAMES, STUDY_PROJECT, demo_cells, load_study_registry
from cells.models import Cell, CellGroup, Project
from cycling.models import DataFile
from cycling.services import datafile_create
from tests.factories import CellFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_cells():
    """A user's cell in the study project (coated group) and a user's cell that took the name BARE-03."""
    load_study_registry()  # the project and groups the user works in
    Cell.objects.filter(name="BARE-03").delete()
    project = Project.objects.get(name=STUDY_PROJECT)
    coated = CellGroup.objects.get(project=project, name="LNTO-coated")
    mine = CellFactory(project=project, group=coated, name="LNTO-07", composite_loading_mg_cm2=11.1)
    squatter = CellFactory(name="BARE-03", composite_loading_mg_cm2=9.9)
    return [mine, squatter]


@pytest.fixture
def sent(monkeypatch):
    """The demo's HTTP calls answered in-process: a POST stores the file as the API would (no worker)."""
    posted = []
    monkeypatch.setattr(demo, "_multipart", lambda fields, name, data: ((fields, name, data), "multipart/form-data"))

    def call(url, token, data=None, content_type=None):
        if data is None:  # a status poll
            datafile = DataFile.objects.get(pk=int(url.rstrip("/").rsplit("/", 1)[1]))
            return {"id": datafile.pk, "status": "imported", "kind": datafile.kind,
                    "original_name": datafile.original_name}
        fields, name, body = data
        posted.append((fields["cell"], name))
        datafile, _ = datafile_create(cell=Cell.objects.get(name=fields["cell"]), upload=SimpleUploadedFile(name, body),
                                      kind=fields["kind"], notes=fields["notes"], enqueue=False)
        return {"id": datafile.pk, "status": datafile.status, "kind": datafile.kind, "original_name": name,
                "status_url": f"http://demo/api/v1/datafiles/{datafile.pk}/"}

    monkeypatch.setattr(demo, "_call", call)
    monkeypatch.setattr(demo.time, "sleep", lambda s: None)
    return posted


def snapshot(cell):
    cell.refresh_from_db()
    return (cell.updated_at, cell.composite_loading_mg_cm2, cell.is_demo, cell.datafiles.count(),
            cell.eis_spectra.count(), list(cell.pressing_steps.values_list("pk", flat=True)))


def test_two_demo_runs_leave_user_cells_untouched_and_upload_nothing_twice(user_cells, sent, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    before = [snapshot(c) for c in user_cells]
    for _ in range(2):
        cells = load_study_registry()
        demo.upload_demo_data(base_url="http://demo", cycles=4, timeout_s=5)
    assert [snapshot(c) for c in user_cells] == before
    assert not user_cells[1].is_demo and user_cells[1].composite_loading_mg_cm2 == 9.9
    assert sorted(c.name for c in cells) == sorted(set(DEMO_CELL_NAMES) - {"BARE-03"})
    assert sorted(c.name for c in demo_cells()) == sorted(c.name for c in cells)
    # 5 demo cells x (1 LAND export + 3 spectra), each sent once over both runs.
    assert len(sent) == 5 * 4 == len(set(sent))
    assert {cell for cell, _ in sent} == {c.name for c in cells}
    assert DataFile.objects.filter(cell__in=user_cells).count() == 0
    assert DataFile.objects.count() == 20


def test_a_failed_demo_file_is_sent_again_but_an_imported_one_is_not(sent, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    load_study_registry()
    demo.upload_demo_data(base_url="http://demo", cycles=4, timeout_s=5)
    failed = DataFile.objects.get(cell__name="LNTO-01", kind="cycling")
    DataFile.objects.filter(pk=failed.pk).update(status=DataFile.Status.FAILED)
    sent.clear()
    demo.upload_demo_data(base_url="http://demo", cycles=4, timeout_s=5)
    assert sent == [("LNTO-01", failed.original_name)]


def test_a_demo_cell_the_researcher_corrected_keeps_the_correction(settings):
    cell = load_study_registry()[0]
    Cell.objects.filter(pk=cell.pk).update(composite_loading_mg_cm2=12.6)
    load_study_registry()
    cell.refresh_from_db()
    assert cell.composite_loading_mg_cm2 == 12.6 and cell.is_demo
