"""The lab-wide catalogue (materials, coatings): read by everyone, changed only by lab admins and catalogue
curators, and a change to a number that enters the analysis recomputes every cell that uses it, audited."""
import pytest
from django.test import Client

from cells.models import AuditEvent, Material
from cells.roles import CATALOGUE_CURATOR, RESEARCHER
from cycling import services
from cycling.models import CycleSummary, DataFile
from tests.conftest import client_for
from tests.factories import CellFactory, CoatingFactory, MaterialFactory, UserFactory
from tests.helpers import ingest
from tests.landfiles import study_export

pytestmark = pytest.mark.django_db

REFUSAL = "lab-wide catalogue"


@pytest.fixture
def nmc(db):
    return MaterialFactory(name="SC-NMC532", theoretical_capacity_mah_g=160.0)


@pytest.fixture
def curator(db):
    return UserFactory(username="curator", roles=[CATALOGUE_CURATOR])


@pytest.mark.parametrize("who", ["researcher", "outsider", "homeless"])
def test_it_refuses_a_researchers_patch_of_a_material_with_a_clear_message(request, nmc, who):
    user = (UserFactory(username="homeless", roles=[RESEARCHER]) if who == "homeless"
            else request.getfixturevalue(who))
    api = client_for(user)
    resp = api.patch(f"/api/v1/materials/{nmc.pk}/", {"theoretical_capacity_mah_g": 999, "name": "pwned"},
                     format="json")
    assert resp.status_code == 403
    assert REFUSAL in resp.json()["detail"] and "curator" in resp.json()["detail"]
    nmc.refresh_from_db()
    assert (nmc.name, nmc.theoretical_capacity_mah_g) == ("SC-NMC532", 160.0)


def test_it_refuses_a_researchers_put_and_delete_of_catalogue_records(api, nmc):
    coating = CoatingFactory()
    body = {"name": "x", "kind": "cathode_active", "theoretical_capacity_mah_g": 1}
    assert api.put(f"/api/v1/materials/{nmc.pk}/", body, format="json").status_code == 403
    assert api.delete(f"/api/v1/materials/{nmc.pk}/").status_code == 403
    assert api.patch(f"/api/v1/coatings/{coating.pk}/", {"thickness_nm": 99}, format="json").status_code == 403
    assert api.delete(f"/api/v1/coatings/{coating.pk}/").status_code == 403
    assert Material.objects.filter(pk=nmc.pk).exists()
    coating.refresh_from_db()
    assert coating.thickness_nm == 10.0


def test_it_lets_everyone_read_the_catalogue(viewer, outsider, nmc):
    for user in (viewer, outsider):
        names = {m["name"] for m in client_for(user).get("/api/v1/materials/").json()["results"]}
        assert "SC-NMC532" in names


def test_it_lets_a_researcher_propose_a_new_entry_but_not_change_it_afterwards(api):
    resp = api.post("/api/v1/materials/", {"name": "NCM811", "kind": "cathode_active",
                                           "theoretical_capacity_mah_g": 200}, format="json")
    assert resp.status_code == 201
    assert api.patch(f"/api/v1/materials/{resp.json()['id']}/", {"theoretical_capacity_mah_g": 210},
                     format="json").status_code == 403


def test_it_lets_a_curator_change_a_material_and_audits_old_and_new_values(curator, nmc):
    resp = client_for(curator).patch(f"/api/v1/materials/{nmc.pk}/", {"supplier": "Umicore", "notes": "lot 7"},
                                     format="json")
    assert resp.status_code == 200, resp.content
    event = AuditEvent.objects.filter(object_type="cells.material", object_id=str(nmc.pk), action="update").get()
    assert event.user == curator
    assert event.detail["changes"] == {"supplier": ["", "Umicore"], "notes": ["", "lot 7"]}


@pytest.fixture
def falling_back(project, nmc):
    """Two cells using the material's capacity (none of their own) and one with its own value, data imported."""
    export = study_export("coated", n_cycles=6)[0]
    cells = [CellFactory(project=project, name=f"FB-{k}", cathode_material=nmc, theoretical_capacity_mah_g=None)
             for k in (1, 2)]
    own = CellFactory(project=project, name="OWN-1", cathode_material=nmc, theoretical_capacity_mah_g=160.0)
    for c in (*cells, own):
        assert ingest(c, export, f"{c.name}.xlsx").status == DataFile.Status.IMPORTED
    return cells, own


def _labels(cell) -> list[str]:
    return list(CycleSummary.objects.filter(cell=cell).order_by("cycle").values_list("c_rate_label", flat=True))


