"""Paper figures (SVG/PDF via matplotlib) of the compare and cell plots: labels with units, page colours, access."""
import re

import pytest

from cells.models import AuditEvent
from tests.conftest import client_for
from tests.web.conftest import web_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def both(study):
    return f"groups={study['coated'].pk},{study['bare'].pk}"


def _get(client, url, content_type):
    resp = client.get(url)
    assert resp.status_code == 200, resp.content[:300]
    assert resp["Content-Type"] == content_type
    return resp


def test_it_draws_the_compare_capacity_plot_as_svg_in_the_pages_colours(viewer, study, both):
    resp = _get(client_for(viewer), f"/api/v1/compare/figure/?{both}&metric=discharge_mah_g", "image/svg+xml")
    svg = resp.content.decode()
    assert 'filename="compare-discharge_mah_g.svg"' in resp["Content-Disposition"]
    # Text stays text (editable in a journal's tools); the axis labels carry units.
    assert "Cycle number" in svg and "Discharge capacity (mAh g" in svg
    assert "LNTO-coated (n = 3)" in svg and "bare (n = 3)" in svg
    payload = client_for(viewer).get(f"/api/v1/compare/?{both}").json()
    for group in payload["groups"]:
        assert group["color"].lower() in svg.lower()
    assert "<button" not in svg and "plotly" not in svg.lower()  # no UI chrome


def test_it_draws_ce_and_retention_and_a_pdf(viewer, study, both):
    api = client_for(viewer)
    assert "Coulombic efficiency (%)" in _get(api, f"/api/v1/compare/figure/?{both}&metric=ce_percent",
                                              "image/svg+xml").content.decode()
    assert "Capacity retention (%)" in _get(api, f"/api/v1/compare/figure/?{both}&metric=retention_percent",
                                            "image/svg+xml").content.decode()
    pdf = _get(api, f"/api/v1/compare/figure/?{both}&output=pdf", "application/pdf").content
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000


def test_it_draws_a_cells_profiles_and_capacity(viewer, study):
    cell = next(c for c in study["cells"] if c.name == "LNTO-01")
    api = client_for(viewer)
    svg = _get(api, f"/api/v1/cells/{cell.pk}/figure/?plot=profiles&cycles=1,2,last", "image/svg+xml").content.decode()
    assert "Voltage (V)" in svg and "Capacity (mAh g" in svg
    assert re.findall(r"cycle (\d+)", svg) == ["1", "2", "12"]
    svg = _get(api, f"/api/v1/cells/{cell.pk}/figure/?plot=capacity", "image/svg+xml").content.decode()
    assert "Discharge capacity (mAh g" in svg and "Coulombic efficiency (%)" in svg and "LNTO-01" in svg
    assert AuditEvent.objects.filter(action="export.figure", object_id=str(cell.pk)).count() == 2


def test_it_refuses_bad_choices_and_hidden_cells(viewer, outsider, study, both):
    cell = study["cells"][0]
    api = client_for(viewer)
    resp = api.get(f"/api/v1/compare/figure/?{both}&metric=voltage")
    assert resp.status_code == 400 and "metric must be one of discharge_mah_g" in resp.json()["detail"]
    assert api.get(f"/api/v1/cells/{cell.pk}/figure/?output=png").json()["detail"] == "output must be svg or pdf"
    assert client_for(outsider).get(f"/api/v1/cells/{cell.pk}/figure/").status_code == 404
    resp = client_for(outsider).get(f"/api/v1/compare/figure/?{both}")
    assert resp.status_code == 400 and "choose at least one cell group you may see" in resp.json()["detail"]


def test_it_links_the_figures_and_records_from_the_pages(viewer, study, both):
    web = web_client(viewer)
    cell = study["cells"][0]
    page = web.get(f"/cells/{cell.pk}/").content.decode()
    assert f"/api/v1/cells/{cell.pk}/figure/?plot=capacity&amp;output=pdf" in page
    assert f"/api/v1/cells/{cell.pk}/records/?output=bdf-csv" in page
    page = web.get(f"/compare/?{both}").content.decode()
    assert "/api/v1/compare/figure/?" in page and "metric=retention_percent&amp;output=svg" in page
    assert f'href="/api/v1/datasets/?groups={study["coated"].pk},{study["bare"].pk}"' in page
    # The session of the page is enough to download the figure it links.
    assert web.get(f"/api/v1/compare/figure/?{both}").status_code == 200
