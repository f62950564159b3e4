"""Dataset export for publication: one resumable zip with build sheets, cycles, records, EIS, provenance, figures."""
import io
import json
import zipfile
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from assb_lab.lib import RANGE_CHUNK_BYTES
from cells.models import AuditEvent
from cycling.analysis import CellSpec, summarize_cycles
from cycling.models import DataFile
from cycling.parsers.bdf import read_bdf
from lab import dataset
from tests.conftest import client_for
from tests.web.test_compare_eis import ingest_eis

pytestmark = pytest.mark.django_db


@pytest.fixture
def coated(study):
    lnto1 = next(c for c in study["cells"] if c.name == "LNTO-01")
    ingest_eis(lnto1, "coated", "LNTO-01_c2.mpt", seed=1)
    return study["coated"]


def _body(resp) -> bytes:
    chunks = list(resp.streaming_content)
    assert max(len(c) for c in chunks) <= RANGE_CHUNK_BYTES  # served from storage in bounded chunks
    body = b"".join(chunks)
    assert len(body) == int(resp["Content-Length"])
    return body


def _zip(resp) -> zipfile.ZipFile:
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"] == "application/zip"
    assert 'filename="lnto-coating-study-dataset.zip"' in resp["Content-Disposition"]
    assert resp["Accept-Ranges"] == "bytes" and len(resp["ETag"]) == 34
    return zipfile.ZipFile(io.BytesIO(_body(resp)))


def test_it_exports_a_group_as_one_zip_a_repository_takes(viewer, coated):
    zf = _zip(client_for(viewer).get(f"/api/v1/datasets/?groups={coated.pk}"))
    names = set(zf.namelist())
    for cell in ("LNTO-01", "LNTO-02", "LNTO-03"):
        for member in ("build_sheet.json", "cycles.csv", "figures/capacity.svg", "figures/profiles.svg"):
            assert f"cells/{cell}/{member}" in names
    assert {"README.md", "datacite.json", "provenance.json", "summary-cells.csv", "summary-groups.csv",
            "figures/compare-discharge_mah_g.svg", "figures/compare-ce_percent.svg"} <= names
    assert not any("BARE" in n for n in names)
    summary = pd.read_csv(zf.open("summary-cells.csv")).set_index("Cell")
    assert summary.loc["LNTO-01", "ICE (%)"] == pytest.approx(85.8, abs=0.05)
    cycles = pd.read_csv(zf.open("cells/LNTO-01/cycles.csv"))
    assert cycles["ce_percent"].iat[0] == pytest.approx(85.8, abs=0.05)
    assert cycles["discharge_mah_g"].iat[0] == pytest.approx(161.4, abs=0.05)
    sheet = json.loads(zf.read("cells/LNTO-01/build_sheet.json"))
    assert sheet["composite_loading_mg_cm2"] == 12.0 and sheet["units"]["composite_loading_mg_cm2"] == "mg/cm²"
    assert sheet["derived"]["active_loading_mg_cm2"] == pytest.approx(8.4)
    assert sheet["units"]["derived.active_loading_mg_cm2"] == "mg/cm²"
    meta = json.loads(zf.read("datacite.json"))
    assert meta["types"]["resourceTypeGeneral"] == "Dataset" and "LNTO coating study" in meta["titles"][0]["title"]
    readme = zf.read("README.md").decode()
    assert "LNTO-01: LNTO-coated, replicate 1" in readme and "datacite.json" in readme


def test_it_ships_full_records_in_parquet_and_bdf_with_their_provenance(viewer, coated):
    zf = _zip(client_for(viewer).get(f"/api/v1/datasets/?groups={coated.pk}"))
    datafile = DataFile.objects.get(cell__name="LNTO-01", kind="cycling")
    with default_storage.open(datafile.records_file, "rb") as fh:
        stored = pd.read_parquet(fh)
    # The analysed record as stored, with the cell's cycle (cycles.csv's numbers) beside the file's.
    shipped = pd.read_parquet(io.BytesIO(zf.read(f"cells/LNTO-01/records/{datafile.pk}.parquet")))
    pd.testing.assert_frame_equal(shipped.drop(columns="cell_cycle"), stored)
    assert (shipped["cell_cycle"] == stored["cycle"] + datafile.cycle_offset).all()
    assert sorted(shipped["cell_cycle"].unique()) == sorted(pd.read_csv(zf.open("cells/LNTO-01/cycles.csv"))["cycle"])
    bdf = read_bdf(io.BytesIO(zf.read(f"cells/LNTO-01/records/{datafile.pk}.bdf.parquet")), name="x.bdf.parquet")
    spec = CellSpec(active_mass_mg=datafile.provenance["active_mass_mg"], area_cm2=datafile.provenance["area_cm2"],
                    theoretical_mah_g=160.0)
    again = summarize_cycles(bdf.records, spec)
    assert again["ce_percent"].iat[0] == pytest.approx(85.8, abs=0.05)
    prov = json.loads(zf.read("provenance.json"))["cells"]["LNTO-01"]
    first = prov["datafiles"][0]
    assert first["sha256"] == datafile.sha256 and first["reader"] == "assb-lab land"  # the reader named in the ingest's provenance
    assert first["parser_version"] == "1.0.0" and first["analysis_version"] == "1.0.0"
    assert first["active_mass_mg"] == pytest.approx(datafile.provenance["active_mass_mg"])
    assert "window" in json.dumps(first["dqdv_params"])
    assert prov["eis"][0]["fits"][0]["circuit"] and prov["eis"][0]["fits"][0]["library_versions"]


