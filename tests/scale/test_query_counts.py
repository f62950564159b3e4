"""Lists that stay flat as the lab grows: query counts pinned at 5 and 25 cells, and the board API paged."""
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cycling.models import CycleSummary
from monitoring import rules
from tests.conftest import client_for
from tests.factories import CellFactory, GroupFactory
from tests.monitoring.test_api import alert_for, board_row

pytestmark = pytest.mark.django_db


def grow(project, groups, start, n, n_cycles=6):
    """n more cells spread over the groups, each with a board row, cycles and two alerts (one closed)."""
    for i in range(start, start + n):
        cell = CellFactory(project=project, group=groups[i % len(groups)], name=f"S-{i:03d}")
        row = board_row(cell)
        CycleSummary.objects.bulk_create([
            CycleSummary(datafile=row.datafile, cell=cell, cycle=c, file_cycle=c, discharge_mah_g=150.0 - c,
                         charge_mah_g=152.0 - c, ce_percent=98.7, segment="formation" if c <= 2 else "long-term")
            for c in range(1, n_cycles + 1)])
        alert_for(cell)
        closed = alert_for(cell, kind=rules.LOW_CE)
        closed.closed_at = closed.opened_at
        closed.save(update_fields=["closed_at"])


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return len(ctx.captured_queries)


URLS = ["/api/v1/board/", "/api/v1/board/?ordering=retention_percent", "/api/v1/cells/?search=S-0",
        "/api/v1/alerts/", "/?sort=-retention", "/?group=NAME", "/"]


@pytest.mark.parametrize("who", ["researcher", "lab_admin"])
def test_it_answers_the_lists_in_the_same_number_of_queries_at_5_and_25_cells(who, project, request):
    user = request.getfixturevalue(who)
    groups = [GroupFactory(project=project, name=f"G{g}") for g in range(3)]
    api = client_for(user)
    page = Client()
    page.force_login(user)
    urls = [u.replace("NAME", groups[0].name) for u in URLS]

    def counts():
        # Counted on a second call: the first one of a session also loads the user's permissions once.
        for u in urls:
            queries(page if u.startswith("/?") or u == "/" else api, u)
        return {u: queries(page if u.startswith("/?") or u == "/" else api, u) for u in urls}

    grow(project, groups, 0, 5)
    at_5 = counts()
    grow(project, groups, 5, 20)
    at_25 = counts()
    assert at_25 == at_5
    assert at_5["/api/v1/board/"] <= 6


def test_it_pages_the_board_with_links_and_a_total(api, project):
    groups = [GroupFactory(project=project, name="G0")]
    grow(project, groups, 0, 7, n_cycles=3)
    first = api.get("/api/v1/board/?limit=3&ordering=cell__name")
    assert [r["cell_name"] for r in first.json()] == ["S-000", "S-001", "S-002"]
    assert first["X-Total-Count"] == "7"
    assert first["Link"] == '<http://testserver/api/v1/board/?limit=3&offset=3&ordering=cell__name>; rel="next"'
    last = api.get("/api/v1/board/?limit=3&offset=6&ordering=cell__name")
    assert [r["cell_name"] for r in last.json()] == ["S-006"]
    assert last["Link"] == '<http://testserver/api/v1/board/?limit=3&offset=3&ordering=cell__name>; rel="prev"'
    assert api.get("/api/v1/board/?limit=0").status_code == 400
    assert api.get("/api/v1/board/?offset=-1").status_code == 400


def test_it_sends_100_board_rows_per_page_by_default(api, project, settings):
    from monitoring.api.views import BOARD_PAGE_SIZE

    assert BOARD_PAGE_SIZE == 100
    groups = [GroupFactory(project=project, name="G0")]
    grow(project, groups, 0, 4, n_cycles=3)
    resp = api.get("/api/v1/board/")
    assert len(resp.json()) == 4 and resp["X-Total-Count"] == "4" and "Link" not in resp


EFFECTS = ["outcome=retention_percent&factor=stack_pressure_mpa", "outcome=initial_ce_percent&factor=coating",
           "outcome=retention_at_cycle_percent&cycle=4&factor=stack_pressure_mpa"]


def test_the_effects_read_stored_figures_in_the_same_number_of_queries_at_5_and_25_cells(researcher, project):
    from cells.services import cell_data_changed

    groups = [GroupFactory(project=project, name=f"G{g}") for g in range(3)]
    api = client_for(researcher)

    def answers():
        urls = [f"/api/v1/effects/?{q}&project={project.pk}" for q in EFFECTS]
        for u in urls:  # the first call stores the new cells' figures; the second only reads them
            queries(api, u)
        return {u: queries(api, u) for u in urls}, [api.get(u).json() for u in urls]

    def grow_imported(start, n):
        grow(project, groups, start, n)
        for cell_id in project.cells.filter(data_version=0).values_list("pk", flat=True):
            cell_data_changed(cell_id=cell_id)  # as an ingest does

    grow_imported(0, 5)
    at_5, _ = answers()
    grow_imported(5, 20)
    at_25, bodies = answers()
    assert at_25 == at_5
    assert max(at_5.values()) <= 14
    # Every cell's outcome was read (cycles 1-6 deliver 149 -> 144 mAh/g; retention is against cycle 3, 147).
    retention, ice, at_4 = bodies
    assert retention["n"] == ice["n"] == at_4["n"] == 25
    assert {round(p["value"], 3) for p in retention["points"]} == {round(144 / 147 * 100, 3)}
    assert {round(p["value"], 3) for p in at_4["points"]} == {round(146 / 147 * 100, 3)}
    assert {p["value"] for p in ice["points"]} == {98.7}
