"""Navigation between a cell's pages, and the has-EIS filter that follows imported spectra."""
import pytest

from impedance.simulate import study_spectrum, write_mpt
from tests.helpers import upload_and_ingest

pytestmark = pytest.mark.django_db


def test_it_links_a_cell_page_to_its_impedance_page(client, researcher, cell):
    client.force_login(researcher)
    html = client.get(f"/cells/{cell.pk}/").content.decode()
    assert f'href="/cells/{cell.pk}/impedance/"' in html


def test_it_filters_cells_by_imported_eis_spectra(client, researcher, device_api, cell, project):
    from tests.factories import CellFactory

    other = CellFactory(project=project, name="NO-EIS-01")
    upload_and_ingest(device_api, cell, write_mpt([study_spectrum("coated")]), name="LNTO-01_c2.mpt")
    client.force_login(researcher)
    with_eis = client.get("/?has_eis=yes").content.decode()
    without = client.get("/?has_eis=no").content.decode()
    assert cell.name in with_eis and other.name not in with_eis
    assert other.name in without and cell.name not in without
