"""Format profiles through the pages and services: a refused unknown layout links to the mapping form, which
previews and saves a versioned profile; the file and later files from that cycler PC then import."""
import json
from unittest import mock

import numpy as np
import pytest
from django.test import Client

from cycling import services
from cycling.models import CycleSummary, DataFile, FormatProfile
from readers import UNKNOWN_LAYOUT_HINT
from tests.helpers import ingest, posted_id
from tests.profilefiles import GERMAN_MAPPING, german_export

pytestmark = pytest.mark.django_db


def _form(device=None, **changes) -> dict:
    fields = {"name": "XT-8 tester", "device": device.pk if device else "", "delimiter": "semicolon",
              "decimal": ",", "header_row": 3, "encoding": "auto", "charge_current": "positive",
              **{f"col_{role}": name for role, name in GERMAN_MAPPING["columns"].items()},
              **{f"unit_{role}": unit for role, unit in GERMAN_MAPPING["units"].items()}}
    fields.update(changes)
    return fields


def _capacities(datafile) -> tuple[np.ndarray, np.ndarray]:
    rows = CycleSummary.objects.filter(datafile=datafile).order_by("file_cycle")
    return (np.array([r.charge_mah for r in rows]), np.array([r.discharge_mah for r in rows]))


@pytest.fixture
def admin_client(lab_admin):
    client = Client()
    client.force_login(lab_admin)
    return client


def test_it_refuses_an_unknown_layout_and_links_the_cell_page_to_the_mapping_form(cell, admin_client, api):
    data, _ = german_export(1, n_cycles=2)
    datafile = ingest(cell, data, "XT8-0001.txt")
    assert datafile.status == "failed" and UNKNOWN_LAYOUT_HINT in datafile.error
    body = api.get(f"/api/v1/datafiles/{datafile.pk}/").json()
    assert body["format_profile_url"] == f"http://testserver/formats/new/?datafile={datafile.pk}"
    page = admin_client.get(f"/cells/{cell.pk}/").content.decode()
    assert f'href="/formats/new/?datafile={datafile.pk}"' in page
    form = admin_client.get(f"/formats/new/?datafile={datafile.pk}").content.decode()
    # the guess and the file's header are offered: semicolon, decimal comma, header on line 3
    assert '<option value="semicolon" selected>' in form and '<option value="Zeit/h">' in form
    assert 'name="header_row" min="1" max="200" value="3"' in form
    listing = admin_client.get("/formats/").content.decode()
    assert "XT8-0001.txt" in listing


def test_only_lab_admins_map_layouts(cell, researcher):
    client = Client()
    client.force_login(researcher)
    assert client.get("/formats/").status_code == 403
    assert client.post("/formats/new/", _form(action="save")).status_code == 403
    assert not FormatProfile.objects.exists()


def test_the_preview_shows_records_and_cycles_before_anything_is_saved(cell, admin_client):
    data, truth = german_export(2, n_cycles=3)
    datafile = ingest(cell, data, "XT8-0002.txt")
    resp = admin_client.post("/formats/new/", {**_form(action="preview"), "datafile": datafile.pk})
    html = resp.content.decode()
    assert resp.status_code == 200 and 'id="preview-cycles"' in html
    assert not FormatProfile.objects.exists()
    charges = [c["charge_mah"] for c in resp.context["preview"]["cycles"]]
    np.testing.assert_allclose(charges, truth["charge_mah"], rtol=0.005)
    assert resp.context["preview"]["rows"][0]["test_time_s"] == pytest.approx(30.0, abs=1e-3)
    # a wrong unit shows in the preview, and a wrong column name is an error naming the header line
    bad = admin_client.post("/formats/new/", {**_form(action="preview", unit_time="min"), "datafile": datafile.pk})
    # hours read as minutes: the second record's 60 s (0.0166667 h) shows as 1 s
    assert bad.context["preview"]["rows"][1]["test_time_s"] == pytest.approx(1.0, rel=1e-3)
    wrong = admin_client.post("/formats/new/", {**_form(action="preview", header_row=2), "datafile": datafile.pk})
    assert "row 2" in wrong.context["error"]


