"""A file of several channels (an Arbin workbook with one sheet per channel) holds one cell per channel: an
upload names the cell's channel, or each channel goes to the cell registered on it (Cell.cycler_channel); the
ingest reads that channel only, and the cell page says which it was."""
import datetime
import io

import numpy as np
import pytest
from django.core.files.storage import default_storage

from cells.models import AuditEvent
from cycling import services
from cycling.models import CycleSummary, DataFile
from cycling.parsers import read_runs, same_channel
from cycling.simulate import study_cell
from cycling.writers import write_arbin_xlsx
from tests.conftest import client_for
from tests.factories import CellFactory, ProjectFactory
from tests.landfiles import upload_file

pytestmark = pytest.mark.django_db


def _workbook(n_channels: int = 2) -> bytes:
    runs = {channel: study_cell(group="coated", n_cycles=n, points_per_half_cycle=15, seed=seed)[0]
            for channel, n, seed in (("1-053", 3, 11), ("1-059", 4, 23), ("1-061", 2, 31))[:n_channels]}
    buffer = io.BytesIO()
    write_arbin_xlsx(runs, buffer)
    return buffer.getvalue()


def _upload(api, cell, data=None, **extra) -> DataFile:
    resp = api.post("/api/v1/datafiles/", {"file": upload_file(data or _workbook(), "bench.xlsx"), "cell": cell.name,
                                           **extra}, format="multipart")
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
    assert "record each cell's cycler channel on its build sheet" in datafile.error
    assert not DataFile.objects.exclude(pk=datafile.pk).exists()


def _statistics(data: bytes) -> dict:
    """Arbin's own per-cycle capacities of each channel (its Statistics_<channel> sheet), mAh."""
    return {run.metadata["channel"]: run.cycle_table for run in read_runs(io.BytesIO(data), name="bench.xlsx")}


def _capacities(datafile) -> tuple[np.ndarray, np.ndarray]:
    rows = CycleSummary.objects.filter(datafile=datafile).order_by("file_cycle")
    return np.array([r.charge_mah for r in rows]), np.array([r.discharge_mah for r in rows])


def test_each_channel_goes_to_the_cell_registered_on_it(api, researcher, cell, project):
    data = _workbook(3)
    cell.cycler_channel = "1-053"
    cell.save()
    other = CellFactory(project=project, name="LNTO-02", cycler_channel="Channel_1-59")  # another spelling
    # not candidates: a cell of another project on 1-061, and one built after the run started (2021-03-01)
    CellFactory(project=ProjectFactory(name="other lab"), name="ELSEWHERE", cycler_channel="1-061")
    CellFactory(project=project, name="LNTO-09", cycler_channel="1-061", build_date=datetime.date(2025, 1, 1))
    first = _upload(api, cell, data)
    assert first.status == "imported" and first.n_cycles == 3
    assert first.provenance["channel"] == "1-053" and first.metadata["channel_from_cell"] is True
    routed = DataFile.objects.get(cell=other)
    assert routed.metadata["channel_requested"] == "1-059" and routed.file.name == first.file.name
    assert first.metadata["channels_routed"] == {"1-059": {"cell": other.pk, "cell_name": "LNTO-02",
                                                           "datafile": routed.pk}}
    assert list(first.metadata["channels_unrouted"]) == ["1-061"]
    findings = {f["code"]: f for f in first.provenance["findings"] if f["code"].startswith("channel_")}
    assert findings["channel_routed"]["severity"] == "info" and findings["channel_routed"]["message"] == (
        f"Channel 1-059 of the file goes to cell LNTO-02 (registered on that channel): data file {routed.pk}.")
    assert findings["channel_not_imported"]["severity"] == "warning" and findings["channel_not_imported"][
        "message"].startswith("Channel 1-061 of the file is not imported: no cell of project LNTO coating study")
    assert routed.uploaded_by == researcher
    assert AuditEvent.objects.filter(action="upload", object_id=str(routed.pk), detail__routed_from=first.pk).exists()
    assert services.datafile_ingest(datafile_id=routed.pk) == "imported"
    routed.refresh_from_db()
    assert routed.n_cycles == 4 and routed.provenance["channel"] == "1-059"
    # each cell's per-cycle capacities are its channel's, as Arbin's Statistics sheet of that channel says
    statistics = _statistics(data)
    for datafile, channel in ((first, "1-053"), (routed, "1-059")):
        charge, discharge = _capacities(datafile)
        np.testing.assert_allclose(charge, statistics[channel]["charge_mah"], rtol=0.005)
        np.testing.assert_allclose(discharge, statistics[channel]["discharge_mah"], rtol=0.005)
    assert not np.allclose(_capacities(first)[1][:2], _capacities(routed)[1][:2], rtol=0.005)
    # a reprocess routes again without a second file; the cell page says which channel and why
    services.datafile_reprocess(datafile=first)
    assert services.datafile_ingest(datafile_id=first.pk) == "imported"
    assert DataFile.objects.count() == 2
    web = client_for(researcher)
    web.force_login(researcher)
    html = web.get(f"/cells/{other.pk}/").content.decode()
    assert 'data-key="channel">1-059' in html and "one of 3 channels in the file" in html
    assert "Channel 1-061 of the file is not imported" in web.get(f"/cells/{cell.pk}/").content.decode()
    assert '<span class="file-channel">channel 1-059 of 3</span>' in html


