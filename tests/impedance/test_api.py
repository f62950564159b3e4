"""EIS API: spectra list/detail for plots, refits (grammar, permissions), R_int vs cycle per cell and per group."""
import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from impedance.analysis import DEFAULT_CIRCUIT
from impedance.models import EisFit, EisSpectrum
from impedance.simulate import study_spectrum, write_mpt
from tests.conftest import client_for
from tests.factories import CellFactory
from tests.helpers import upload_and_ingest
from tests.impedance.test_services import study_cells

pytestmark = pytest.mark.django_db

AREA_CM2 = 0.7853982  # 10 mm die


@pytest.fixture
def study(api, project):
    """A bare and a coated cell, each with the study spectrum measured after cycle 0."""
    bare, coated = study_cells(project)
    files = {
        "bare": upload_and_ingest(api, bare, write_mpt([study_spectrum("bare")]), "BARE-01_c0.mpt"),
        "coated": upload_and_ingest(api, coated, write_mpt([study_spectrum("coated")]), "LNTO-01_c0.mpt"),
    }
    spectra = {k: EisSpectrum.objects.get(datafile=f) for k, f in files.items()}
    return {"bare": bare, "coated": coated, "spectra": spectra}


def test_it_lists_spectra_of_a_cell_with_r_int(viewer, study):
    resp = client_for(viewer).get("/api/v1/eis/spectra/", {"cell": study["bare"].pk})
    assert resp.status_code == 200
    rows = resp.json()["results"]
    assert len(rows) == 1
    row = rows[0]
    assert row["cell_name"] == "BARE-01" and row["after_cycle"] == 0 and row["n_points"] == 80
    assert row["circuit"] == DEFAULT_CIRCUIT and row["kk_passes"] is True
    assert row["r_int_ohm"] == pytest.approx(1400, rel=0.02)
    assert row["r_int_ohm_cm2"] == pytest.approx(row["r_int_ohm"] * AREA_CM2, rel=1e-6)
    assert "data" not in row
    both = client_for(viewer).get("/api/v1/eis/spectra/").json()["results"]
    assert [r["cell_name"] for r in both] == ["BARE-01", "LNTO-01"]


def test_it_gives_nyquist_bode_fit_curve_and_kk_residuals(viewer, study):
    spectrum = study["spectra"]["coated"]
    body = client_for(viewer).get(f"/api/v1/eis/spectra/{spectrum.pk}/").json()
    data = body["data"]
    assert len(data["freq_hz"]) == 80 and data["freq_hz"][0] == pytest.approx(7e6)
    z = np.array(data["z_real_ohm"]) + 1j * np.array(data["z_imag_ohm"])
    assert data["z_mod_ohm"] == pytest.approx(np.abs(z).tolist())
    assert data["phase_deg"] == pytest.approx(np.degrees(np.angle(z)).tolist())
    # the high-frequency end sits near R0 = 45 ohm, the low-frequency end past R0 + R1 + R2 = 413 ohm
    assert data["z_real_ohm"][0] == pytest.approx(45, rel=0.05) and data["z_real_ohm"][-1] > 413
    fit = body["fits"][0]
    assert fit["is_current"] and fit["r_int_ohm"] == pytest.approx(248, rel=0.02)
    assert fit["parameters"]["R0"]["value"] == pytest.approx(45, rel=0.03)
    curve = fit["curve"]
    assert len(curve["freq_hz"]) == 200
    assert curve["freq_hz"][0] == pytest.approx(7e6) and curve["freq_hz"][-1] == pytest.approx(0.1)
    # the fitted curve passes through the data: compare at the measured frequencies by interpolation
    zf = np.interp(np.log(data["freq_hz"][::-1]), np.log(curve["freq_hz"][::-1]), curve["z_real_ohm"][::-1])
    assert np.max(np.abs(zf - z.real[::-1]) / np.abs(z[::-1])) < 0.03
    kk = body["kk"]
    assert len(kk["residuals_real_pct"]) == 80 and kk["passes"] and kk["finding"] == "" and kk["version"] == 2
    assert 0.3 < kk["noise_pct"] < 0.75 and kk["threshold_pct"] == pytest.approx(6.0 * kk["noise_pct"])
    assert kk["structure"] < kk["structure_limit"] == 4.5 and kk["amplitude"] < kk["amplitude_limit"] == 6.0
    assert max(map(abs, kk["residuals_real_pct"] + kk["residuals_imag_pct"])) == pytest.approx(
        body["kk_max_residual_pct"])


