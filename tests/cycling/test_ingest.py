"""Ingest service and upload API, in process: claim, parse, analyse, swap in, dedupe, supersede, delete."""
from functools import partial

import pytest
from django.core.files.storage import default_storage

from cycling import services
from cycling.models import CycleSummary, DataFile
from cycling.parsers import neware
from ingest import machinery as ingest
from tests.conftest import client_for
from tests.helpers import post_datafile
from tests.landfiles import (
    CUT_EXPORT,
    CUT_EXPORT_REASON,
    NEWARE,
    NOT_A_CYCLER,
    NOT_A_CYCLER_REASON,
    study_export,
    upload_file,
)

pytestmark = pytest.mark.django_db



@pytest.fixture(scope="module")
def coated_export():
    return study_export("coated", n_cycles=12)


# The file name a cycler PC of the study would send (channel 3 of LNTO-01).
_upload = partial(post_datafile, name="LNTO-01_ch3.xlsx")


def test_it_accepts_an_upload_with_202_and_a_status_url(device_api, cell, coated_export):
    resp = _upload(device_api, cell, coated_export[0])
    assert resp.status_code == 202, resp.content
    body = resp.json()
    assert body["status"] == "pending" and body["status_url"].endswith(f"/api/v1/datafiles/{body['id']}/")
    datafile = DataFile.objects.get(pk=body["id"])
    assert datafile.device.name == "cycler-pc-1"
    assert "LNTO-01" not in datafile.file.name and datafile.file.name.endswith(".bin")
    assert default_storage.open(datafile.file.name).read() == coated_export[0]
    assert device_api.get(body["status_url"]).status_code == 200


def test_it_returns_the_existing_file_for_the_same_bytes(device_api, cell, coated_export):
    first = _upload(device_api, cell, coated_export[0]).json()
    again = _upload(device_api, cell, coated_export[0], name="renamed.xlsx")
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert DataFile.objects.count() == 1


def test_it_imports_the_study_cell_with_its_golden_numbers(device_api, cell, coated_export):
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    datafile = DataFile.objects.get(pk=datafile_id)
    assert datafile.n_cycles == 12 and datafile.n_records == len(coated_export[1]["records"])
    first = CycleSummary.objects.get(datafile=datafile, cycle=1)
    assert first.charge_mah_g == pytest.approx(188.2, rel=1e-3)
    assert first.discharge_mah_g == pytest.approx(161.4, rel=1e-3)
    assert first.ce_percent == pytest.approx(85.8, abs=0.05)
    assert datafile.provenance["active_mass_mg"] == pytest.approx(cell.active_mass_mg)
    assert not [w for w in datafile.warnings if "differs" in w]
    with default_storage.open(datafile.records_file) as fh:
        import pandas as pd

        assert len(pd.read_parquet(fh)) == datafile.n_records


def test_it_is_idempotent_when_run_twice(device_api, cell, coated_export):
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    services.datafile_ingest(datafile_id=datafile_id)
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"  # nothing to claim: no-op
    assert CycleSummary.objects.filter(datafile_id=datafile_id).count() == 12


def test_it_lets_exactly_one_of_two_workers_claim_a_file(device_api, cell, coated_export):
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    claims = [ingest.claim(datafile_id), ingest.claim(datafile_id)]
    assert sum(c is not None for c in claims) == 1
    with pytest.raises(services.ClaimHeld):
        services.datafile_ingest(datafile_id=datafile_id)


def test_it_writes_progress_at_most_once_a_second(device_api, cell, coated_export, monkeypatch):
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    token = ingest.claim(datafile_id)
    clock = [1000.0]
    monkeypatch.setattr(ingest.time, "monotonic", lambda: clock[0])
    progress = ingest.Progress(datafile_id, token)
    report = progress.stage(0, 70)

    def percent():
        return DataFile.objects.get(pk=datafile_id).progress_percent

    clock[0] += 0.5
    report(0.5)  # 35 % half a second after the claim: a one-second import writes no progress at all
    assert percent() == 0
    clock[0] += 0.6
    report(0.6)
    assert percent() == 42
    clock[0] += 0.2
    report(1.0)  # the stage's end, but only 0.2 s later
    assert percent() == 42
    clock[0] += 1.0
    report(1.0)
    assert percent() == 70


