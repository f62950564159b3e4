"""GET /api/v1/eis/spectra/{id}/drt/ and drt/csv/: the DRT with its provenance, for notebooks and exports."""
import io

import numpy as np
import pandas as pd
import pytest
from django.core.cache import caches

from impedance.models import EisSpectrum
from impedance.simulate import study_spectrum, write_mpt
from tests.conftest import client_for
from tests.helpers import upload_and_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def spectrum(api, cell):
    caches["dashboard"].clear()
    datafile = upload_and_ingest(api, cell, write_mpt([study_spectrum("bare", seed=5)]), "BARE_c0.mpt")
    return EisSpectrum.objects.get(datafile=datafile)


def test_it_gives_the_drt_of_a_sweep_with_its_provenance(viewer, spectrum):
    resp = client_for(viewer).get(f"/api/v1/eis/spectra/{spectrum.pk}/drt/")
    assert resp.status_code == 200
    drt = resp.json()
    assert {"tau_s", "gamma_ohm", "r_inf_ohm", "r_pol_ohm", "lambda", "peaks", "residual_rel"} <= set(drt)
    assert drt["r_inf_ohm"] == pytest.approx(45.0, rel=0.03) and drt["inductance_h"] is None  # no leads in this file
    interface = max(drt["peaks"], key=lambda p: p["resistance_ohm"])
    assert interface["resistance_ohm"] == pytest.approx(1400, rel=0.10) and 60 < interface["f_hz"] < 105
    prov = drt["provenance"]
    assert prov["lambda_method"] == "gcv" and prov["version"] >= 1 and "gaussian-rbf" in prov["basis"]
    given = client_for(viewer).get(f"/api/v1/eis/spectra/{spectrum.pk}/drt/", {"lambda": "0.01"}).json()
    assert given["lambda"] == 0.01 and given["provenance"]["lambda_method"] == "given"


def test_it_exports_gamma_vs_tau_as_csv_with_the_provenance_and_peaks(viewer, spectrum):
    resp = client_for(viewer).get(f"/api/v1/eis/spectra/{spectrum.pk}/drt/csv/")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/csv")
    text = resp.content.decode()
    head = [line for line in text.splitlines() if line.startswith("#")]
    assert any(line.startswith("# lambda:") and "(gcv)" in line for line in head)
    assert any(line.startswith("# drt_version:") for line in head)
    assert sum(line.startswith("# peak:") for line in head) >= 2
    table = pd.read_csv(io.StringIO(text), comment="#")
    assert list(table.columns) == ["tau_s", "gamma_ohm"]
    json_drt = client_for(viewer).get(f"/api/v1/eis/spectra/{spectrum.pk}/drt/").json()
    assert len(table) == len(json_drt["tau_s"])
    assert np.trapezoid(table["gamma_ohm"], np.log(table["tau_s"])) == pytest.approx(json_drt["r_pol_ohm"], rel=5e-3)


def test_it_refuses_a_bad_lambda_and_hides_other_projects_spectra(viewer, outsider, spectrum):
    bad = client_for(viewer).get(f"/api/v1/eis/spectra/{spectrum.pk}/drt/", {"lambda": "-2"})
    assert bad.status_code == 400 and "lambda" in bad.json()
    assert client_for(outsider).get(f"/api/v1/eis/spectra/{spectrum.pk}/drt/").status_code == 404


def test_it_answers_422_with_the_reason_for_a_sweep_without_a_drt(viewer, spectrum):
    f = np.logspace(5, -1, 30)
    EisSpectrum.objects.filter(pk=spectrum.pk).update(
        freq_hz=f.tolist(), z_real_ohm=[50.0] * 30, z_imag_ohm=[-0.001] * 30, n_points=30)
    resp = client_for(viewer).get(f"/api/v1/eis/spectra/{spectrum.pk}/drt/")
    assert resp.status_code == 422 and "no arc" in resp.json()["detail"]


def test_the_ingest_puts_each_new_sweeps_drt_in_the_cache(spectrum):
    from impedance.drt_selectors import _key

    cached = caches["dashboard"].get(_key(spectrum, None))
    assert cached is not None and cached["spectrum"] == spectrum.pk and cached["peaks"]