def test_the_stored_bytes_stay_while_another_cells_channel_holds_them(api, cell, project,
                                                                      django_capture_on_commit_callbacks):
    cell.cycler_channel = "1-053"
    cell.save()
    other = CellFactory(project=project, name="LNTO-02", cycler_channel="1-059")
    first = _upload(api, cell)
    routed = DataFile.objects.get(cell=other)
    name = first.file.name
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/datafiles/{first.pk}/").status_code == 204
    assert default_storage.exists(name)
    assert services.datafile_ingest(datafile_id=routed.pk) == "imported"
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/datafiles/{routed.pk}/").status_code == 204
    assert not default_storage.exists(name)


def test_deleting_a_cell_keeps_the_bytes_another_cells_channel_holds(api, lab_admin, cell, project,
                                                                     django_capture_on_commit_callbacks):
    from cells.services import object_delete

    cell.cycler_channel = "1-053"
    cell.save()
    other = CellFactory(project=project, name="LNTO-02", cycler_channel="1-059")
    first = _upload(api, cell)
    assert DataFile.objects.filter(cell=other).exists()
    with django_capture_on_commit_callbacks(execute=True):
        object_delete(obj=other, actor=lab_admin)
    assert default_storage.exists(first.file.name)
    with django_capture_on_commit_callbacks(execute=True):
        object_delete(obj=cell, actor=lab_admin)
    assert not default_storage.exists(first.file.name)


def test_a_cell_whose_channel_is_not_in_the_file_fails_naming_both(api, cell, project):
    cell.cycler_channel = "2-007"
    cell.save()
    CellFactory(project=project, name="LNTO-02", cycler_channel="1-059")
    datafile = _upload(api, cell)
    assert datafile.status == "failed"
    assert "the file holds 2 channels (1-053, 1-059), and none is cell LNTO-01's channel 2-007" in datafile.error
    assert DataFile.objects.count() == 1  # nothing is routed from a file its own cell could not take


def test_a_channel_goes_only_to_a_cell_the_uploader_may_upload_to(device_api, device, api, researcher, cell, project):
    cell.cycler_channel = "1-053"
    cell.save()
    reachable = CellFactory(project=project, name="LNTO-02", cycler_channel="1-059")
    first = _upload(device_api, cell)  # a cycler PC registered to the project
    routed = DataFile.objects.get(cell=reachable)
    assert routed.device == device and first.metadata["channels_unrouted"] == {}
    # a researcher taken off the project after the upload: the ingest gives no other cell a file of theirs
    resp = api.post("/api/v1/datafiles/", {"file": upload_file(_workbook(3), "later.xlsx"), "cell": cell.name},
                    format="multipart")
    project.members.remove(researcher)
    assert services.datafile_ingest(datafile_id=resp.json()["id"]) == "imported"
    later = DataFile.objects.get(pk=resp.json()["id"])
    assert set(later.metadata["channels_unrouted"]) == {"1-059", "1-061"}
    assert reachable.datafiles.count() == 1


def test_channel_spellings():
    assert same_channel("Channel_1-053", "1-53") and same_channel("CH 3", "3") and same_channel("1-053", "1_053")
    assert not same_channel("11", "1-1") and not same_channel("1-053", "1-059") and not same_channel("", "")


class _NoProgress:
    def stage(self, *args):
        return lambda fraction: None


def test_a_channel_two_cells_are_registered_on_goes_to_neither(api, cell, project):
    cell.cycler_channel = "1-053"
    cell.save()
    for name in ("LNTO-02", "LNTO-05"):
        CellFactory(project=project, name=name, cycler_channel="1-059")
    first = _upload(api, cell)
    assert first.status == "imported" and DataFile.objects.count() == 1
    assert first.metadata["channels_unrouted"] == {
        "1-059": "several cells of project LNTO coating study are registered on it (LNTO-02, LNTO-05)"}