def test_it_refits_with_a_good_circuit_for_a_researcher(researcher, study):
    spectrum = study["spectra"]["bare"]
    resp = client_for(researcher).post(f"/api/v1/eis/spectra/{spectrum.pk}/fit/",
                                       {"circuit": "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3", "r_int_elements": ["R2"]},
                                       format="json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["circuit"] == "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3" and body["r_int_ohm"] == pytest.approx(1400, rel=0.05)
    assert [f["is_current"] for f in body["fits"]] == [True, False]
    assert body["fits"][0]["created_by"] == "researcher"
    assert EisFit.objects.filter(spectrum=spectrum, is_current=True).count() == 1


@pytest.mark.parametrize("circuit, token", [
    ("R0-__import__('os')", "'__import__('"),
    ("R0-p(R1,CPE1);R2", "';'"),
    ("R0-Q1", "'Q1'"),
])
def test_it_refuses_a_circuit_outside_the_grammar_naming_the_token(researcher, study, circuit, token):
    spectrum = study["spectra"]["bare"]
    resp = client_for(researcher).post(f"/api/v1/eis/spectra/{spectrum.pk}/fit/", {"circuit": circuit},
                                       format="json")
    assert resp.status_code == 400
    assert token in resp.json()["circuit"][0] and "unexpected token" in resp.json()["circuit"][0]
    assert EisFit.objects.filter(spectrum=spectrum).count() == 1


def test_it_refuses_r_int_elements_that_are_not_resistors(researcher, study):
    spectrum = study["spectra"]["bare"]
    resp = client_for(researcher).post(f"/api/v1/eis/spectra/{spectrum.pk}/fit/",
                                       {"circuit": DEFAULT_CIRCUIT, "r_int_elements": ["Wo1"]}, format="json")
    assert resp.status_code == 400 and "'Wo1' is not a resistor" in resp.json()["r_int_elements"][0]


def test_it_enforces_roles_and_scoping(viewer, outsider, device_api, study):
    spectrum = study["spectra"]["bare"]
    detail, fit = f"/api/v1/eis/spectra/{spectrum.pk}/", f"/api/v1/eis/spectra/{spectrum.pk}/fit/"
    cell_rint = f"/api/v1/cells/{study['bare'].pk}/rint/"
    anonymous = client_for(None)
    for url in ("/api/v1/eis/spectra/", detail, cell_rint, "/api/v1/eis/rint/"):
        assert anonymous.get(url).status_code == 401
        assert device_api.get(url).status_code == 403  # devices only upload
    assert anonymous.post(fit, {"circuit": DEFAULT_CIRCUIT}, format="json").status_code == 401
    # viewer: reads, may not refit
    assert client_for(viewer).get(detail).status_code == 200
    assert client_for(viewer).get(cell_rint).status_code == 200
    assert client_for(viewer).post(fit, {"circuit": DEFAULT_CIRCUIT}, format="json").status_code == 403
    # outsider (researcher of another project): the spectrum and cell do not exist for them
    other = client_for(outsider)
    assert other.get(detail).status_code == 404
    assert other.post(fit, {"circuit": DEFAULT_CIRCUIT}, format="json").status_code == 404
    assert other.get(cell_rint).status_code == 404
    assert other.get("/api/v1/eis/spectra/").json()["results"] == []
    body = other.get("/api/v1/eis/rint/", {"groups": str(study["bare"].group_id),
                                           "cells": str(study["coated"].pk)}).json()
    assert body == {"groups": [], "cells": []}
    assert EisFit.objects.filter(spectrum=spectrum).count() == 1


def _series_cells(api, project, group, name_prefix, r_int_by_cycle, seed0):
    """Cells of a group with synthetic spectra whose true R_int per cycle is given ({cycle: ohm})."""
    from impedance.simulate import STUDY_CIRCUIT, STUDY_PARAMS, simulate_spectrum

    cells = []
    for k, r_by_cycle in enumerate(r_int_by_cycle):
        cell = CellFactory(project=project, group=group, name=f"{name_prefix}-{k + 1}", replicate_number=k + 1)
        for j, (cycle, r2) in enumerate(r_by_cycle.items()):
            s = simulate_spectrum(STUDY_CIRCUIT, {**STUDY_PARAMS["bare"], "R2": r2}, noise=0.002, seed=seed0 + 10 * k + j)
            upload_and_ingest(api, cell, write_mpt([s]), f"{cell.name}_c{cycle}.mpt")
        cells.append(cell)
    return cells


def test_it_gives_r_int_vs_cycle_of_a_cell(viewer, api, project, study):
    cell = study["bare"]
    s = study_spectrum("bare", seed=7)
    upload_and_ingest(api, cell, write_mpt([s]), "BARE-01_later.mpt", notes="after_cycle=100")
    upload_and_ingest(api, cell, write_mpt([study_spectrum("bare", seed=8)]), "BARE-01_unknown.mpt")
    body = client_for(viewer).get(f"/api/v1/cells/{cell.pk}/rint/").json()
    assert body["name"] == "BARE-01" and body["area_cm2"] == pytest.approx(AREA_CM2)
    assert body["cycle"] == [0, 100, None]
    assert body["r_int_ohm"] == pytest.approx([1400, 1400, 1400], rel=0.02)
    assert body["r_int_ohm_cm2"] == pytest.approx([r * AREA_CM2 for r in body["r_int_ohm"]], rel=1e-6)
    assert all(e > 0 for e in body["r_int_stderr_ohm"]) and body["kk_passes"] == [True, True, True]


def test_it_gives_r_int_per_group_with_mean_and_sd_in_a_flat_number_of_queries(viewer, api, project, study):
    from tests.factories import GroupFactory

    coated, bare = study["coated"].group, study["bare"].group
    # two more coated cells (R_int rising slowly) and one more bare cell (rising fast)
    _series_cells(api, project, coated, "LNTO-X", [{0: 240.0, 100: 300.0}, {0: 256.0, 100: 320.0}], seed0=100)
    _series_cells(api, project, bare, "BARE-X", [{0: 1420.0, 100: 2600.0}], seed0=200)
    other = GroupFactory(project=project, name="other")
    client = client_for(viewer)
    url = f"/api/v1/eis/rint/?groups={coated.pk},{bare.pk}"
    body = client.get(url).json()
    by_name = {g["name"]: g for g in body["groups"]}
    g_coated, g_bare = by_name["LNTO-coated"], by_name["bare"]
    assert g_coated["n_cells"] == 3 and g_coated["cycle"] == [0, 100]
    # cycle 0: 248 (study), 240, 256 -> mean 248, sd 8; cycle 100: 300, 320 -> mean 310, sd 14.1
    assert g_coated["r_int_ohm"]["mean"] == pytest.approx([248, 310], rel=0.02)
    assert g_coated["r_int_ohm"]["sd"][0] == pytest.approx(8.0, abs=4.0)
    assert g_coated["r_int_ohm"]["sd"][1] == pytest.approx(14.14, abs=4.0)
    assert g_coated["r_int_ohm"]["n"] == [3, 2]
    assert g_coated["r_int_ohm_cm2"]["mean"][0] == pytest.approx(g_coated["r_int_ohm"]["mean"][0] * AREA_CM2, rel=1e-3)
    assert g_bare["r_int_ohm"]["mean"] == pytest.approx([1410, 2600], rel=0.02)
    assert g_bare["r_int_ohm"]["sd"][1] is None and g_bare["r_int_ohm"]["n"] == [2, 1]
    assert len(body["cells"]) == 5 and not any(c["selected"] for c in body["cells"])

    # pinned query count: groups + cells + ONE for all the fits, whatever the number of cells
    with CaptureQueriesContext(connection) as small:
        client.get(f"/api/v1/eis/rint/?groups={coated.pk}")
    _series_cells(api, project, other, "OTHER", [{0: 500.0}, {0: 510.0}, {0: 520.0}, {0: 530.0}], seed0=300)
    with CaptureQueriesContext(connection) as large:
        resp = client.get(f"/api/v1/eis/rint/?groups={coated.pk},{bare.pk},{other.pk}&cells={study['bare'].pk}")
    assert len(resp.json()["cells"]) == 9 and len(resp.json()["groups"]) == 3
    assert len(large) == len(small) == 3  # groups, cells, fits (auth cached after the first call)
    fit_queries = [q["sql"] for q in large.captured_queries if '"impedance_eisfit"' in q["sql"]]
    assert len(fit_queries) == 1


def test_it_lists_spectra_in_a_flat_number_of_queries(viewer, api, project, study):
    client = client_for(viewer)
    with CaptureQueriesContext(connection) as before:
        client.get("/api/v1/eis/spectra/")
    _series_cells(api, project, study["bare"].group, "BARE-Q", [{1: 1400.0, 2: 1450.0}, {1: 1300.0}], seed0=400)
    with CaptureQueriesContext(connection) as after:
        rows = client.get("/api/v1/eis/spectra/").json()["results"]
    assert len(rows) == 5 and len(after) == len(before) == 3  # count, spectra, current fits
