"""Admin pages render for staff and the duplicate action makes replicates."""
import pytest

from cells.models import Cell
from tests.factories import CellFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["cell", "cellgroup", "material", "coating", "project", "cyclerdevice", "auditevent"])
def test_it_renders_every_changelist_and_add_page(admin_client_, model):
    CellFactory()
    assert admin_client_.get(f"/admin/cells/{model}/").status_code == 200
    if model != "auditevent":
        assert admin_client_.get(f"/admin/cells/{model}/add/").status_code == 200


def test_it_shows_derived_values_on_the_build_sheet(admin_client_):
    cell = CellFactory()
    page = admin_client_.get(f"/admin/cells/cell/{cell.pk}/change/").content.decode()
    assert "1.344 mAh/cm²" in page
    assert "1.88–3.78 V (cell)" in page


def test_it_duplicates_selected_builds(admin_client_):
    cell = CellFactory(name="BARE-01")
    resp = admin_client_.post(
        "/admin/cells/cell/", {"action": "duplicate_builds", "_selected_action": [cell.pk]}, follow=True
    )
    assert resp.status_code == 200
    assert Cell.objects.filter(name="BARE-01-copy2", replicate_number=2).exists()
