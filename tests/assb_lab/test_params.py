"""One helper checks every numeric query parameter: a bad one is a 400 naming it and its accepted range."""
import pytest
from django.http import QueryDict

from assb_lab.params import BadQueryParameter, query_number

pytestmark = pytest.mark.django_db


def q(text: str) -> QueryDict:
    return QueryDict(text)


def test_it_reads_a_number_in_range_and_the_default_when_absent():
    assert query_number(q("points=120"), "points", kind=int, default=400, min_value=50, max_value=5000) == 120
    assert query_number(q(""), "points", kind=int, default=400, min_value=50, max_value=5000) == 400
    assert query_number(q("points="), "points", kind=int, default=400, min_value=50, max_value=5000) == 400
    assert query_number(q("grid_mv=2.5"), "grid_mv", kind=float, min_value=0.5, max_value=50) == 2.5


@pytest.mark.parametrize("text, message", [
    ("points=abc", "points must be a whole number from 50 to 5000, not 'abc'"),
    ("points=10", "points must be a whole number from 50 to 5000, not '10'"),
    ("points=1e9", "points must be a whole number from 50 to 5000, not '1e9'"),
    ("points=2.5", "points must be a whole number from 50 to 5000, not '2.5'"),
])
def test_it_names_the_parameter_and_its_range_for_a_bad_integer(text, message):
    with pytest.raises(BadQueryParameter) as exc:
        query_number(q(text), "points", kind=int, default=400, min_value=50, max_value=5000)
    assert exc.value.status_code == 400
    assert exc.value.detail == {"points": [message]}


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "x", "0.1"])
def test_it_refuses_non_finite_and_out_of_range_floats(raw):
    with pytest.raises(BadQueryParameter) as exc:
        query_number(q(f"grid_mv={raw}"), "grid_mv", kind=float, min_value=0.5, max_value=50)
    assert exc.value.detail == {"grid_mv": [f"grid_mv must be a number from 0.5 to 50, not {raw!r}"]}


def test_it_says_at_least_when_there_is_no_upper_bound():
    with pytest.raises(BadQueryParameter) as exc:
        query_number(q("cycle_min=-1"), "cycle_min", kind=int, min_value=1)
    assert exc.value.detail == {"cycle_min": ["cycle_min must be a whole number of at least 1, not '-1'"]}


def test_it_answers_400_for_points_abc_on_the_curves_endpoint(api, cell):
    resp = api.get(f"/api/v1/cells/{cell.pk}/curves/?points=abc")
    assert resp.status_code == 400
    assert resp.json() == {"points": ["points must be a whole number from 50 to 5000, not 'abc'"]}
    assert api.get(f"/api/v1/cells/{cell.pk}/curves/?points=20000").status_code == 400
    assert api.get(f"/api/v1/cells/{cell.pk}/curves/?points=100").status_code == 200


@pytest.mark.parametrize("query, name", [
    ("cycle_min=abc", "cycle_min"), ("cycle_max=-3", "cycle_max"),
])
def test_it_answers_400_for_a_bad_cycle_bound(api, cell, query, name):
    resp = api.get(f"/api/v1/cells/{cell.pk}/cycles/?{query}")
    assert resp.status_code == 400
    assert list(resp.json()) == [name] and "whole number of at least 1" in resp.json()[name][0]


@pytest.mark.parametrize("path", ["/api/v1/compare/", "/api/v1/compare/figure/"])
def test_it_answers_400_for_a_bad_reference_cycle(api, cell, path):
    resp = api.get(f"{path}?cells={cell.pk}&reference_cycle=abc")
    assert resp.status_code == 400
    assert "reference_cycle must be a whole number of at least 1, not 'abc'" in resp.json()["reference_cycle"][0]


def test_it_keeps_the_dqdv_parameters_message_with_their_range(api, cell):
    resp = api.get(f"/api/v1/cells/{cell.pk}/dqdv/?window_points=abc")
    assert resp.status_code == 400
    assert resp.json() == {"window_points": ["window_points must be a whole number from 3 to 201, not 'abc'"]}


def test_it_answers_400_for_a_bad_refresh_on_the_board_page(researcher):
    from django.test import Client

    web = Client()
    web.force_login(researcher)
    resp = web.get("/board/?refresh=abc")
    assert resp.status_code == 400
    assert "refresh must be a whole number from 1 to 600, not 'abc'" in resp.content.decode()



@pytest.mark.parametrize("query, message", [
    ("limit=abc", "limit must be a whole number of at least 1, not 'abc'"),
    ("limit=0", "limit must be a whole number of at least 1, not '0'"),
    ("offset=-1", "offset must be a whole number of at least 0, not '-1'"),
])
def test_it_checks_the_pagination_numbers_too(api, cell, query, message):
    resp = api.get(f"/api/v1/cells/?{query}")
    assert resp.status_code == 400
    assert resp.json() == {query.split("=")[0]: [message]}


def test_it_still_pages_with_good_numbers(api, project):
    from tests.factories import CellFactory

    for k in range(3):
        CellFactory(project=project, name=f"P-{k}")
    body = api.get("/api/v1/cells/?limit=2&offset=1").json()
    assert body["count"] == 3 and [c["name"] for c in body["results"]] == ["P-1", "P-2"]


def test_it_answers_400_for_a_bad_reference_cycle_on_the_compare_page(researcher, cell):
    from django.test import Client

    web = Client()
    web.force_login(researcher)
    resp = web.get(f"/compare/?cells={cell.pk}&reference_cycle=x")
    assert resp.status_code == 400
    assert resp.content.decode() == "reference_cycle must be a whole number of at least 1, not 'x'"
