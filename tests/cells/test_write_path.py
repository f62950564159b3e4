"""One write path: the admin's delete and save go through the services, so they leave what the API leaves."""
import pytest
from django.core.files.storage import default_storage

from cells.models import AuditEvent, Cell, Material
from cycling.models import CycleSummary, DataFile
from tests.conftest import client_for
from tests.factories import CellFactory, UserFactory
from tests.helpers import ingest, resumed_run
from tests.landfiles import study_export

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(project):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    project.members.add(user)
    return user


@pytest.fixture
def admin_site(client, staff):
    client.force_login(staff)
    return client


def _overlapping_files(cell):
    """Two files of the cell whose runs overlap in time: the timeline flags a conflict naming the later one."""
    import io

    import pandas as pd

    from cycling.simulate import study_cell
    from cycling.testing import write_land

    records, _ = study_cell("coated", n_cycles=8, points_per_half_cycle=20)
    first, second = resumed_run(records, 4, pd.Timedelta(minutes=-600))
    files = []
    for k, part in enumerate((first, second)):
        buf = io.BytesIO()
        write_land(part, buf)
        files.append(ingest(cell, buf.getvalue(), f"part{k}.xlsx"))
    return files


def _state(cell: Cell, api) -> dict:
    """What the faces show of a cell after a delete."""
    cell.refresh_from_db()
    cycles = api.get(f"/api/v1/cells/{cell.pk}/cycles/").json()
    timeline = list(DataFile.objects.filter(cell=cell).values_list("original_name", "timeline_warnings",
                                                                   "cycle_offset"))
    return {"data_version_step": cell.data_version, "cycles": [(r["cycle"], r["file_cycle"]) for r in cycles],
            "timeline": timeline, "rows": CycleSummary.objects.filter(cell=cell).count()}


@pytest.mark.parametrize("how", ["admin", "admin-bulk"])
def test_an_admin_delete_leaves_the_cell_as_an_api_delete_does(how, admin_site, staff, project,
                                                               django_capture_on_commit_callbacks):
    api = client_for(staff)
    by_api, by_admin = (CellFactory(project=project, name=n) for n in ("VIA-API", "VIA-ADMIN"))
    outcome = {}
    for cell in (by_api, by_admin):
        first, second = _overlapping_files(cell)
        assert any(w.startswith("Conflict: ") for w in DataFile.objects.get(pk=second.pk).timeline_warnings)
        cell.refresh_from_db()
        version = cell.data_version
        api.get(f"/api/v1/cells/{cell.pk}/cycles/")  # an answer in the dashboard cache, keyed by data_version
        names = [second.file.name, second.records_file]
        with django_capture_on_commit_callbacks(execute=True):
            if cell is by_api:
                assert api.delete(f"/api/v1/datafiles/{second.pk}/").status_code == 204
            elif how == "admin":
                resp = admin_site.post(f"/admin/cycling/datafile/{second.pk}/delete/", {"post": "yes"})
                assert resp.status_code == 302
            else:
                resp = admin_site.post("/admin/cycling/datafile/", {
                    "action": "delete_selected", "_selected_action": [second.pk], "post": "yes"})
                assert resp.status_code == 302
        state = _state(cell, api)
        assert state["data_version_step"] > version  # cached answers are not read again
        state["data_version_step"] -= version
        assert not any(default_storage.exists(n) for n in names)
        event = AuditEvent.objects.get(action="delete", object_type="cycling.datafile", object_id=str(second.pk))
        assert event.user == staff and event.detail["original_name"] == "part1.xlsx"
        outcome[cell.name] = state
    api_state, admin_state = outcome["VIA-API"], outcome["VIA-ADMIN"]
    assert admin_state == api_state
    # The deleted file's cycles are gone, its conflict with it.
    assert api_state["timeline"] == [("part0.xlsx", [], 0)]
    assert api_state["cycles"] == [(c, c) for c in range(1, 5)]


def test_a_build_sheet_patch_is_audited_with_old_and_new_values(api, researcher, cell):
    before = cell.composite_loading_mg_cm2
    resp = api.patch(f"/api/v1/cells/{cell.pk}/", {"composite_loading_mg_cm2": 10.5, "notes": "re-weighed"},
                     format="json")
    assert resp.status_code == 200, resp.json()
    event = AuditEvent.objects.get(action="update", object_type="cells.cell")
    assert event.user == researcher
    assert event.detail["changes"] == {"composite_loading_mg_cm2": [before, 10.5], "notes": ["", "re-weighed"]}


