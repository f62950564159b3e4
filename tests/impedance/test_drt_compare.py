"""GET /api/v1/eis/drt/: groups' DRTs at chosen cycles and their processes vs cycle over replicate cells."""
import pytest
from django.core.cache import caches

from impedance.simulate import study_params, study_spectrum, write_mpt
from tests.conftest import client_for
from tests.factories import CellFactory
from tests.helpers import upload_and_ingest
from tests.impedance.test_services import study_cells

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups(api, project):
    caches["dashboard"].clear()
    bare, coated = study_cells(project)
    bare2 = CellFactory(project=project, name="BARE-02", group=bare.group)
    for cell, kind, seed in ((bare, "bare", 1), (bare2, "bare", 2), (coated, "coated", 3)):
        for c in (0, 200):
            upload_and_ingest(api, cell, write_mpt([study_spectrum(kind, seed=seed * 1000 + c, cycle=c)]),
                              f"{cell.name}_c{c}.mpt")
    return bare.group, coated.group, (bare, bare2, coated)


def test_it_overlays_the_groups_drts_and_gives_the_interface_process_with_its_replicate_band(viewer, groups):
    bare_group, coated_group, (bare, bare2, coated) = groups
    resp = client_for(viewer).get("/api/v1/eis/drt/", {"groups": f"{bare_group.pk},{coated_group.pk}",
                                                        "cycles": "200"})
    assert resp.status_code == 200
    body = resp.json()
    assert [g["name"] for g in body["groups"]] == ["bare", "LNTO-coated"] and body["cycles"] == [200]
    bare_g, coated_g = body["groups"]
    assert sorted(d["cell_name"] for d in bare_g["drts"]) == ["BARE-01", "BARE-02"]
    assert all(d["cycle"] == 200 and len(d["tau_s"]) == len(d["gamma_ohm"]) for d in bare_g["drts"])
    # the interface process: the largest at cycle 0, both replicates, mean near R2 and a band (sd) of two cells
    interface = max(bare_g["processes"], key=lambda p: p["mean_ohm"][0])
    assert interface["cells"] == sorted([bare.pk, bare2.pk]) and interface["cycle"] == [0, 200]
    assert interface["n"] == [2, 2] and all(sd is not None for sd in interface["sd_ohm"])
    r2 = [study_params("bare", cycle=c)["R2"] for c in (0, 200)]
    assert interface["mean_ohm"] == pytest.approx(r2, rel=0.10)
    assert 50 < interface["f_hz_median"] < 120
    coated_interface = max(coated_g["processes"], key=lambda p: p["mean_ohm"][0])
    assert coated_interface["n"] == [1, 1] and coated_interface["sd_ohm"] == [None, None]
    assert 450 < coated_interface["f_hz_median"] < 1000


def test_it_shows_nothing_of_groups_the_user_may_not_see(outsider, groups):
    bare_group, _, _ = groups
    body = client_for(outsider).get("/api/v1/eis/drt/", {"groups": str(bare_group.pk), "cycles": "0"}).json()
    assert body["groups"] == []


def test_it_overlays_the_first_and_last_cycle_by_default(viewer, groups):
    bare_group, _, _ = groups
    body = client_for(viewer).get("/api/v1/eis/drt/", {"groups": str(bare_group.pk)}).json()
    assert body["cycles"] == [0, 200]
    assert sorted((d["cell_name"], d["cycle"]) for d in body["groups"][0]["drts"]) == [
        ("BARE-01", 0), ("BARE-01", 200), ("BARE-02", 0), ("BARE-02", 200)]
