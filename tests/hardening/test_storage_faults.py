"""A full or unwritable storage: uploads are answered 507/503 with a reason and leave no rows and no partial
files; an ingest that cannot write its records gives the file back for a retry and leaves no rows."""
import errno
import os

import pytest
from django.core.files.storage import default_storage

from cells.models import AuditEvent
from cycling import services
from cycling.models import CycleSummary, DataFile
from tests.helpers import post_datafile
from tests.landfiles import study_export

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def export_bytes():
    return study_export("coated", n_cycles=3, points=15)[0]


def _files_under(folder: str) -> set[str]:
    root = default_storage.path(folder)
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files} if os.path.isdir(root) else set()


def _disk_full_after(nbytes: int):
    """A storage _save that writes `nbytes` of the file at its real path, then hits ENOSPC (a disk filling up)."""
    def _save(name, content):
        path = default_storage.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        content.seek(0)
        with open(path, "wb") as fh:
            fh.write(content.read(nbytes))
        raise OSError(errno.ENOSPC, "No space left on device", path)
    return _save


@pytest.mark.parametrize("err, code, phrase", [
    (errno.ENOSPC, 507, "no space left"),
    (errno.EACCES, 503, "cannot store files"),
    (errno.EROFS, 503, "cannot store files"),
])
def test_it_answers_an_upload_it_cannot_store_with_a_reason_and_records_nothing(
        device_api, cell, export_bytes, monkeypatch, err, code, phrase):
    before = _files_under("datafiles")

    def refuse(name, content):
        raise OSError(err, os.strerror(err), name)

    monkeypatch.setattr(default_storage, "_save", refuse)
    resp = post_datafile(device_api, cell, export_bytes)
    assert resp.status_code == code and phrase in str(resp.json()).lower(), resp.content
    assert resp["Retry-After"]
    assert not DataFile.objects.exists() and not AuditEvent.objects.filter(action="upload").exists()
    assert _files_under("datafiles") == before


def test_a_disk_filling_up_mid_write_leaves_no_partial_file(device_api, cell, export_bytes, monkeypatch):
    before = _files_under("datafiles")
    monkeypatch.setattr(default_storage, "_save", _disk_full_after(1000))
    resp = post_datafile(device_api, cell, export_bytes)
    assert resp.status_code == 507
    assert _files_under("datafiles") == before and not DataFile.objects.exists()
    monkeypatch.undo()
    # Space is back: the same upload now goes through.
    resp = post_datafile(device_api, cell, export_bytes)
    assert resp.status_code == 202


def test_an_ingest_that_cannot_write_its_records_is_retried_later_and_leaves_no_rows(
        device_api, cell, export_bytes, monkeypatch):
    datafile_id = post_datafile(device_api, cell, export_bytes).json()["id"]
    uid = str(DataFile.objects.get(pk=datafile_id).uid)

    def own_records():  # this file's Parquet files only: parallel workers write to the same media folder
        return {path for path in _files_under("records") if os.path.basename(path).startswith(uid)}

    records_before = own_records()
    monkeypatch.setattr(default_storage, "_save", _disk_full_after(500))
    with pytest.raises(OSError):  # transient: the Celery task retries it (see cycling.tasks.ingest_datafile)
        services.datafile_ingest(datafile_id=datafile_id)
    datafile = DataFile.objects.get(pk=datafile_id)
    assert datafile.status == "pending" and datafile.claim_token is None and datafile.error == ""
    assert not CycleSummary.objects.filter(datafile_id=datafile_id).exists()
    monkeypatch.undo()
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    assert CycleSummary.objects.filter(datafile_id=datafile_id).count() == 3
    assert len(own_records() - records_before) == 1  # only the finished attempt's Parquet file
