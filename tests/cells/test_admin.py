"""Admin pages render for staff and the duplicate action makes replicates."""
import os
import subprocess
import sys
from pathlib import Path

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


def test_build_sheet_labels_carry_units_as_the_pages_write_them(admin_client_):
    cell = CellFactory()
    page = admin_client_.get(f"/admin/cells/cell/{cell.pk}/change/").content.decode()
    for label in ("Composite loading (mg/cm²)", "Stack pressure (MPa)", "Electrode area (cm²)",
                  "Theoretical capacity (mAh/g)", "Force (t)", "Die diameter (mm)", "First half-cycle"):
        assert label in page, label
    assert "Composite loading mg cm2" not in page and "Force t" not in page


def test_manage_py_commands_print_no_axes_banner(tmp_path):
    root = Path(__file__).resolve().parents[2]
    # The real settings (not tests.settings), on a throw-away var dir.
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(DJANGO_SETTINGS_MODULE="assb_lab.settings", ASSB_VAR_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
    assert "AXES" not in done.stdout + done.stderr