def test_saving_reads_the_file_and_later_files_from_that_cycler_pc_import(cell, admin_client, device, device_api):
    data, truth = german_export(3, n_cycles=4)
    first = ingest(cell, data, "XT8-0003.txt")
    assert first.status == "failed"
    with mock.patch.object(services, "datafile_enqueue"):
        resp = admin_client.post("/formats/new/", {**_form(device, action="save"), "datafile": first.pk})
    assert resp.status_code == 302 and resp["Location"] == f"/cells/{cell.pk}/#datafiles"
    profile = FormatProfile.objects.get()
    assert (profile.name, profile.version, profile.device, profile.created_by.username) == (
        "XT-8 tester", 1, device, "labadmin")
    assert services.datafile_ingest(datafile_id=first.pk) == "imported"
    first.refresh_from_db()
    charge, discharge = _capacities(first)
    np.testing.assert_allclose(charge, truth["charge_mah"], rtol=0.005)
    np.testing.assert_allclose(discharge, truth["discharge_mah"], rtol=0.005)
    assert (first.provenance["profile"], first.provenance["profile_version"]) == ("XT-8 tester", 1)
    assert first.provenance["parser"] == "assb-lab format profile"

    # a second file from the same cycler PC: read by the profile of its device, no one names it
    data2, truth2 = german_export(4, n_cycles=3)
    second_id = posted_id(device_api, cell, data2, "XT8-0004.txt")
    assert services.datafile_ingest(datafile_id=second_id) == "imported"
    second = DataFile.objects.get(pk=second_id)
    charge, discharge = _capacities(second)
    np.testing.assert_allclose(charge, truth2["charge_mah"], rtol=0.005)
    np.testing.assert_allclose(discharge, truth2["discharge_mah"], rtol=0.005)
    page = admin_client.get(f"/cells/{cell.pk}/").content.decode()
    assert '<dd data-key="profile">XT-8 tester, version 1</dd>' in page


def test_an_upload_that_names_the_profile_is_read_with_it(cell, admin_client, api, lab_admin):
    services.format_profile_save(name="XT-8 tester", mapping=GERMAN_MAPPING, actor=lab_admin)
    data, truth = german_export(6, n_cycles=2)
    datafile_id = posted_id(api, cell, data, "XT8-0006.txt", profile="XT-8 tester")
    assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    _, discharge = _capacities(DataFile.objects.get(pk=datafile_id))
    np.testing.assert_allclose(discharge, truth["discharge_mah"], rtol=0.005)
    missing_id = posted_id(api, cell, german_export(7, n_cycles=1)[0], "XT8-0007.txt", profile="nope")
    assert services.datafile_ingest(datafile_id=missing_id) == "failed"
    assert "names the format profile 'nope', which does not exist" in DataFile.objects.get(pk=missing_id).error


def test_an_edit_is_a_new_version_audited_and_export_import_round_trips(admin_client, lab_admin, device):
    from cells.models import AuditEvent

    profile = services.format_profile_save(name="XT-8 tester", mapping=GERMAN_MAPPING, actor=lab_admin)
    resp = admin_client.post(f"/formats/{profile.pk}/", _form(action="save", unit_current="µA"))
    assert resp.status_code == 302
    profile.refresh_from_db()
    assert profile.version == 2 and profile.mapping["units"]["current"] == "µA"
    event = AuditEvent.objects.filter(action="update", object_type="cycling.formatprofile").get()
    assert event.detail["changes"]["version"] == [1, 2]
    assert event.detail["changes"]["mapping"][0]["units"]["current"] == "mA"
    # saving the same mapping again is no new version
    admin_client.post(f"/formats/{profile.pk}/", _form(action="save", unit_current="µA"))
    profile.refresh_from_db()
    assert profile.version == 2

    exported = admin_client.get(f"/formats/{profile.pk}/export/")
    doc = json.loads(exported.content)
    assert exported["Content-Disposition"].endswith('-v2.json"')
    assert (doc["name"], doc["version"], doc["mapping"]["units"]["current"]) == ("XT-8 tester", 2, "µA")
    profile.delete()
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("p.json", exported.content, content_type="application/json")
    assert admin_client.post("/formats/import/", {"document": upload, "device": device.pk}).status_code == 302
    again = FormatProfile.objects.get()
    assert (again.name, again.version, again.device, again.mapping) == ("XT-8 tester", 1, device, doc["mapping"])
    broken = SimpleUploadedFile("p.json", b'{"name": "x", "mapping": {"columns": {}}}')
    resp = admin_client.post("/formats/import/", {"document": broken})
    assert "the time column is not mapped" in admin_client.get(resp["Location"]).content.decode()


def test_an_edit_reads_the_files_of_earlier_versions_again(cell, admin_client, lab_admin):
    profile = services.format_profile_save(name="XT-8 tester", mapping=GERMAN_MAPPING, actor=lab_admin)
    data, truth = german_export(8, n_cycles=2)
    datafile = ingest(cell, data, "XT8-0008.txt")
    with mock.patch.object(services, "datafile_enqueue"):
        services.datafile_read_with_profile(datafile=datafile, profile=profile, actor=lab_admin)
    assert services.datafile_ingest(datafile_id=datafile.pk) == "imported"
    # an edit (the current read in µA: a thousand times less charge) re-reads the file with version 2
    with mock.patch.object(services, "datafile_enqueue") as enqueued:
        resp = admin_client.post(f"/formats/{profile.pk}/", _form(action="save", unit_current="µA"))
    assert resp.status_code == 302 and [c.args[0].pk for c in enqueued.call_args_list] == [datafile.pk]
    assert services.datafile_ingest(datafile_id=datafile.pk) == "imported"
    datafile.refresh_from_db()
    assert datafile.provenance["profile_version"] == 2
    _, discharge = _capacities(datafile)
    np.testing.assert_allclose(discharge, truth["discharge_mah"] / 1000, rtol=0.005)


