"""Registering a cell in the browser: researchers (not only staff), the live derived values, replicates."""
import pytest
from django.test import Client

from cells.demo import COATED, load_study_registry
from cells.models import AuditEvent, Cell
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def web(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def study(project):
    return {c.name: c for c in load_study_registry()}


def sheet(study, **changes):
    lnto = study["LNTO-01"]
    data = {
        "name": "LNTO-04", "project": lnto.project_id, "group": lnto.group_id, "replicate_number": 4,
        "cathode_material": lnto.cathode_material_id, "coating": lnto.coating_id, "catholyte": lnto.catholyte_id,
        "cathode_active_fraction": "0.70", "active_loading_mg_cm2": "8.4", "composite_loading_mg_cm2": "",
        "electrolyte": lnto.electrolyte_id, "anode": lnto.anode_id, "area_cm2": "0.785", "die_diameter_mm": "10",
        "theoretical_capacity_mah_g": "160", "voltage_reference": "Li+/Li", "test_electrode": "cathode",
        "first_half": "charge", "stack_pressure_mpa": "50",
        "pressing-TOTAL_FORMS": "3", "pressing-INITIAL_FORMS": "0", "pressing-MIN_NUM_FORMS": "0",
        "pressing-MAX_NUM_FORMS": "8",
        "pressing-0-layer": "separator", "pressing-0-force_t": "1", "pressing-0-die_diameter_mm": "10",
        "pressing-1-layer": "cathode", "pressing-1-force_t": "3.5", "pressing-1-die_diameter_mm": "10",
        "pressing-2-layer": "", "pressing-2-force_t": "", "pressing-2-die_diameter_mm": "",
    }
    data.update(changes)
    return data


def test_it_lets_a_researcher_register_a_cell_from_its_active_loading(researcher, study):
    resp = web(researcher).post("/cells/new/", sheet(study))
    cell = Cell.objects.get(name="LNTO-04")
    assert resp.status_code == 302 and resp["Location"] == f"/cells/{cell.pk}/"
    assert cell.composite_loading_mg_cm2 == pytest.approx(12.0)
    assert cell.active_mass_mg == pytest.approx(6.594)
    assert [(s.order, s.layer, s.pressure_mpa) for s in cell.pressing_steps.all()] == [
        (1, "separator", pytest.approx(124.9, abs=0.1)), (2, "cathode", pytest.approx(437.0, abs=0.5))]
    event = AuditEvent.objects.get(action="create", object_id=str(cell.pk))
    assert event.user == researcher and event.object_type == "cells.cell"


def test_it_refuses_an_active_loading_above_the_composite_and_saves_nothing(researcher, study):
    resp = web(researcher).post("/cells/new/", sheet(study, active_loading_mg_cm2="14", composite_loading_mg_cm2="12"))
    assert resp.status_code == 200
    assert "cannot exceed the composite loading" in resp.content.decode()
    assert not Cell.objects.filter(name="LNTO-04").exists()


def test_it_asks_for_one_of_the_two_loadings(researcher, study):
    resp = web(researcher).post("/cells/new/", sheet(study, active_loading_mg_cm2=""))
    assert "Enter the active material loading or the composite loading." in resp.content.decode()


def test_it_tells_a_viewer_which_permission_registering_needs(viewer, study):
    resp = web(viewer).get("/cells/new/")
    body = resp.content.decode()
    assert resp.status_code == 403
    assert "cells.add_cell" in body and "the researcher or lab-admin roles grant it" in body
    assert web(viewer).post("/cells/new/", sheet(study)).status_code == 403
    assert not Cell.objects.filter(name="LNTO-04").exists()


def test_it_offers_only_the_researchers_projects(outsider, study):
    resp = web(outsider).post("/cells/new/", sheet(study))
    assert resp.status_code == 200
    assert "Select a valid choice" in resp.content.decode()
    assert not Cell.objects.filter(name="LNTO-04").exists()


def test_it_computes_the_derived_values_live_with_cells_derived(researcher, study):
    query = {k: v for k, v in sheet(study).items() if not k.startswith("pressing-2")}
    data = web(researcher).get("/cells/new/derive/", {**query, "theoretical_capacity_mah_g": ""}).json()
    assert data["theoretical_mah_g"] == 160.0  # the active material's default
    assert data["active_mass_mg"] == pytest.approx(6.594)
    assert data["areal_capacity_mah_cm2"] == pytest.approx(1.344)
    assert data["one_c_current_ma"] == pytest.approx(1.05504)
    assert data["pressing_pressures_mpa"][1] == pytest.approx(437.0, abs=0.5)
    assert data["stack_pressure_mpa"] == 50.0
    assert data["next_replicate_number"] == 4  # LNTO-01..03 exist in the group


def test_it_prefills_the_next_replicate_like_this_one(researcher, study):
    lnto3 = study["LNTO-03"]
    resp = web(researcher).get(f"/cells/new/?like={lnto3.pk}")
    form = resp.context["form"]
    assert form.initial["name"] == "LNTO-04" and form.initial["replicate_number"] == 4
    assert form.initial["composite_loading_mg_cm2"] == 12.2 and form.initial["group"] == lnto3.group_id
    assert [f.initial.get("force_t") for f in resp.context["pressings"].forms] == [1.0, 3.5, 0.5]
    resp = web(researcher).post(f"/cells/new/?like={lnto3.pk}", sheet(study))
    cell = Cell.objects.get(name="LNTO-04")
    assert AuditEvent.objects.get(object_id=str(cell.pk), action="create").detail == {"source_cell": lnto3.pk}
    assert cell.group.name == COATED


def test_it_hides_other_projects_cells_from_like_this_one(outsider, study):
    assert web(outsider).get(f"/cells/new/?like={study['LNTO-01'].pk}").status_code == 404


def test_it_shows_the_register_buttons_to_researchers_only(researcher, viewer, study):
    lnto = study["LNTO-01"]
    assert 'id="register-like"' in web(researcher).get(f"/cells/{lnto.pk}/").content.decode()
    assert 'id="register-like"' not in web(viewer).get(f"/cells/{lnto.pk}/").content.decode()
    assert 'id="register-cell"' in web(researcher).get("/").content.decode()


def test_it_labels_the_loading_column_as_the_active_loading(viewer, study):
    body = web(viewer).get("/").content.decode()
    assert "Active loading (mg/cm²)" in body and ">8.40</td>" in body


def test_a_member_without_a_role_cannot_register(project, study):
    member = UserFactory(username="norole")
    project.members.add(member)
    assert web(member).get("/cells/new/").status_code == 403


def test_it_records_the_cycler_channel_and_a_replicate_does_not_inherit_it(researcher, study):
    resp = web(researcher).post("/cells/new/", sheet(study, cycler_channel="1-053"))
    cell = Cell.objects.get(name="LNTO-04")
    assert resp.status_code == 302 and cell.cycler_channel == "1-053"
    assert 'id="cycler-channel">1-053<' in web(researcher).get(f"/cells/{cell.pk}/").content.decode()
    form = web(researcher).get(f"/cells/new/?like={cell.pk}").context["form"]
    assert "cycler_channel" not in form.initial  # a replicate runs on a channel of its own