def test_it_recomputes_every_cell_using_a_material_when_a_lab_admin_changes_its_capacity(
        lab_admin, falling_back, nmc, django_capture_on_commit_callbacks):
    cells, own = falling_back
    before = {c.pk: _labels(c) for c in (*cells, own)}
    one_c_before = cells[0].one_c_current_ma
    with django_capture_on_commit_callbacks():  # the ingest tasks are run below, here, not by a broker
        resp = client_for(lab_admin).patch(f"/api/v1/materials/{nmc.pk}/", {"theoretical_capacity_mah_g": 320},
                                           format="json")
    assert resp.status_code == 200, resp.content
    # The cells that fall back to the material are queued again; the one with its own value is untouched.
    for c in cells:
        assert set(DataFile.objects.filter(cell=c).values_list("status", flat=True)) == {DataFile.Status.PENDING}
    assert set(DataFile.objects.filter(cell=own).values_list("status", flat=True)) == {DataFile.Status.IMPORTED}
    for f in DataFile.objects.filter(status=DataFile.Status.PENDING):
        services.datafile_ingest(datafile_id=f.pk)
    for c in cells:
        c.refresh_from_db()
        assert c.one_c_current_ma == pytest.approx(2 * one_c_before)
        after = _labels(c)
        # Twice the capacity: every C-rate halves (C/10 -> C/20, C/3 -> C/5 or C/6 ...), so no label stays.
        assert after != before[c.pk] and all(a != b for a, b in zip(after, before[c.pk], strict=True) if b)
    assert _labels(own) == before[own.pk]
    event = AuditEvent.objects.get(object_type="cells.material", object_id=str(nmc.pk), action="update")
    assert event.user == lab_admin
    assert event.detail["changes"] == {"theoretical_capacity_mah_g": [160.0, 320.0]}
    assert sorted(event.detail["recomputed_cells"]) == sorted(c.pk for c in cells)
    per_cell = AuditEvent.objects.filter(action="catalogue.recompute", object_type="cells.cell")
    assert sorted(int(e.object_id) for e in per_cell) == sorted(c.pk for c in cells)


def test_it_says_on_the_cell_page_that_a_catalogue_change_recomputed_it(lab_admin, researcher, falling_back, nmc,
                                                                         django_capture_on_commit_callbacks):
    cells, own = falling_back
    with django_capture_on_commit_callbacks():
        client_for(lab_admin).patch(f"/api/v1/materials/{nmc.pk}/", {"theoretical_capacity_mah_g": 200},
                                    format="json")
    web = Client()
    web.force_login(researcher)
    page = web.get(f"/cells/{cells[0].pk}/").content.decode()
    assert 'id="catalogue-recompute"' in page
    assert "SC-NMC532" in page and "theoretical capacity" in page and "160 → 200" in page
    assert 'id="catalogue-recompute"' not in web.get(f"/cells/{own.pk}/").content.decode()


def test_it_recomputes_cells_whose_window_is_vs_li_when_the_anodes_potential_changes(
        lab_admin, project, django_capture_on_commit_callbacks):
    inli = MaterialFactory(name="In-Li", kind=Material.Kind.ANODE, theoretical_capacity_mah_g=None,
                           potential_vs_li_v=0.62)
    cell = CellFactory(project=project, anode=inli)
    ingest(cell, study_export("coated", n_cycles=3)[0], "a.xlsx")
    assert cell.cell_voltage_window_v == pytest.approx((1.88, 3.78))
    with django_capture_on_commit_callbacks():
        assert client_for(lab_admin).patch(f"/api/v1/materials/{inli.pk}/", {"potential_vs_li_v": 0.6},
                                           format="json").status_code == 200
    assert DataFile.objects.get(cell=cell).status == DataFile.Status.PENDING
    cell.refresh_from_db()
    assert cell.cell_voltage_window_v == pytest.approx((1.9, 3.8))


def test_it_sends_an_admin_edit_of_a_material_through_the_same_service(lab_admin, falling_back, nmc,
                                                                       django_capture_on_commit_callbacks):
    cells, _own = falling_back
    web = Client()
    web.force_login(lab_admin)
    form = {"name": nmc.name, "kind": nmc.kind, "formula": "", "supplier": "", "theoretical_capacity_mah_g": "180",
            "potential_vs_li_v": "", "notes": ""}
    with django_capture_on_commit_callbacks():
        resp = web.post(f"/admin/cells/material/{nmc.pk}/change/", form)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    event = AuditEvent.objects.get(object_type="cells.material", object_id=str(nmc.pk), action="update")
    assert event.detail["changes"] == {"theoretical_capacity_mah_g": [160.0, 180.0]}
    assert set(DataFile.objects.filter(cell__in=cells).values_list("status", flat=True)) == {DataFile.Status.PENDING}


def test_it_keeps_researchers_out_of_the_catalogue_in_the_admin(researcher, nmc):
    researcher.is_staff = True
    researcher.save()
    web = Client()
    web.force_login(researcher)
    resp = web.post(f"/admin/cells/material/{nmc.pk}/change/", {"name": "pwned", "kind": nmc.kind})
    assert resp.status_code == 403
    nmc.refresh_from_db()
    assert nmc.name == "SC-NMC532"
