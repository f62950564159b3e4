"""Full-resolution records API: CSV/Parquet/BDF from the stored Parquet, filters, access, audit, BDF round trip."""
import io

import pandas as pd
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from cells.models import AuditEvent
from cycling.api.records import RECORD_COLUMNS
from cycling.models import CycleSummary, DataFile
from tests.conftest import client_for
from tests.factories import CellFactory
from tests.web.helpers import export_bytes, ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(cell):
    return ingest(cell, export_bytes("coated", 1, 6), "LNTO-01.xlsx")


def _stored(datafile) -> pd.DataFrame:
    with default_storage.open(datafile.records_file, "rb") as fh:
        return pd.read_parquet(fh)


def _body(resp) -> bytes:
    assert resp.status_code == 200, getattr(resp, "content", b"")
    return b"".join(resp.streaming_content)


def test_it_streams_every_record_of_a_file_as_csv_with_units_in_the_names(viewer, imported):
    resp = client_for(viewer).get(f"/api/v1/datafiles/{imported.pk}/records/")
    assert resp["Content-Type"].startswith("text/csv")
    assert 'filename="lnto-01-file' in resp["Content-Disposition"]
    frame = pd.read_csv(io.BytesIO(_body(resp)))
    stored = _stored(imported)
    assert list(frame.columns) == [c if c != "sys_time" else "sys_time_utc" for c in RECORD_COLUMNS]
    assert len(frame) == len(stored) == imported.n_records
    pd.testing.assert_series_equal(frame["voltage_v"], stored["voltage_v"], rtol=1e-11)
    pd.testing.assert_series_equal(frame["capacity_mah"], stored["capacity_mah"], rtol=1e-11)
    assert pd.to_datetime(frame["sys_time_utc"]).iat[0] == stored["sys_time"].iat[0]


def test_it_serves_parquet_with_cycle_and_column_filters(viewer, imported):
    resp = client_for(viewer).get(f"/api/v1/datafiles/{imported.pk}/records/",
                                  {"output": "parquet", "cycles": "1,3-4", "columns": "cycle,voltage_v,current_ma"})
    frame = pd.read_parquet(io.BytesIO(_body(resp)))
    stored = _stored(imported)
    expected = stored[stored["cycle"].isin([1, 3, 4])].reset_index(drop=True)
    assert list(frame.columns) == ["cycle", "voltage_v", "current_ma"]
    assert sorted(frame["cycle"].unique()) == [1, 3, 4]
    pd.testing.assert_frame_equal(frame, expected[["cycle", "voltage_v", "current_ma"]])


def test_it_answers_an_accept_header_for_parquet_with_the_parquet(viewer, cell, imported):
    api = client_for(viewer)
    resp = api.get(f"/api/v1/cells/{cell.pk}/records/", {"cycles": "2"}, HTTP_ACCEPT="application/vnd.apache.parquet")
    assert resp["Content-Type"] == "application/vnd.apache.parquet"
    frame = pd.read_parquet(io.BytesIO(_body(resp)))
    stored = _stored(imported)
    assert len(frame) == int((stored["cycle"] == 2).sum()) > 0
    csv = api.get(f"/api/v1/datafiles/{imported.pk}/records/", HTTP_ACCEPT="text/csv")
    assert csv["Content-Type"].startswith("text/csv") and len(pd.read_csv(io.BytesIO(_body(csv)))) == len(stored)
    # ?output= wins over Accept; an error is JSON whatever was accepted
    bdf = api.get(f"/api/v1/datafiles/{imported.pk}/records/", {"output": "bdf-csv"},
                  HTTP_ACCEPT="application/vnd.apache.parquet")
    assert bdf["Content-Type"].startswith("text/csv")
    bad = api.get(f"/api/v1/datafiles/{imported.pk}/records/", {"cycles": "x"},
                  HTTP_ACCEPT="application/vnd.apache.parquet")
    assert bad.status_code == 400 and bad["Content-Type"] == "application/json" and "cycles" in bad.json()["detail"]


def test_it_says_which_filter_is_wrong(viewer, imported):
    api = client_for(viewer)
    url = f"/api/v1/datafiles/{imported.pk}/records/"
    resp = api.get(url, {"columns": "voltage,current_ma"})
    assert resp.status_code == 400 and "unknown column(s) voltage" in resp.json()["detail"]
    resp = api.get(url, {"cycles": "1,x"})
    assert resp.status_code == 400 and resp.json()["detail"] == "cycles: 'x' is not a cycle number or a range such as 10-20"
    resp = api.get(url, {"output": "xlsx"})
    assert resp.status_code == 400 and "output must be one of csv, parquet" in resp.json()["detail"]


