"""Web pages: login, scoping, the cell list's figures/filters/sort/export, the cell page, compare page, exports."""
import csv
import io

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cycling.models import DataFile
from tests.factories import CellFactory
from tests.web.conftest import web_client

pytestmark = pytest.mark.django_db


def _rows(resp):
    """Cell names of the list page's table body, in order."""
    import re

    body = resp.content.decode().split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r'<td><a href="/cells/\d+/">([^<]+)</a></td>', body)


def _failed_file(cell, error="file 'broken.xlsx', sheet 'Record': this is not a LAND export (no Record sheet)."):
    return DataFile.objects.create(cell=cell, file="datafiles/broken.bin", original_name="broken.xlsx", size_bytes=10,
                                   sha256="f" * 64, status=DataFile.Status.FAILED, error=error, progress_percent=100)


def _csv(resp):
    return list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))


@pytest.mark.parametrize("url", ["/", "/cells/1/", "/compare/", "/compare/export/?groups=1", "/cells/1/cycles/export/"])
def test_it_sends_anonymous_visitors_to_the_login_page(client, url):
    resp = client.get(url)
    assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/")


def test_it_lists_the_visible_cells_with_their_latest_figures(viewer_web, study):
    resp = viewer_web.get("/")
    assert resp.status_code == 200
    assert _rows(resp) == ["BARE-01", "BARE-02", "BARE-03", "LNTO-01", "LNTO-02", "LNTO-03"]
    cell = resp.context["page"].object_list[3]
    assert cell.name == "LNTO-01" and cell.latest_cycle == 12
    assert cell.first_discharge_mah_g == pytest.approx(161.4, abs=0.05)
    # Retention vs the first long-term (C/3) cycle, cycle 3.
    assert 95 < cell.retention_percent < 100
    assert cell.file_status == {"imported": 1}
    assert b"161.4" in resp.content and b"1 imported" in resp.content