def test_it_imports_a_neware_file_and_shows_its_reader(device_api, cell):
    data = open(NEWARE, "rb").read()
    datafile_id = _upload(device_api, cell, data, name="neware.xls").json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    datafile = DataFile.objects.get(pk=datafile_id)
    # The file's own Cycle sheet: 14 cycles, the first discharge 3.5241 mAh.
    assert CycleSummary.objects.filter(datafile=datafile).count() == datafile.n_cycles == 14
    assert CycleSummary.objects.get(datafile=datafile, file_cycle=1).discharge_mah == pytest.approx(3.5241456666666666)
    shown = device_api.get(f"/api/v1/datafiles/{datafile_id}/").json()
    assert shown["status"] == "imported" and shown["error"] == ""
    assert (shown["instrument"], shown["reader"], shown["reader_version"]) == ("Neware", "assb-lab neware-bts", neware.VERSION)


def test_it_refuses_a_file_no_cycler_wrote_at_upload_with_415(device_api, cell):
    resp = _upload(device_api, cell, NOT_A_CYCLER, name="room_logger.csv")
    assert resp.status_code == 415
    assert NOT_A_CYCLER_REASON in resp.json()["file"][0] and "room_logger.csv" in resp.json()["file"][0]
    assert DataFile.objects.count() == 0


def test_it_fails_a_cut_export_with_a_plain_reason_and_no_rows(device_api, cell):
    datafile_id = _upload(device_api, cell, CUT_EXPORT, name="LNTO-01_cut.csv").json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "failed"
    datafile = DataFile.objects.get(pk=datafile_id)
    assert "LNTO-01_cut.csv" in datafile.error and CUT_EXPORT_REASON in datafile.error
    assert CycleSummary.objects.filter(datafile=datafile).count() == 0
    shown = device_api.get(f"/api/v1/datafiles/{datafile_id}/").json()
    assert shown["status"] == "failed" and CUT_EXPORT_REASON in shown["error"] and shown["traceback"] is None


def test_it_recomputes_per_gram_values_after_a_mass_correction(device_api, cell, coated_export):
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    services.datafile_ingest(datafile_id=datafile_id)
    before = CycleSummary.objects.get(datafile_id=datafile_id, cycle=1)
    cell.composite_loading_mg_cm2 = 6.0  # half the mass: double the mAh/g
    cell.save()
    datafile = DataFile.objects.get(pk=datafile_id)
    assert datafile.status == "pending"
    # The old values stay visible until the new ones are complete.
    assert CycleSummary.objects.get(datafile_id=datafile_id, cycle=1).charge_mah_g == before.charge_mah_g
    services.datafile_ingest(datafile_id=datafile_id)
    after = CycleSummary.objects.get(datafile_id=datafile_id, cycle=1)
    assert after.charge_mah == pytest.approx(before.charge_mah)
    assert after.charge_mah_g == pytest.approx(2 * before.charge_mah_g, rel=1e-6)


def test_it_replaces_an_earlier_export_of_the_same_growing_run(device_api, cell):
    full, info = study_export("coated", n_cycles=12)
    records = info["records"]
    partial_records = records[records["cycle"] <= 6].copy()
    import io

    from cycling.testing import write_land

    buf = io.BytesIO()
    write_land(partial_records, buf)
    early = _upload(device_api, cell, buf.getvalue(), name="run_day3.xlsx").json()["id"]
    services.datafile_ingest(datafile_id=early)
    late = _upload(device_api, cell, full, name="run_day6.xlsx").json()["id"]
    services.datafile_ingest(datafile_id=late)
    assert DataFile.objects.get(pk=early).superseded_by_id == late
    assert CycleSummary.objects.filter(cell=cell).count() == 12
    assert any("Replaces the earlier export run_day3.xlsx" in w for w in DataFile.objects.get(pk=late).warnings)


