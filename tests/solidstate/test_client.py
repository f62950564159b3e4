"""The notebook client and the API on the demo's LGPS batch, against a live server (no mocks of the API)."""
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from cells.demo import STUDY_PROJECT, load_study_registry
from cells.models import Cell, Project
from cells.roles import VIEWER, ensure_roles
from solidstate.demo import BATCH, PELLET, SYMMETRIC, load_solid_registry, solid_demo_files
from tests.factories import UserFactory
from tests.solidstate.test_pages import _ingest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))
import assb_client  # noqa: E402


def test_the_notebook_client_reads_a_batchs_conductivity_and_ccd(live_server):
    ensure_roles()
    load_study_registry()
    load_solid_registry()
    for cell_name, kind, name, notes, data in solid_demo_files():
        assert _ingest(Cell.objects.get(name=cell_name), kind, name, notes, data).status == "imported"
    viewer = UserFactory(username="vera", roles=[VIEWER])
    Project.objects.get(name=STUDY_PROJECT).members.add(viewer)
    client = assb_client.Client(live_server.url, Token.objects.create(user=viewer).key)

    assert list(client.electrolyte_batches()["name"]) == [BATCH]
    points = client.conductivity(BATCH)
    assert list(points["temperature_c"]) == [25, 35, 45, 55, 65, 80] and set(points["pellet"]) == {PELLET}
    assert points["sigma_total_s_cm"].iat[0] == pytest.approx(0.012, rel=0.03)
    assert points["sigma_bulk_s_cm"].isna().all() and points["statement"].str.startswith("total only").all()
    fit = points.attrs["arrhenius"]
    assert abs(fit["ea_ev"] - 0.25) < 0.01 and fit["form"] == "sigma_T" and fit["n_points"] == 6
    [ccd] = client.ccd(BATCH)
    assert ccd["cell"] == SYMMETRIC and ccd["ccd_ma_cm2"] == pytest.approx(0.5, rel=1e-4)
    assert ccd["stack_pressure_mpa"] == 50.0 and "step in which the cell shorts" in ccd["definition"]
    outsider = UserFactory(username="otto", roles=[VIEWER])  # sees the batch (registry) but none of its cells
    other = assb_client.Client(live_server.url, Token.objects.create(user=outsider).key)
    assert other.conductivity(BATCH).empty and other.ccd(BATCH) == []