def test_an_admin_build_sheet_save_is_audited_with_old_and_new_values(admin_site, staff, cell):
    page = admin_site.get(f"/admin/cells/cell/{cell.pk}/change/")
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            continue
        data[name] = value.pk if hasattr(value, "pk") else value
    data.update({"composite_loading_mg_cm2": "9.75", "pressing_steps-TOTAL_FORMS": "0",
                 "pressing_steps-INITIAL_FORMS": "0", "pressing_steps-MIN_NUM_FORMS": "0",
                 "pressing_steps-MAX_NUM_FORMS": "1000"})
    resp = admin_site.post(f"/admin/cells/cell/{cell.pk}/change/", data)
    assert resp.status_code == 302, resp.context["adminform"].form.errors if resp.context else resp
    event = AuditEvent.objects.get(action="update", object_type="cells.cell")
    assert event.user == staff
    assert event.detail["changes"] == {"composite_loading_mg_cm2": [12.0, 9.75]}


def test_registry_deletes_and_creates_keep_every_value_in_the_log(api, admin_site, staff):
    resp = api.post("/api/v1/materials/", {"name": "NCM811", "kind": "cathode_active", "theoretical_capacity_mah_g": 200},
                    format="json")
    assert resp.status_code == 201, resp.json()
    created = AuditEvent.objects.get(action="create", object_type="cells.material")
    assert created.detail["changes"]["name"] == [None, "NCM811"]
    assert created.detail["changes"]["theoretical_capacity_mah_g"] == [None, 200.0]
    material = Material.objects.get(name="NCM811")
    resp = admin_site.post(f"/admin/cells/material/{material.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302 and not Material.objects.filter(pk=material.pk).exists()
    deleted = AuditEvent.objects.get(action="delete", object_type="cells.material")
    assert deleted.user == staff and deleted.detail["changes"]["name"] == ["NCM811", None]


def test_the_audit_log_never_holds_a_device_token(admin_site, staff):
    from tests.factories import DeviceFactory

    device = DeviceFactory(name="pc-9")
    resp = admin_site.post(f"/admin/cells/cyclerdevice/{device.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    event = AuditEvent.objects.get(action="delete", object_type="cells.cyclerdevice")
    assert "key" not in event.detail["changes"] and device.key not in str(event.detail)
    assert event.detail["changes"]["name"] == ["pc-9", None]


def test_an_admin_timeline_mark_is_audited_with_old_and_new_values(admin_site, staff, cell):
    datafile = ingest(cell, study_export(n_cycles=3, points=20)[0], "one.xlsx")
    resp = admin_site.post(f"/admin/cycling/datafile/{datafile.pk}/change/", {"timeline_mark": "new_run"})
    assert resp.status_code == 302
    event = AuditEvent.objects.get(action="timeline_mark")
    assert event.user == staff and event.detail["changes"] == {"timeline_mark": ["", "new_run"]}


def test_alert_rule_edits_by_api_and_admin_are_audited_with_old_and_new_values(lab_admin, admin_site, staff, cell):
    from monitoring.models import AlertRule

    api = client_for(lab_admin)
    made = api.post("/api/v1/alert-rules/", {"kind": "retention_below", "threshold": 70, "group": cell.group_id},
                    format="json")
    assert made.status_code == 201, made.json()
    rule_id = made.json()["id"]
    assert api.patch(f"/api/v1/alert-rules/{rule_id}/", {"threshold": 75}, format="json").status_code == 200
    edit = AuditEvent.objects.get(action="update", object_type="monitoring.alertrule")
    assert edit.user == lab_admin and edit.detail["changes"] == {"threshold": [70.0, 75.0]}
    resp = admin_site.post(f"/admin/monitoring/alertrule/{rule_id}/delete/", {"post": "yes"})
    assert resp.status_code == 302 and not AlertRule.objects.filter(pk=rule_id).exists()
    gone = AuditEvent.objects.get(action="delete", object_type="monitoring.alertrule")
    assert gone.user == staff and gone.detail["changes"]["threshold"] == [75.0, None]


@pytest.mark.parametrize("how", ["api", "admin"])
def test_a_cell_delete_leaves_no_stored_file_of_its_data(how, admin_site, staff, project,
                                                        django_capture_on_commit_callbacks):
    cell = CellFactory(project=project, name="GOING")
    datafile = ingest(cell, study_export(n_cycles=3, points=20)[0], "one.xlsx")
    names = [datafile.file.name, datafile.records_file]
    assert all(default_storage.exists(n) for n in names)
    with django_capture_on_commit_callbacks(execute=True):
        if how == "api":
            assert client_for(staff).delete(f"/api/v1/cells/{cell.pk}/").status_code == 204
        else:
            assert admin_site.post(f"/admin/cells/cell/{cell.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Cell.objects.filter(pk=cell.pk).exists() and not DataFile.objects.filter(pk=datafile.pk).exists()
    assert not any(default_storage.exists(n) for n in names)
    event = AuditEvent.objects.get(action="delete", object_type="cells.cell")
    assert event.user == staff and event.detail["changes"]["name"] == ["GOING", None]