def test_it_deletes_a_file_with_everything_derived_from_it(api, device_api, cell, coated_export,
                                                           django_capture_on_commit_callbacks):
    from tests.factories import UserFactory

    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    services.datafile_ingest(datafile_id=datafile_id)
    datafile = DataFile.objects.get(pk=datafile_id)
    names = [datafile.file.name, datafile.records_file]
    admin = client_for(UserFactory(username="boss", is_staff=True, is_superuser=True))
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/datafiles/{datafile_id}/").status_code == 204  # researchers may delete files
    assert not CycleSummary.objects.filter(datafile_id=datafile_id).exists()
    assert not any(default_storage.exists(n) for n in names)
    assert admin.get(f"/api/v1/datafiles/{datafile_id}/").status_code == 404


@pytest.mark.parametrize("payload, name, reason", [
    (b"%PDF-1.7 ...", "x.xlsx", "PDF"),
    (b"\x89PNG\r\n\x1a\n....", "x.xlsx", "PNG"),
    (b"<!DOCTYPE html><html><body>login</body></html>", "export.xlsx", "HTML"),
])
def test_it_refuses_what_is_clearly_not_an_export_with_415(device_api, cell, payload, name, reason):
    resp = _upload(device_api, cell, payload, name=name)
    assert resp.status_code == 415 and reason in str(resp.json())
    assert DataFile.objects.count() == 0


def test_it_refuses_an_empty_file(device_api, cell):
    resp = _upload(device_api, cell, b"", name="empty.xlsx")
    assert resp.status_code in (400, 415) and "empty" in str(resp.json()).lower()


def test_it_refuses_files_over_the_size_limit_with_413(device_api, cell, settings):
    settings.ASSB_UPLOAD_MAX_BYTES = 10_000
    resp = _upload(device_api, cell, b"PK\x03\x04" + b"\0" * 20_000)
    assert resp.status_code == 413 and "upload limit" in str(resp.json())
    assert DataFile.objects.count() == 0


def test_it_names_an_unknown_cell(device_api, cell, coated_export):
    resp = device_api.post("/api/v1/datafiles/", {"file": upload_file(coated_export[0]), "cell": "NOPE-99"},
                           format="multipart")
    assert resp.status_code == 400 and "NOPE-99" in str(resp.json())


def test_it_answers_401_without_a_token_and_403_for_viewers(viewer, cell, coated_export):
    from rest_framework.test import APIClient

    assert _upload(APIClient(), cell, coated_export[0]).status_code == 401
    assert _upload(client_for(viewer), cell, coated_export[0]).status_code == 403


def test_it_keeps_devices_to_upload_and_status(device_api, cell, coated_export):
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    assert device_api.get("/api/v1/datafiles/").status_code == 403
    assert device_api.delete(f"/api/v1/datafiles/{datafile_id}/").status_code == 403
    assert device_api.post(f"/api/v1/datafiles/{datafile_id}/reprocess/").status_code == 403
    assert device_api.get(f"/api/v1/cells/{cell.pk}/cycles/").status_code == 403


def test_it_serves_cycles_curves_and_dqdv_of_a_cell(api, device_api, cell, coated_export):
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    services.datafile_ingest(datafile_id=datafile_id)
    cycles = api.get(f"/api/v1/cells/{cell.pk}/cycles/?cycle_min=2&cycle_max=5").json()
    assert [c["cycle"] for c in cycles] == [2, 3, 4, 5]
    long_term = api.get(f"/api/v1/cells/{cell.pk}/cycles/?c_rate=C/3").json()
    assert long_term and all(c["c_rate_label"] == "C/3" for c in long_term)
    curves = api.get(f"/api/v1/cells/{cell.pk}/curves/?cycles=1,last&points=50").json()
    assert curves["capacity_unit"] == "mAh/g"
    assert {(t["cycle"], t["half"]) for t in curves["traces"]} == {(1, "charge"), (1, "discharge"),
                                                                   (12, "charge"), (12, "discharge")}
    charge1 = next(t for t in curves["traces"] if t["cycle"] == 1 and t["half"] == "charge")
    assert len(charge1["voltage_v"]) <= 50 and max(charge1["capacity"]) == pytest.approx(188.2, rel=0.01)
    dqdv = api.get(f"/api/v1/cells/{cell.pk}/dqdv/?cycles=1").json()
    assert {t["half"] for t in dqdv["traces"]} == {"charge", "discharge"} and dqdv["traces"][0]["peaks_v"]


