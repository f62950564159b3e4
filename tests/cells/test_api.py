"""Registry REST API: CRUD, derived values, roles, project scoping and device tokens."""
import pytest
from rest_framework.test import APIClient

from cells.models import AuditEvent, Cell
from tests.conftest import client_for
from tests.factories import CellFactory, GroupFactory, MaterialFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def _payload(project, group, **overrides):
    nmc = MaterialFactory()
    lgps = MaterialFactory(name="LGPS", kind="solid_electrolyte", theoretical_capacity_mah_g=None)
    inli = MaterialFactory(name="In-Li", kind="anode", theoretical_capacity_mah_g=None, potential_vs_li_v=0.62)
    return {
        "name": "LNTO-07", "project": project.pk, "group": group.pk, "replicate_number": 1,
        "cathode_material": nmc.pk, "electrolyte": lgps.pk, "anode": inli.pk,
        "cathode_active_fraction": 0.7, "composite_loading_mg_cm2": 12.0, "die_diameter_mm": 10.0,
        "theoretical_capacity_mah_g": 160.0, "voltage_min_v": 2.5, "voltage_max_v": 4.4,
        "pressing_steps": [
            {"order": 1, "layer": "separator", "force_t": 1.0, "die_diameter_mm": 10.0},
            {"order": 2, "layer": "cathode", "force_t": 3.5, "die_diameter_mm": 10.0},
        ],
        **overrides,
    }


def test_it_answers_anonymous_calls_with_401():
    resp = APIClient().get("/api/v1/cells/")
    assert resp.status_code == 401
    assert resp["WWW-Authenticate"].startswith("Token")


def test_it_lets_a_researcher_register_a_cell_and_returns_derived_values(api, project):
    group = GroupFactory(project=project, name="LNTO-coated")
    resp = api.post("/api/v1/cells/", _payload(project, group), format="json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["derived"]["areal_capacity_mah_cm2"] == pytest.approx(1.344)
    assert body["derived"]["active_mass_mg"] == pytest.approx(6.597, rel=1e-3)
    assert [s["pressure_mpa"] for s in body["pressing_steps"]] == pytest.approx([124.9, 437.1], abs=0.1)
    assert AuditEvent.objects.filter(action="create", object_id=str(body["id"])).exists()


def test_it_refuses_an_impossible_build_with_the_field_and_reason(api, project):
    group = GroupFactory(project=project)
    resp = api.post("/api/v1/cells/", _payload(project, group, voltage_max_v=1.0), format="json")
    assert resp.status_code == 400
    assert "above the lower one" in resp.json()["voltage_max_v"][0]


def test_it_lets_viewers_read_but_not_write(viewer, cell):
    client = client_for(viewer)
    assert client.get(f"/api/v1/cells/{cell.pk}/").status_code == 200
    assert client.patch(f"/api/v1/cells/{cell.pk}/", {"notes": "x"}, format="json").status_code == 403


def test_it_lets_researchers_edit_but_not_delete_cells(api, cell):
    assert api.patch(f"/api/v1/cells/{cell.pk}/", {"notes": "re-weighed"}, format="json").status_code == 200
    assert api.delete(f"/api/v1/cells/{cell.pk}/").status_code == 403
    assert Cell.objects.filter(pk=cell.pk).exists()


def test_it_lets_lab_admins_delete(lab_admin, cell):
    assert client_for(lab_admin).delete(f"/api/v1/cells/{cell.pk}/").status_code == 204


def test_it_hides_cells_of_projects_the_user_is_not_in(outsider, cell):
    client = client_for(outsider)
    assert client.get("/api/v1/cells/").json()["count"] == 0
    assert client.get(f"/api/v1/cells/{cell.pk}/").status_code == 404


def test_it_refuses_registering_a_cell_in_a_foreign_project(outsider, project):
    group = GroupFactory(project=project)
    resp = client_for(outsider).post("/api/v1/cells/", _payload(project, group), format="json")
    assert resp.status_code == 400
    assert "not a member" in str(resp.json())


def test_it_gives_a_logged_in_user_without_a_role_nothing(project, cell):
    from tests.factories import UserFactory

    user = UserFactory(username="norole")
    project.members.add(user)
    assert client_for(user).get("/api/v1/cells/").status_code == 403


def test_it_filters_cells_by_group_name_and_coating(api, project):
    coated = GroupFactory(project=project, name="LNTO-coated")
    bare = GroupFactory(project=project, name="bare")
    from tests.factories import CoatingFactory

    CellFactory(project=project, group=coated, name="C1", coating=CoatingFactory())
    CellFactory(project=project, group=bare, name="B1")
    names = lambda q: sorted(c["name"] for c in api.get(f"/api/v1/cells/?{q}").json()["results"])  # noqa: E731
    assert names("group=bare") == ["B1"]
    assert names("coated=true") == ["C1"]
    assert names("q=C1") == ["C1"]


def test_it_duplicates_a_build_as_the_next_replicate(api, cell):
    cell.pressing_steps.create(order=1, layer="cathode", force_t=3.5, die_diameter_mm=10)
    resp = api.post(f"/api/v1/cells/{cell.pk}/duplicate/", {"name": "LNTO-02"}, format="json")
    assert resp.status_code == 201
    body = resp.json()
    assert body["replicate_number"] == 2 and len(body["pressing_steps"]) == 1


def test_it_refuses_device_tokens_on_the_registry(device_api, cell):
    assert device_api.get("/api/v1/cells/").status_code == 403


def test_it_refuses_an_unknown_token_with_401(project):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/cells/").status_code == 401


def test_it_serves_groups_and_materials_to_members(api, project, cell):
    assert api.get("/api/v1/groups/").json()["count"] == 1
    assert {m["name"] for m in api.get("/api/v1/materials/").json()["results"]} >= {"SC-NMC532", "LGPS", "In-Li"}
    other = ProjectFactory(name="hidden")
    GroupFactory(project=other, name="x")
    assert api.get("/api/v1/groups/").json()["count"] == 1


def test_the_cycler_channel_is_edited_through_the_api_and_audited(api, cell):
    from cells.models import AuditEvent

    resp = api.patch(f"/api/v1/cells/{cell.pk}/", {"cycler_channel": "1-053"}, format="json")
    assert resp.status_code == 200 and resp.json()["cycler_channel"] == "1-053"
    event = AuditEvent.objects.filter(action="update", object_id=str(cell.pk)).latest("at")
    assert event.detail["changes"] == {"cycler_channel": ["", "1-053"]}