def test_it_keeps_the_list_query_count_flat_as_cells_grow(viewer_web, study, project, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as six:
        viewer_web.get("/")
    group = study["coated"]
    for i in range(20):
        CellFactory(project=project, group=group, name=f"EXTRA-{i:02d}")
    with django_assert_max_num_queries(len(six.captured_queries)):
        resp = viewer_web.get("/")
    assert len(_rows(resp)) == 26


@pytest.mark.parametrize("query, expected", [
    ("q=BARE-02", ["BARE-02"]),
    ("coated=false", ["BARE-01", "BARE-02", "BARE-03"]),
    ("coating_material=LNTO", ["LNTO-01", "LNTO-02", "LNTO-03"]),
    ("cathode_material=SC-NMC532&built_after=2021-03-02&built_before=2021-03-02", ["BARE-02", "LNTO-02"]),
    ("has_eis=yes", []),
    ("sort=-first_discharge", ["LNTO-02", "LNTO-01", "LNTO-03", "BARE-02", "BARE-01", "BARE-03"]),
    ("sort=retention&coated=true", None),
])
def test_it_filters_and_sorts_the_list(viewer_web, study, query, expected):
    resp = viewer_web.get(f"/?{query}")
    assert resp.status_code == 200
    if expected is not None:
        assert _rows(resp) == expected
    else:
        values = [c.retention_percent for c in resp.context["page"].object_list]
        assert values == sorted(values)


def test_it_filters_by_group(viewer_web, study):
    # The has-EIS filter (imported spectra) is tested in test_pages_links.py.
    assert _rows(viewer_web.get(f"/?group={study['bare'].pk}")) == ["BARE-01", "BARE-02", "BARE-03"]
    assert b"No cell matches these filters" in viewer_web.get("/?q=nothing-like-this").content


def test_it_exports_the_cell_list_as_csv_and_xlsx(viewer_web, study):
    rows = _csv(viewer_web.get("/?format=csv&coated=true"))
    assert [r["Cell"] for r in rows] == ["LNTO-01", "LNTO-02", "LNTO-03"]
    assert float(rows[0]["1st discharge (mAh/g)"]) == pytest.approx(161.4, abs=0.05)
    assert rows[0]["Composite loading (mg/cm²)"] == "12.0" and rows[0]["Data files"] == "1 imported"
    resp = viewer_web.get("/?format=xlsx")
    assert resp["Content-Disposition"] == 'attachment; filename="cells.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    assert sheet.cell(1, 10).value == "1st discharge (mAh/g)" and sheet.max_row == 7
    assert viewer_web.get("/?format=pdf").status_code == 400


def test_it_shows_an_outsider_no_cells_and_404s_their_pages(outsider_web, study):
    cell = study["cells"][0]
    assert _rows(outsider_web.get("/")) == []
    assert outsider_web.get(f"/cells/{cell.pk}/").status_code == 404
    assert outsider_web.get(f"/cells/{cell.pk}/cycles/export/?format=csv").status_code == 404
    rows = _csv(outsider_web.get(f"/compare/export/?groups={study['coated'].pk}&table=cells&format=csv"))
    assert rows == []


def test_it_shows_a_cell_page_with_files_and_plots_to_a_viewer_without_upload(viewer_web, study):
    cell = study["cells"][0]
    resp = viewer_web.get(f"/cells/{cell.pk}/")
    html = resp.content.decode()
    assert resp.status_code == 200 and cell.name in html
    assert "8.400 mg/cm²" in html and "1.344 mAh/cm²" in html  # derived values of the build sheet
    assert f"{cell.name}.xlsx" in html and 'class="badge imported"' in html
    assert 'id="plot-cycles"' in html and "vendor/plotly.min.js" in html and "js/cell.js" in html
    assert 'id="upload-form"' not in html
    # The headline decay (vs cycle 1) and the windowed table (vs the reference cycle 3) say their references.
    assert "Decay (vs cycle 1)" in html and "against reference cycle 3. The references differ" in html
    assert "— MPa" not in html and "first file" in html  # words, not raw codes


def test_it_offers_the_upload_form_to_a_researcher(researcher_web, study):
    html = researcher_web.get(f"/cells/{study['cells'][0].pk}/").content.decode()
    assert 'id="upload-form"' in html and 'name="csrfmiddlewaretoken"' in html and 'action="/api/v1/datafiles/"' in html


def test_it_shows_the_empty_state_and_a_failed_files_reason(viewer_web, project):
    cell = CellFactory(project=project, name="EMPTY-01")
    html = viewer_web.get(f"/cells/{cell.pk}/").content.decode()
    assert "No data files yet." in html and "No imported cycling data yet" in html
    _failed_file(cell)
    html = viewer_web.get(f"/cells/{cell.pk}/").content.decode()
    assert 'class="badge failed"' in html and "this is not a LAND export (no Record sheet)" in html
    # The row names the file: its error below says where in it, without naming it again.
    assert ('<div class="file-error error">sheet &#x27;Record&#x27;: this is not a LAND export (no Record sheet).'
            '</div>') in html
    rows = _csv(viewer_web.get(f"/cells/{cell.pk}/cycles/export/?format=csv"))
    assert rows == []
    listed = viewer_web.get("/").context["page"].object_list
    empty = next(c for c in listed if c.name == "EMPTY-01")
    assert empty.latest_cycle is None and empty.file_status == {"failed": 1}


def test_it_exports_a_cells_cycles(viewer_web, study):
    cell = study["cells"][0]
    rows = _csv(viewer_web.get(f"/cells/{cell.pk}/cycles/export/?format=csv"))
    assert len(rows) == 12 and rows[0]["Cycle (cell)"] == "1" and rows[0]["Cycle in the file"] == "1"
    assert float(rows[0]["Coulombic efficiency (%)"]) == pytest.approx(85.8, abs=0.05)
    assert rows[5]["C-rate label"] == "C/3" and rows[0]["Segment"] == "formation"
    book = openpyxl.load_workbook(io.BytesIO(viewer_web.get(f"/cells/{cell.pk}/cycles/export/?format=xlsx").content))
    header = [c.value for c in book.active[1]]
    column = header.index("Discharge (mAh/g)") + 1
    assert book.sheetnames == ["cycles"] and book.active.cell(2, column).value == pytest.approx(161.4, abs=0.05)


def test_it_shows_the_compare_page_empty_and_with_a_selection(viewer_web, study):
    resp = viewer_web.get("/compare/")
    html = resp.content.decode()
    assert "Choose groups" in html and "LNTO-coated" in html and "plotly.min.js" not in html
    resp = viewer_web.get(f"/compare/?groups={study['coated'].pk}&groups={study['bare'].pk}&reference_cycle=3")
    html = resp.content.decode()
    assert 'id="plot-capacity"' in html and 'id="summary-groups"' in html and "js/compare.js" in html
    assert f'value="{study["coated"].pk}" checked' in html and 'name="reference_cycle" min="1" step="1" value="3"' in html
    assert f"groups={study['coated'].pk},{study['bare'].pk}&amp;reference_cycle=3&amp;table=groups&amp;format=csv" in html


def test_it_exports_the_compare_summaries_with_units(viewer_web, study):
    q = f"groups={study['coated'].pk},{study['bare'].pk}"
    cells = {r["Cell"]: r for r in _csv(viewer_web.get(f"/compare/export/?{q}&table=cells&format=csv"))}
    assert set(cells) == {"LNTO-01", "LNTO-02", "LNTO-03", "BARE-01", "BARE-02", "BARE-03"}
    assert float(cells["LNTO-01"]["ICE (%)"]) == pytest.approx(85.8, abs=0.05)
    assert float(cells["BARE-01"]["ICE (%)"]) == pytest.approx(54.5, abs=0.05)
    assert float(cells["BARE-01"]["1st discharge (mAh/g)"]) == pytest.approx(41.4, abs=0.05)
    assert cells["LNTO-01"]["Decay reference cycle"] == "1" and cells["LNTO-01"]["Retention reference cycle"] == "3"
    groups = _csv(viewer_web.get(f"/compare/export/?{q}&table=groups&format=csv"))
    assert [g["Group"] for g in groups] == ["LNTO-coated", "bare"] and groups[0]["Cells (n)"] == "3"
    assert "ICE (%), mean" in groups[0] and "ICE (%), sd" in groups[0]
    resp = viewer_web.get(f"/compare/export/?{q}&table=groups&format=xlsx&reference_cycle=1")
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    headers = [c.value for c in sheet[1]]
    assert headers[:3] == ["Group", "Cells (n)", "ICE (%), mean"]
    assert sheet.cell(2, headers.index("Retention reference cycle") + 1).value == 1
    assert viewer_web.get(f"/compare/export/?{q}&table=nope").status_code == 404


def test_it_logs_in_through_the_form(client, viewer):
    resp = client.post("/accounts/login/", {"username": "viewer", "password": "pw-for-tests-123"})
    assert resp.status_code == 302 and web_client(None).get("/").status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(("query", "expected"), [
    ("", "1,2,10,100,last"), ("?cycle=180", "1,179,180,last"), ("?cycle=1", "1,last"), ("?cycle=abc", "1,2,10,100,last"),
])
def test_it_opens_a_cell_page_at_the_cycle_an_alert_links_to(viewer_web, study, query, expected):
    cell = study["cells"][0]
    html = viewer_web.get(f"/cells/{cell.pk}/{query}").content.decode()
    assert f'name="cycles" value="{expected}"' in html
    assert f"dqdv/?cycles={expected}&amp;format=csv" in html
    assert ('id="cycle-180"' in html) == (query == "?cycle=180")