def test_it_sweeps_files_that_were_never_queued(device_api, cell, coated_export):
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    assert datafile_id in services.sweep_stale()


def test_it_imports_without_a_mass_in_mah_only_and_says_so(device_api, project, coated_export):
    from tests.factories import CellFactory

    cell = CellFactory(project=project, name="NOMASS-01", composite_loading_mg_cm2=None)
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    first = CycleSummary.objects.get(datafile_id=datafile_id, cycle=1)
    assert first.charge_mah > 0 and first.charge_mah_g is None and first.c_rate is None
    assert any("mass" in w.lower() for w in DataFile.objects.get(pk=datafile_id).warnings)


def test_it_stores_the_ce_convention_with_every_cycle(device_api, cell, coated_export):
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    services.datafile_ingest(datafile_id=datafile_id)
    assert set(CycleSummary.objects.filter(datafile_id=datafile_id).values_list("ce_convention", flat=True)) == {
        "discharge/charge"
    }
    assert DataFile.objects.get(pk=datafile_id).provenance["ce_convention"] == "discharge/charge"


def test_it_reads_the_real_discharge_first_sample_with_land_s_own_efficiency(device_api, project):
    from tests.factories import CellFactory

    cell = CellFactory(project=project, name="CELLPY-002", area_cm2=1.0, die_diameter_mm=None,
                       composite_loading_mg_cm2=0.81, cathode_active_fraction=1.0, first_half="discharge")
    data = open("tests/data/land/cellpy_custom_data_002.xlsx", "rb").read()
    datafile_id = _upload(device_api, cell, data, name="custom_data_002.xlsx").json()["id"]
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    rows = {c.cycle: c for c in CycleSummary.objects.filter(datafile_id=datafile_id)}
    assert len(rows) == 14
    assert rows[1].charge_mah == pytest.approx(2.74823, rel=1e-4)
    assert rows[1].discharge_mah == pytest.approx(3.03312, rel=1e-4)
    assert rows[1].ce_percent == pytest.approx(90.6072, abs=0.01)  # second half / first half, as LAND
    assert rows[1].ce_convention == "charge/discharge"
    assert not [w for w in DataFile.objects.get(pk=datafile_id).warnings if "differs" in w]


def test_it_stores_sys_time_in_utc_read_in_the_cycler_pcs_zone(device_api, device, cell, coated_export):
    import pandas as pd

    device.timezone = "Asia/Shanghai"
    device.save()
    datafile_id = _upload(device_api, cell, coated_export[0]).json()["id"]
    services.datafile_ingest(datafile_id=datafile_id)
    datafile = DataFile.objects.get(pk=datafile_id)
    with default_storage.open(datafile.records_file) as fh:
        stored = pd.read_parquet(fh, columns=["sys_time"])["sys_time"]
    naive_first = coated_export[1]["records"]["sys_time"].iloc[0]  # 2021-03-01 09:00 on the PC's clock
    assert str(stored.dt.tz) == "UTC"
    assert stored.iloc[0] == pd.Timestamp(naive_first).tz_localize("Asia/Shanghai").tz_convert("UTC")
    assert datafile.metadata["start_time_utc"].startswith("2021-03-01T01:00")
    assert datafile.metadata["sys_time_zone"] == "Asia/Shanghai"
