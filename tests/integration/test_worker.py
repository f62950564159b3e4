"""The ingest path with a real Celery worker process, the configured broker and database (no eager mode)."""
import hashlib
import io
import threading

import pandas as pd
import pytest
from django.core.files.storage import default_storage

from cycling.models import CycleSummary, DataFile
from cycling.parsers import read_land
from cycling.testing import write_land
from tests.helpers import posted_id
from tests.integration.conftest import wait_for
from tests.landfiles import CUT_EXPORT, CUT_EXPORT_REASON, study_export

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]



def _checksum(records: pd.DataFrame) -> str:
    cols = ["record", "test_time_s", "current_ma", "voltage_v", "capacity_mah", "cycle"]
    return hashlib.sha256(records[cols].to_numpy(dtype=float).tobytes()).hexdigest()


def _status(datafile_id):
    return DataFile.objects.filter(pk=datafile_id).values_list("status", flat=True).first()


def _done(datafile_id):
    return _status(datafile_id) in {"imported", "failed"}


def test_it_imports_an_upload_through_a_real_worker(start_worker, device_api, cell):
    start_worker()
    data, info = study_export("coated", n_cycles=20)
    datafile_id = posted_id(device_api, cell, data)
    wait_for(lambda: _done(datafile_id), 120, "the ingest")
    datafile = DataFile.objects.get(pk=datafile_id)
    assert datafile.status == "imported", datafile.error
    assert datafile.n_cycles == 20 and CycleSummary.objects.filter(datafile=datafile).count() == 20
    first = CycleSummary.objects.get(datafile=datafile, cycle=1)
    assert first.discharge_mah_g == pytest.approx(161.4, rel=1e-3)
    assert first.ce_percent == pytest.approx(85.8, abs=0.05)


def test_it_fails_a_bad_file_once_with_a_clear_error_and_no_rows(start_worker, device_api, cell):
    start_worker()
    datafile_id = posted_id(device_api, cell, CUT_EXPORT, name="LNTO-01_cut.csv")
    wait_for(lambda: _done(datafile_id), 60, "the ingest")
    datafile = DataFile.objects.get(pk=datafile_id)
    assert datafile.status == "failed" and datafile.attempts == 1
    assert "LNTO-01_cut.csv" in datafile.error and CUT_EXPORT_REASON in datafile.error
    assert not CycleSummary.objects.filter(datafile=datafile).exists()


def test_it_imports_20_concurrent_uploads(start_worker, live_server, device, cell):
    import requests

    start_worker(concurrency=2)
    exports = [study_export("coated", n_cycles=4, points=20, replicate=k + 1)[0] for k in range(20)]
    ids, errors = [], []

    def send(k):
        try:
            resp = requests.post(f"{live_server.url}/api/v1/datafiles/",
                                 headers={"Authorization": f"Token {device.key}"},
                                 files={"file": (f"pc{k}.xlsx", exports[k])}, data={"cell": cell.name}, timeout=60)
            assert resp.status_code == 202, resp.text
            ids.append(resp.json()["id"])
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 20
    wait_for(lambda: all(_done(i) for i in ids), 240, "20 ingests")
    assert sorted(DataFile.objects.filter(pk__in=ids).values_list("status", flat=True)) == ["imported"] * 20
    assert CycleSummary.objects.filter(datafile_id__in=ids).count() == 20 * 4


@pytest.fixture(scope="session")
def large_export(tmp_path_factory):
    """A 502-cycle export of ~130,000 records: parsing takes seconds, long enough to kill a worker mid-way."""
    from cycling.simulate import study_cell

    records, _ = study_cell("coated", n_cycles=502, points_per_half_cycle=120)
    buf = io.BytesIO()
    write_land(records, buf)
    return buf.getvalue(), records


def test_it_finishes_an_ingest_after_the_worker_is_killed_mid_way(start_worker, device_api, cell, large_export):
    data, records = large_export
    worker = start_worker(env={"ASSB_INGEST_LEASE_S": "3"})
    datafile_id = posted_id(device_api, cell, data, name="long-run.xlsx")
    wait_for(lambda: _status(datafile_id) == "parsing", 60, "the worker to start parsing", interval_s=0.05)
    worker.kill()
    assert _status(datafile_id) == "parsing"
    assert not CycleSummary.objects.filter(datafile_id=datafile_id).exists()
    # A new worker with its beat sweeper finds the dead lease and sends the file again.
    start_worker(beat=True, env={"ASSB_INGEST_LEASE_S": "3", "ASSB_SWEEP_EVERY_S": "1"})
    wait_for(lambda: _done(datafile_id), 180, "the ingest after the restart")
    datafile = DataFile.objects.get(pk=datafile_id)
    assert datafile.status == "imported", datafile.error
    assert datafile.attempts >= 2
    assert CycleSummary.objects.filter(datafile=datafile).count() == datafile.n_cycles == 502
    with default_storage.open(datafile.records_file) as fh:
        stored = pd.read_parquet(fh)
    assert len(stored) == len(records) == datafile.n_records
    # Checksum against a fresh parse of the same bytes: the stored records are exactly the file's.
    fresh = read_land(io.BytesIO(data)).records
    assert _checksum(stored) == _checksum(fresh)
    # Only the finished attempt's Parquet file remains.
    _, names = default_storage.listdir("records")
    assert sum(name.startswith(str(datafile.uid)) for name in names) == 1