def test_a_renamed_profile_still_reads_its_files_and_their_provenance_names_it_as_it_is_now(
        cell, admin_client, api, lab_admin):
    profile = services.format_profile_save(name="XT-8 tester", mapping=GERMAN_MAPPING, actor=lab_admin)
    data, truth = german_export(9, n_cycles=2)
    mapped = ingest(cell, data, "XT8-0009.txt")  # refused: no reader knows the layout
    with mock.patch.object(services, "datafile_enqueue"):
        services.datafile_read_with_profile(datafile=mapped, profile=profile, actor=lab_admin)
    assert services.datafile_ingest(datafile_id=mapped.pk) == "imported"
    named_id = posted_id(api, cell, german_export(10, n_cycles=2)[0], "XT8-0010.txt", profile="XT-8 tester")
    assert services.datafile_ingest(datafile_id=named_id) == "imported"

    # renamed in the browser (the mapping unchanged): the files it read are read again with its new version
    with mock.patch.object(services, "datafile_enqueue") as enqueued:
        resp = admin_client.post(f"/formats/{profile.pk}/", _form(action="save", name="XT-8 (hall B)"))
    assert resp.status_code == 302
    profile.refresh_from_db()
    assert (profile.name, profile.version) == ("XT-8 (hall B)", 2)
    assert sorted(c.args[0].pk for c in enqueued.call_args_list) == sorted([mapped.pk, named_id])
    # until then their provenance names the profile as it is called now, with the version that read them
    page = admin_client.get(f"/cells/{cell.pk}/").content.decode()
    assert page.count('<dd data-key="profile">XT-8 (hall B), version 1 <span class="muted">(called XT-8 tester '
                      'then)</span></dd>') == 2
    body = api.get(f"/api/v1/datafiles/{mapped.pk}/").json()
    assert body["format_profile"] == {"id": profile.pk, "name": "XT-8 (hall B)", "version": 1,
                                      "current_version": 2}
    for datafile_id in (mapped.pk, named_id):
        assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
        datafile = DataFile.objects.get(pk=datafile_id)
        assert (datafile.provenance["profile_id"], datafile.provenance["profile_version"]) == (profile.pk, 2)
    _, discharge = _capacities(DataFile.objects.get(pk=mapped.pk))
    np.testing.assert_allclose(discharge, truth["discharge_mah"], rtol=0.005)
    page = admin_client.get(f"/cells/{cell.pk}/").content.decode()
    assert page.count('<dd data-key="profile">XT-8 (hall B), version 2</dd>') == 2


def test_files_read_before_profiles_had_keys_get_the_key_of_their_profile(cell, lab_admin):
    import importlib

    from django.apps import apps

    profile = services.format_profile_save(name="XT-8 tester", mapping=GERMAN_MAPPING, actor=lab_admin)
    old = ingest(cell, german_export(11, n_cycles=1)[0], "XT8-0011.txt")
    DataFile.objects.filter(pk=old.pk).update(provenance={"profile": "XT-8 tester", "profile_version": 1},
                                              metadata={"profile_requested": "XT-8 tester"})
    importlib.import_module("cycling.migrations.0007_format_profile_keys").add_keys(apps, None)
    old.refresh_from_db()
    assert old.provenance == {"profile": "XT-8 tester", "profile_version": 1, "profile_id": profile.pk}
    assert old.metadata == {"profile_requested": "XT-8 tester", "profile_requested_id": profile.pk}


def test_a_list_of_files_read_by_profiles_asks_for_the_profiles_once(
        cell, api, lab_admin):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.format_profile_save(name="XT-8 tester", mapping=GERMAN_MAPPING, actor=lab_admin)
    for n in range(11, 14):
        datafile_id = posted_id(api, cell, german_export(n, n_cycles=1)[0], f"XT8-{n:04d}.txt",
                                profile="XT-8 tester")
        assert services.datafile_ingest(datafile_id=datafile_id) == "imported"
    with CaptureQueriesContext(connection) as queries:
        body = api.get(f"/api/v1/datafiles/?cell={cell.pk}").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [r["format_profile"]["name"] for r in rows] == ["XT-8 tester"] * 3
    assert sum("cycling_formatprofile" in q["sql"] for q in queries.captured_queries) == 1