def test_it_ships_eis_spectra_and_fits(viewer, coated):
    zf = _zip(client_for(viewer).get(f"/api/v1/datasets/?groups={coated.pk}&records=none"))
    assert not any("/records/" in n for n in zf.namelist())
    spectrum = next(n for n in zf.namelist() if n.startswith("cells/LNTO-01/eis/spectrum-"))
    table = pd.read_csv(zf.open(spectrum))
    assert list(table.columns) == ["freq_hz", "z_real_ohm", "z_imag_ohm"]
    assert table["freq_hz"].max() == pytest.approx(7e6, rel=0.01) and table["freq_hz"].min() == pytest.approx(0.1, rel=0.01)
    fits = json.loads(zf.read("cells/LNTO-01/eis/fits.json"))
    assert fits[0]["fits"][0]["r_int_ohm"] == pytest.approx(248, rel=0.05)  # the study's coated cell
    # the DRT of the same spectrum: gamma vs tau, its peaks with provenance (method, lambda, basis, version)
    drt = fits[0]["drt"]
    gamma = pd.read_csv(zf.open(spectrum.replace("spectrum-", "drt-")))
    assert list(gamma.columns) == ["tau_s", "gamma_ohm"]
    assert np.trapezoid(gamma["gamma_ohm"], np.log(gamma["tau_s"])) == pytest.approx(drt["r_pol_ohm"], rel=5e-3)
    interface = max(drt["peaks"], key=lambda p: p["resistance_ohm"])
    assert interface["resistance_ohm"] == pytest.approx(248, rel=0.10) and 400 < interface["f_hz"] < 1200
    assert drt["provenance"]["lambda_method"] == "gcv" and drt["provenance"]["version"] >= 1
    assert "gaussian-rbf" in drt["provenance"]["basis"] and drt["lambda"] > 0


def test_it_exports_only_what_the_user_may_see_and_audits_it(client, viewer, outsider, device_api, coated, study):
    url = f"/api/v1/datasets/?groups={coated.pk}"
    assert client.get(url).status_code == 401
    assert device_api.get(url).status_code == 403
    resp = client_for(outsider).get(url)
    assert resp.status_code == 400 and "holds no cell you may see" in resp.json()["detail"]
    assert client_for(viewer).get("/api/v1/datasets/?records=all&cells=1").json()["detail"] == (
        "records must be parquet, bdf, both or none")
    _zip(client_for(viewer).get(url))
    event = AuditEvent.objects.get(action="export.dataset")
    assert event.user == viewer and len(event.detail["cells"]) == 3 and event.detail["records"] == "both"


def test_it_summarises_exactly_the_chosen_cells(viewer, study):
    lnto1 = next(c for c in study["cells"] if c.name == "LNTO-01")
    zf = _zip(client_for(viewer).get(f"/api/v1/datasets/?cells={lnto1.pk}&records=none"))
    summary = pd.read_csv(zf.open("summary-cells.csv"))
    assert list(summary["Cell"]) == ["LNTO-01"]
    assert pd.read_csv(zf.open("summary-groups.csv")).empty  # a third of a group is not the group
    assert {n.split("/")[1] for n in zf.namelist() if n.startswith("cells/")} == {"LNTO-01"}


# --- resumable download (HTTP Range) ------------------------------------------------------------------