def test_it_streams_a_cells_files_in_run_order_with_the_file_on_each_row(viewer, cell, imported):
    later = ingest(cell, export_bytes("coated", 2, 3), "LNTO-01-second.xlsx")
    resp = client_for(viewer).get(f"/api/v1/cells/{cell.pk}/records/", {"output": "parquet"})
    frame = pd.read_parquet(io.BytesIO(_body(resp)))
    assert frame["datafile_id"].unique().tolist() == [imported.pk, later.pk]
    assert len(frame) == imported.n_records + later.n_records


def test_it_keeps_records_to_those_who_may_see_them(client, viewer, outsider, device_api, imported, cell):
    for url in (f"/api/v1/datafiles/{imported.pk}/records/", f"/api/v1/cells/{cell.pk}/records/"):
        assert client.get(url).status_code == 401
        assert client_for(outsider).get(url).status_code == 404
        assert device_api.get(url).status_code == 403  # cycler PCs upload, they do not read data


def test_it_audits_every_export(viewer, imported):
    _body(client_for(viewer).get(f"/api/v1/datafiles/{imported.pk}/records/", {"cycles": "2"}))
    event = AuditEvent.objects.get(action="export.records")
    assert event.user == viewer and event.object_id == str(imported.pk)
    assert event.detail == {"output": "csv", "cycles": "2", "columns": ""}


def test_it_answers_409_for_a_file_not_imported_yet(viewer, cell):
    from unittest import mock

    from cycling import services
    from tests.landfiles import upload_file

    with mock.patch.object(services, "datafile_enqueue"):
        pending, _ = services.datafile_create(cell=cell, upload=upload_file(b"x,y\n1,2\n", "p.csv"), kind="cycling")
    resp = client_for(viewer).get(f"/api/v1/datafiles/{pending.pk}/records/")
    assert resp.status_code == 409 and "has no records yet (status: Pending)" in resp.json()["detail"]


@pytest.mark.parametrize("output", ["bdf-csv", "bdf-parquet"])
def test_it_round_trips_a_cell_through_bdf_to_identical_per_cycle_values(viewer, researcher, cell, imported, output):
    resp = client_for(viewer).get(f"/api/v1/cells/{cell.pk}/records/", {"output": output})
    data = _body(resp)
    head = data[:200]
    assert head.startswith(b"PAR1") if output == "bdf-parquet" else head.startswith(b"test_time_second,voltage_volt")
    twin = CellFactory(project=cell.project, name="LNTO-01-twin", group=cell.group)
    copy = ingest(twin, data, f"twin.{output.replace('-', '.')}")
    assert copy.status == DataFile.Status.IMPORTED, copy.error
    assert copy.metadata["reader"] == "bdf" and copy.n_records == imported.n_records
    fields = ["cycle", "charge_mah", "discharge_mah", "charge_mah_g", "discharge_mah_g", "ce_percent",
              "charge_energy_mwh", "discharge_energy_mwh", "mean_charge_v", "median_discharge_v",
              "cc_charge_fraction", "c_rate_label", "first_record", "last_record", "dqdv_peak_charge_v"]
    ours = list(CycleSummary.objects.filter(datafile=imported).order_by("cycle").values_list(*fields))
    theirs = list(CycleSummary.objects.filter(datafile=copy).order_by("cycle").values_list(*fields))
    assert len(ours) == 6 and len(theirs) == 6
    for a, b in zip(ours, theirs, strict=True):
        assert b[11] == a[11]  # C-rate label
        assert b[:11] + b[12:] == pytest.approx(a[:11] + a[12:], rel=1e-9)
    assert theirs[0][5] == pytest.approx(85.8, abs=0.6)  # ICE of the coated cell survives the trip


def test_it_documents_the_records_endpoints(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/v1/datafiles/{id}/records/:", "/api/v1/cells/{id}/records/:", "/api/v1/datasets/:",
                 "/api/v1/compare/figure/:", "/api/v1/cells/{id}/figure/:"):
        assert path in text
    assert "bdf-parquet" in text and "application/vnd.apache.parquet" in text
