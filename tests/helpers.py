"""Shared test helpers: send a file through the upload API as a cycler PC would, or store and import it here."""
from unittest import mock

import pandas as pd

from cycling import services
from cycling.models import DataFile
from tests.landfiles import upload_file


def post_datafile(client, cell, data: bytes, name: str = "export.xlsx", **fields):
    """POST /api/v1/datafiles/ with the file and the cell (a Cell or its name); extra form fields as given."""
    cell_ref = cell if isinstance(cell, str) else cell.name
    return client.post("/api/v1/datafiles/", {"file": upload_file(data, name), "cell": cell_ref, **fields},
                       format="multipart")


def posted_id(client, cell, data: bytes, name: str = "export.xlsx", **fields) -> int:
    """post_datafile, which must be accepted (202); the new file's id."""
    resp = post_datafile(client, cell, data, name, **fields)
    assert resp.status_code == 202, resp.content
    return resp.json()["id"]


def upload_and_ingest(client, cell, data: bytes, name: str, notes: str = "", kind: str = "eis") -> DataFile:
    """Upload through the API, then run the ingest here (no worker); the file as it ended."""
    datafile_id = posted_id(client, cell, data, name, kind=kind, notes=notes)
    status = services.datafile_ingest(datafile_id=datafile_id)
    datafile = DataFile.objects.get(pk=datafile_id)
    assert status == datafile.status
    return datafile


def ingest(cell, data: bytes, name: str = "export.xlsx", kind: str = "cycling") -> DataFile:
    """Store and import one file right here, without the API (no broker: the enqueue is stubbed)."""
    with mock.patch.object(services, "datafile_enqueue"):
        datafile, _ = services.datafile_create(cell=cell, upload=upload_file(data, name), kind=kind)
    services.datafile_ingest(datafile_id=datafile.pk)
    datafile.refresh_from_db()
    return datafile


def resumed_run(records: pd.DataFrame, after_cycle: int, gap: pd.Timedelta) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run's records as two LAND exports: stopped after `after_cycle`, resumed `gap` later, the second
    file numbering its records, test time, steps and cycles from 1 again as LAND does."""
    first = records[records["cycle"] <= after_cycle].copy()
    second = records[records["cycle"] > after_cycle].copy()
    second["cycle"] -= after_cycle
    second["record"] = range(1, len(second) + 1)
    second["test_time_s"] -= second["test_time_s"].iloc[0]
    second["step"] -= second["step"].iloc[0] - 1
    second["sys_time"] += gap
    return first, second