def test_the_same_selection_gives_a_byte_identical_zip(viewer, coated):
    cells = dataset.dataset_cells(viewer, group_ids=[coated.pk])
    # Built twice from scratch (not the cached file): fixed order, fixed stamps, reproducible figures.
    first = b"".join(dataset.dataset_zip(viewer, cells, records=("parquet",)))
    second = b"".join(dataset.dataset_zip(viewer, cells, records=("parquet",)))
    assert first == second
    etag, at = dataset.dataset_inputs(viewer, cells, ("parquet",))
    stamps = {info.date_time for info in zipfile.ZipFile(io.BytesIO(first)).infolist()}
    assert stamps == {(*at.timetuple()[:5], at.second // 2 * 2)}  # the data's own time (zip: 2 s steps)
    latest = DataFile.objects.filter(cell__group=coated, finished_at__isnull=False).latest("finished_at")
    assert at >= latest.finished_at
    assert json.loads(zipfile.ZipFile(io.BytesIO(first)).read("provenance.json"))["data_as_of"] == at.isoformat()


def test_a_broken_download_resumes_with_range_into_the_same_zip(viewer, coated, monkeypatch):
    monkeypatch.setattr("assb_lab.lib.RANGE_CHUNK_BYTES", 64 * 1024)  # so the small study spans many chunks
    client = client_for(viewer)
    url = f"/api/v1/datasets/?groups={coated.pk}"
    full_resp = client.get(url)
    assert full_resp.status_code == 200
    full, etag = _body(full_resp), full_resp["ETag"]
    assert len(full) > 4 * 64 * 1024  # records included: a resumed part spans several chunks
    half = len(full) // 2
    cut = full[:half]  # what arrived before the connection broke
    resumed = client.get(url, HTTP_RANGE=f"bytes={half}-", HTTP_IF_RANGE=etag)
    assert resumed.status_code == 206
    assert resumed["Content-Range"] == f"bytes {half}-{len(full) - 1}/{len(full)}"
    assert resumed["ETag"] == etag
    parts = list(resumed.streaming_content)
    assert len(parts) >= 2 and max(len(p) for p in parts) <= 64 * 1024
    whole = cut + b"".join(parts)
    assert whole == full
    zf = zipfile.ZipFile(io.BytesIO(whole))
    assert zf.testzip() is None and "cells/LNTO-01/cycles.csv" in zf.namelist()
    # a bounded range and a suffix range too
    assert _body(client.get(url, HTTP_RANGE="bytes=10-19")) == full[10:20]
    assert _body(client.get(url, HTTP_RANGE="bytes=-100")) == full[-100:]
    past = client.get(url, HTTP_RANGE=f"bytes={len(full)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(full)}"
    # one audit line for the download; the resumed and partial parts are not audited again
    assert AuditEvent.objects.filter(action="export.dataset").count() == 1


def test_if_range_with_a_stale_etag_gives_the_whole_new_zip(viewer, coated):
    client = client_for(viewer)
    url = f"/api/v1/datasets/?groups={coated.pk}&records=none"
    old = client.get(url)
    old_body, old_etag = _body(old), old["ETag"]
    cell = coated.cells.order_by("pk").first()
    cell.updated_at = cell.updated_at + timedelta(seconds=5)
    cell.save()  # the build sheet changed after the first part was fetched
    resp = client.get(url, HTTP_RANGE=f"bytes={len(old_body) // 2}-", HTTP_IF_RANGE=old_etag)
    assert resp.status_code == 200 and resp["ETag"] != old_etag
    assert "Content-Range" not in resp
    new = zipfile.ZipFile(io.BytesIO(_body(resp)))
    assert new.testzip() is None and "README.md" in new.namelist()
    # the same stale ETag over a Range without If-Range still is a range of the new file (RFC 9110)
    assert client.get(url, HTTP_RANGE="bytes=0-9").status_code == 206


def test_an_outsider_gets_nothing_even_with_a_range(outsider, coated):
    resp = client_for(outsider).get(f"/api/v1/datasets/?groups={coated.pk}", HTTP_RANGE="bytes=0-")
    assert resp.status_code == 400 and "holds no cell you may see" in resp.json()["detail"]


def test_old_built_zips_are_pruned(viewer, coated):
    import os
    import time

    name, _etag = dataset.dataset_file(viewer, dataset.dataset_cells(viewer, group_ids=[coated.pk]), records=())
    assert default_storage.exists(name)
    call_command("prune_datasets", days=1, stdout=io.StringIO())
    assert default_storage.exists(name)  # built just now: kept
    old = time.time() - 2 * 86400
    os.utime(default_storage.path(name), (old, old))
    out = io.StringIO()
    call_command("prune_datasets", days=1, stdout=out)
    assert not default_storage.exists(name) and "Removed" in out.getvalue()


def test_the_beat_prunes_old_zips_daily(viewer, coated, settings):
    import os
    import time

    from lab.tasks import prune_dataset_zips

    assert settings.CELERY_BEAT_SCHEDULE["prune-dataset-zips"]["task"] == "lab.tasks.prune_dataset_zips"
    name, _etag = dataset.dataset_file(viewer, dataset.dataset_cells(viewer, group_ids=[coated.pk]), records=())
    settings.ASSB_DATASET_KEEP_DAYS = 1
    assert prune_dataset_zips() == 0 and default_storage.exists(name)
    old = time.time() - 2 * 86400
    os.utime(default_storage.path(name), (old, old))
    assert prune_dataset_zips() == 1 and not default_storage.exists(name)
