"""The API refuses query parameters it does not understand, on every list endpoint; /api/v1/ lists them all."""
import pytest
from django.urls import reverse

from assb_lab.api_root import EXTRA_COLLECTIONS, registry
from tests.conftest import client_for
from tests.factories import CellFactory

pytestmark = pytest.mark.django_db

LIST_URLS = [f"/api/v1/{prefix}/" for prefix, _viewset, _basename in registry()] + [
    reverse(name) for name in EXTRA_COLLECTIONS.values()]


def test_it_covers_every_collection_of_the_routers():
    assert {"/api/v1/cells/", "/api/v1/datafiles/", "/api/v1/eis/spectra/", "/api/v1/alerts/",
            "/api/v1/board/", "/api/v1/electrolyte-batches/"} <= set(LIST_URLS)
    assert len(LIST_URLS) == len(set(LIST_URLS)) >= 12


@pytest.mark.parametrize("url", LIST_URLS)
def test_it_answers_400_naming_an_unknown_parameter_on_every_list(url, lab_admin):
    resp = client_for(lab_admin).get(url, {"nmae": "x"})
    assert resp.status_code == 400, url
    body = resp.json()
    assert body["unknown"] == ["nmae"]
    assert body["detail"].startswith("Unknown query parameter: nmae. This list accepts: ")
    assert "format" in body["accepted"]
    # what it names as accepted, it accepts
    assert client_for(lab_admin).get(url, {"format": "json"}).status_code == 200, url


def test_it_refuses_name_on_the_cell_list_and_points_at_q(researcher, project):
    CellFactory(project=project, name="LNTO-04")
    CellFactory(project=project, name="BARE-01")
    api = client_for(researcher)
    resp = api.get("/api/v1/cells/?name=LNTO-04")
    assert resp.status_code == 400
    assert resp.json()["unknown"] == ["name"]
    assert {"q", "group", "project", "coated", "search", "ordering", "limit", "offset"} <= set(resp.json()["accepted"])
    found = api.get("/api/v1/cells/?q=LNTO-04&limit=10").json()
    assert [c["name"] for c in found["results"]] == ["LNTO-04"]


def test_it_names_all_unknown_parameters_at_once(researcher):
    resp = client_for(researcher).get("/api/v1/datafiles/?celll=3&stauts=failed&status=failed")
    assert resp.status_code == 400
    assert resp.json()["detail"].startswith("Unknown query parameters: celll, stauts. ")


def test_it_accepts_the_range_filters_by_their_suffixed_names(researcher):
    assert client_for(researcher).get("/api/v1/eis/spectra/?after_cycle_min=1&after_cycle_max=9").status_code == 200


def test_it_leaves_a_single_object_alone(researcher, project):
    cell = CellFactory(project=project, name="LNTO-05")
    assert client_for(researcher).get(f"/api/v1/cells/{cell.pk}/?expand=1").status_code == 200


def test_the_api_root_lists_every_collection(researcher):
    root = client_for(researcher).get("/api/v1/").json()
    for prefix, _viewset, _basename in registry():
        assert root[prefix].endswith(f"/api/v1/{prefix}/")
    assert root["board"].endswith("/api/v1/board/")
