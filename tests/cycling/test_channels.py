"""A file of several channels (an Arbin workbook with one sheet per channel) holds one cell per channel: an
upload names the cell's channel, the ingest reads that channel only, and the cell page says which it was."""
import io

import pytest

from cycling import services
from cycling.models import DataFile
from cycling.simulate import study_cell
from cycling.writers import write_arbin_xlsx
from tests.conftest import client_for
from tests.factories import CellFactory
from tests.landfiles import upload_file

pytestmark = pytest.mark.django_db


def _workbook() -> bytes:
    first, _ = study_cell(group="coated", n_cycles=3, points_per_half_cycle=15, seed=11)
    second, _ = study_cell(group="coated", n_cycles=4, points_per_half_cycle=15, seed=23)
    buffer = io.BytesIO()
    write_arbin_xlsx({"1-053": first, "1-059": second}, buffer)
    return buffer.getvalue()


def _upload(api, cell, **extra) -> DataFile:
    resp = api.post("/api/v1/datafiles/", {"file": upload_file(_workbook(), "bench.xlsx"), "cell": cell.name, **extra},
                    format="multipart")
    assert resp.status_code == 202, resp.json()
    services.datafile_ingest(datafile_id=resp.json()["id"])
    return DataFile.objects.get(pk=resp.json()["id"])


def test_each_cell_gets_the_channel_its_upload_names(api, researcher, cell, project):
    other = CellFactory(project=project, name="LNTO-02")
    first, second = _upload(api, cell, channel="1-053"), _upload(api, other, channel="1-059")
    assert (first.status, second.status) == ("imported", "imported")
    assert (first.n_cycles, second.n_cycles) == (3, 4)
    assert first.provenance["channel"] == "1-053" and first.provenance["channels_in_file"] == 2
    assert second.metadata["channel_requested"] == "1-059"
    # A re-read (reprocess) keeps to the named channel.
    export, parsed = services._load_export(DataFile.objects.get(pk=second.pk), _NoProgress())
    assert export.metadata["channel"] == "1-059"
    web = client_for(researcher)
    web.force_login(researcher)
    html = web.get(f"/cells/{other.pk}/").content.decode()
    assert 'data-key="channel">1-059' in html and "one of 2 channels in the file" in html


def test_an_upload_that_names_no_channel_fails_with_the_channels_listed(api, cell):
    datafile = _upload(api, cell)
    assert datafile.status == "failed"
    assert "the file holds 2 channels (1-053, 1-059)" in datafile.error and "name the channel" in datafile.error


class _NoProgress:
    def stage(self, *args):
        return lambda fraction: None
