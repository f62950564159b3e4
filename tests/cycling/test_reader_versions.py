"""Every reader has its own version: it keys the Parquet record cache and is shown in provenance."""
import io

import pytest

from cycling import services
from cycling.models import DataFile
from cycling.parsers import arbin, reader_version
from cycling.parsers.registry import READERS
from cycling.simulate import study_cell
from cycling.writers import write_arbin_csv
from tests.landfiles import upload_file

pytestmark = pytest.mark.django_db


class _NoProgress:
    def stage(self, *args):
        return lambda fraction: None


def _arbin_csv() -> bytes:
    records, _ = study_cell(group="coated", n_cycles=3, points_per_half_cycle=15, seed=11)
    buffer = io.BytesIO()
    write_arbin_csv(records, buffer)
    return buffer.getvalue()


def _imported(api, cell) -> DataFile:
    resp = api.post("/api/v1/datafiles/", {"file": upload_file(_arbin_csv(), "run.csv"), "cell": cell.name},
                    format="multipart")
    assert services.datafile_ingest(datafile_id=resp.json()["id"]) == "imported"
    return DataFile.objects.get(pk=resp.json()["id"])


def test_it_records_the_arbin_readers_own_version_in_provenance(api, cell):
    datafile = _imported(api, cell)
    assert datafile.provenance["parser"] == "assb-lab arbin-csv"
    assert datafile.provenance["parser_version"] == arbin.VERSION == reader_version("assb-lab arbin-csv")
    assert datafile.provenance["instrument"] == "Arbin"


def test_it_reuses_the_cached_records_only_while_their_readers_version_holds(api, cell, monkeypatch):
    datafile = _imported(api, cell)
    _, parsed = services._load_export(datafile, _NoProgress())
    assert parsed is False  # same reader, same version: our own Parquet
    arbin_csv = READERS.get("assb-lab arbin-csv")
    land = READERS.get("assb-lab land")
    # A new version of LAND's reader does not touch an Arbin file's cache ...
    monkeypatch.setattr(READERS, "version_of", lambda name: "9.9.9" if name == land.name else arbin_csv.version)
    assert services._load_export(datafile, _NoProgress())[1] is False
    # ... a new version of the Arbin reader re-reads it.
    monkeypatch.setattr(READERS, "version_of", lambda name: "9.9.9" if name == arbin_csv.name else land.version)
    export, parsed = services._load_export(datafile, _NoProgress())
    assert parsed is True and export.instrument == "Arbin"
