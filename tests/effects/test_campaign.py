"""A generated stack-pressure campaign end to end: 12 cells at 4 stack pressures, each with an EIS spectrum whose
interface resistance follows R_int ∝ P^-0.5 with replicate scatter (effects.simulate.pressure_campaign), imported
and fitted like any upload; the API's log-log fit must find the exponent -0.5 inside its 95 % CI."""
import numpy as np
import pytest
import statsmodels.api as sm

from effects.simulate import pressure_campaign
from impedance.simulate import STUDY_CIRCUIT, STUDY_PARAMS, simulate_spectrum
from tests.conftest import client_for
from tests.factories import CellFactory, GroupFactory
from tests.web.test_compare_eis import ingest_eis

pytestmark = pytest.mark.django_db


def test_it_finds_the_power_law_exponent_of_r_int_on_stack_pressure(viewer, project):
    campaign = pressure_campaign(seed=11)
    group = GroupFactory(project=project, name="pressure series")
    for i, row in enumerate(campaign.itertuples()):
        cell = CellFactory(project=project, group=group, name=row.cell, stack_pressure_mpa=row.stack_pressure_mpa)
        spectrum = simulate_spectrum(STUDY_CIRCUIT, {**STUDY_PARAMS["bare"], "R2": row.value}, seed=100 + i)
        ingest_eis(cell, "bare", f"{row.cell}_c2.mpt", spectrum=spectrum)
    resp = client_for(viewer).get(f"/api/v1/effects/?outcome=r_int_after_formation_ohm&factor=stack_pressure_mpa"
                                  f"&scale=log-log&groups={group.pk}")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    reg = body["regression"]
    assert reg["n"] == 12 and reg["scale"] == "log-log"
    assert reg["slope_ci95"][0] < -0.5 < reg["slope_ci95"][1] and reg["slope_ci95"][1] < -0.3
    assert [lv["n"] for lv in body["levels"]] == [3, 3, 3, 3]
    # The fitted R_int per cell, regressed by hand with statsmodels, gives the same exponent.
    points = body["points"]
    fit = sm.OLS(np.log([p["value"] for p in points]), sm.add_constant(np.log([p["x"] for p in points]))).fit()
    assert reg["slope"] == pytest.approx(fit.params[1]) and reg["r2"] == pytest.approx(fit.rsquared)
    # and the fits recover the simulated resistances (within the fit's error)
    truth = dict(zip(campaign["cell"], campaign["value"], strict=True))
    assert all(p["value"] == pytest.approx(truth[p["cell"]], rel=0.03) for p in points)
    assert not [w for w in body["warnings"] if w["code"] in ("confounded", "protocol", "missing_outcome")]
