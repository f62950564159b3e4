"""Effects API on the demo study (3 LNTO-coated, 3 bare): coating's effect on ICE and R_int, the screen, the contract,
project scoping and refusals. Numbers are checked against scipy/statsmodels run here on the per-cell metrics."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from cells.models import Cell, Material
from cycling.selectors import cell_run_metrics
from tests.conftest import client_for
from tests.web.test_compare_eis import with_eis

pytestmark = pytest.mark.django_db

LEVEL_KEYS = {"level", "n", "mean", "sd", "ci95", "cells"}
TEST_KEYS = {"name", "statistic", "p_value", "effect_size", "effect_size_name"}
REGRESSION_KEYS = {"slope", "slope_ci95", "r2", "p_value", "n", "scale"}
TOP_KEYS = {"outcome", "outcome_unit", "factor", "kind", "levels", "regression", "test", "warnings"}


def _get(api, query, path="/api/v1/effects/"):
    resp = api.get(f"{path}?{query}")
    assert resp.status_code == 200, resp.content
    return resp.json()


def _ice(study):
    """Per-cell ICE from the app's own metric function (cell page numbers), coated and bare."""
    coated = [cell_run_metrics(c)["initial_ce_percent"] for c in study["cells"] if c.group_id == study["coated"].pk]
    bare = [cell_run_metrics(c)["initial_ce_percent"] for c in study["cells"] if c.group_id == study["bare"].pk]
    return np.array(coated), np.array(bare)


def test_it_finds_coatings_effect_on_ice_of_plus_31_7_points_with_welch_and_hedges_g(viewer, study):
    body = _get(client_for(viewer), f"outcome=initial_ce_percent&factor=coating&project={study['coated'].project_id}")
    assert TOP_KEYS <= set(body) and body["kind"] == "categorical" and body["regression"] is None
    assert body["outcome"] == "initial_ce_percent" and body["outcome_unit"] == "%" and body["factor"] == "coating"
    assert [set(lv) for lv in body["levels"]] == [LEVEL_KEYS, LEVEL_KEYS] and set(body["test"]) == TEST_KEYS
    none, lnto = body["levels"]
    assert (none["level"], lnto["level"]) == ("none", "LNTO") and none["n"] == lnto["n"] == 3
    assert sorted(lnto["cells"]) == ["LNTO-01", "LNTO-02", "LNTO-03"]
    diff = body["difference"]
    assert diff["estimate"] == pytest.approx(31.7, abs=0.05) and diff["ci95"][0] > 0
    assert body["test"]["name"] == "Welch's t-test" and body["test"]["effect_size_name"] == "Hedges' g"
    # The same numbers from scipy on the cells' own ICE.
    coated, bare = _ice(study)
    welch = sps.ttest_ind(coated, bare, equal_var=False)
    assert diff["estimate"] == pytest.approx(coated.mean() - bare.mean())
    assert diff["ci95"] == pytest.approx(list(welch.confidence_interval(0.95)))
    assert body["test"]["statistic"] == pytest.approx(welch.statistic)
    assert body["test"]["p_value"] == pytest.approx(welch.pvalue) and body["test"]["p_value"] < 1e-4
    assert lnto["ci95"] == pytest.approx(list(sps.ttest_1samp(coated, 0).confidence_interval(0.95)))
    assert body["test"]["effect_size"] > 10  # ~31 points over a replicate sd below 1 point
    assert body["rank_test"]["name"].startswith("Mann-Whitney") and body["rank_test"]["p_value"] == pytest.approx(0.1)
    assert [w["code"] for w in body["warnings"]] == ["rank_test"]
    assert body["planning"]["n_per_level"] == 2 and body["planning"]["power"] == 0.8


def test_it_gives_r_int_after_formation_bare_1400_and_coated_248_ohm(viewer, study):
    with_eis(study)
    body = _get(client_for(viewer), f"outcome=r_int_after_formation_ohm&factor=coating"
                f"&groups={study['coated'].pk},{study['bare'].pk}")
    levels = {lv["level"]: lv for lv in body["levels"]}
    assert body["outcome_unit"] == "Ω"
    assert levels["none"]["mean"] == pytest.approx(1400, rel=0.02) and levels["none"]["n"] == 3
    assert levels["LNTO"]["mean"] == pytest.approx(248, rel=0.02) and levels["LNTO"]["n"] == 3
    assert body["difference"]["ci95"][1] < 0  # coated lower, the interval excludes 0
    # LNTO-01's later spectrum (R_int 400 after cycle 100) is not "after formation" and is not averaged in.
    assert max(p["value"] for p in body["points"] if p["level"] == "LNTO") < 260


def test_it_warns_of_a_missing_outcome_and_names_the_cell(viewer, study):
    with_eis(study)
    bare1 = next(c for c in study["cells"] if c.name == "BARE-01")
    bare1.eis_spectra.all().delete()
    body = _get(client_for(viewer), f"outcome=r_int_after_formation_ohm&factor=coating&project={bare1.project_id}")
    codes = {w["code"]: w for w in body["warnings"]}
    assert codes["missing_outcome"]["cells"] == ["BARE-01"] and "no EIS spectrum" in codes["missing_outcome"]["message"]
    assert codes["small_n"]["cells"] == ["BARE-02", "BARE-03"]
    assert body["excluded"] == [{"cell": "BARE-01", "id": bare1.pk, "reason": "no R_int after formation: no EIS spectrum"}]


def test_the_screen_ranks_coating_first_for_ice_with_holm_over_the_facts(viewer, study):
    body = _get(client_for(viewer), f"outcome=initial_ce_percent&project={study['coated'].project_id}",
                path="/api/v1/effects/screen/")
    rows = body["rows"]
    # On the demo only the coating (with its thickness/content, known for coated cells only) and the loading vary.
    assert [r["factor"] for r in rows] == ["coating", "composite_loading_mg_cm2"]
    coated, bare = _ice(study)
    welch = sps.ttest_ind(coated, bare, equal_var=False)
    loading = {c.name: c.composite_loading_mg_cm2 for c in study["cells"]}
    ice = {c.name: cell_run_metrics(c)["initial_ce_percent"] for c in study["cells"]}
    names = sorted(ice)
    ols = sm.OLS([ice[n] for n in names], sm.add_constant([loading[n] for n in names])).fit()
    assert rows[0]["p_value"] == pytest.approx(welch.pvalue) and rows[0]["test"] == "Welch's t-test"
    assert rows[0]["effect"]["estimate"] == pytest.approx(31.7, abs=0.05)
    assert rows[1]["p_value"] == pytest.approx(ols.pvalues[1]) and rows[1]["effect"]["estimate"] == pytest.approx(
        ols.params[1])
    assert rows[1]["effect"]["ci95"] == pytest.approx(list(ols.conf_int(0.05)[1]))
    holm = multipletests([welch.pvalue, ols.pvalues[1]], method="holm")[1]
    assert [r["p_holm"] for r in rows] == pytest.approx(list(holm)) and rows[0]["p_holm"] < 0.001 < rows[1]["p_holm"]
    assert rows[0]["correction"] == "Holm over 2 facts" and [r["rank"] for r in rows] == [1, 2]


def test_it_warns_when_coating_varies_together_with_the_electrolyte(viewer, study):
    """A campaign where every coated cell also had another separator electrolyte: confounded."""
    lpscl = Material.objects.create(name="LPSCl", kind=Material.Kind.SOLID_ELECTROLYTE)
    Cell.objects.filter(group=study["coated"]).update(electrolyte=lpscl)
    body = _get(client_for(viewer), f"outcome=initial_ce_percent&factor=coating&project={study['coated'].project_id}")
    confounded = [w for w in body["warnings"] if w["code"] == "confounded"]
    assert len(confounded) == 1 and "Separator electrolyte" in confounded[0]["message"]
    assert "LNTO → LPSCl" in confounded[0]["message"] and "none → LGPS" in confounded[0]["message"]
    assert body["confounded_with"] == ["electrolyte"]
    screen = _get(client_for(viewer), f"outcome=initial_ce_percent&project={study['coated'].project_id}",
                  path="/api/v1/effects/screen/")
    assert {r["factor"]: r["confounded_with"] for r in screen["rows"]}["coating"] == ["electrolyte"]


def test_it_fits_stack_pressure_on_a_numeric_axis_and_warns_of_protocols(viewer, study):
    for cell, mpa in zip(sorted(study["cells"], key=lambda c: c.name), [10, 20, 40, 10, 20, 40], strict=True):
        Cell.objects.filter(pk=cell.pk).update(stack_pressure_mpa=mpa)
    Cell.objects.filter(name="BARE-01").update(temperature_c=60.0)
    body = _get(client_for(viewer), "outcome=initial_ce_percent&factor=stack_pressure_mpa&scale=log-log"
                f"&project={study['coated'].project_id}")
    assert body["kind"] == "numeric" and set(body["regression"]) == REGRESSION_KEYS
    assert body["regression"]["scale"] == "log-log" and body["regression"]["n"] == 6
    assert [lv["level"] for lv in body["levels"]] == [10, 20, 40] and [lv["n"] for lv in body["levels"]] == [2, 2, 2]
    ice = {c.name: cell_run_metrics(c)["initial_ce_percent"] for c in study["cells"]}
    mpa = dict(Cell.objects.values_list("name", "stack_pressure_mpa"))
    names = sorted(ice)
    fit = sm.OLS(np.log([ice[n] for n in names]), sm.add_constant(np.log([mpa[n] for n in names]))).fit()
    assert body["regression"]["slope"] == pytest.approx(fit.params[1])
    assert body["regression"]["slope_ci95"] == pytest.approx(list(fit.conf_int(0.05)[1]))
    assert body["regression"]["r2"] == pytest.approx(fit.rsquared)
    protocol = next(w for w in body["warnings"] if w["code"] == "protocol")
    assert "60 °C: BARE-01" in protocol["message"]


def test_it_refuses_unknown_parameters_and_bad_values_with_400(viewer, study):
    api = client_for(viewer)
    for query, word in [("outcome=initial_ce_percent&factor=coating&group=1", "unknown parameter(s): group"),
                        ("outcome=ice&factor=coating", "outcome: 'ice'"),
                        ("factor=coating", "outcome is required"),
                        ("outcome=initial_ce_percent", "factor is required"),
                        ("outcome=initial_ce_percent&factor=colour", "factor: 'colour'"),
                        ("outcome=initial_ce_percent&factor=coating&scale=log-log", "needs a numeric factor"),
                        ("outcome=initial_ce_percent&factor=coating&cells=1,x", "cells: 'x' is not an id"),
                        ("outcome=retention_at_cycle_percent&factor=coating", "needs cycle=N"),
                        ("outcome=initial_ce_percent&factor=coating&detect=big", "detect: 'big'")]:
        resp = api.get(f"/api/v1/effects/?{query}")
        assert resp.status_code == 400 and word in resp.json()["detail"], (query, resp.content)
    resp = api.get("/api/v1/effects/screen/?outcome=initial_ce_percent&factor=coating")
    assert resp.status_code == 400 and "factor" in resp.json()["detail"]


def test_an_outsider_sees_no_cell_of_the_project(outsider, study):
    body = _get(client_for(outsider), f"outcome=initial_ce_percent&factor=coating&project={study['coated'].project_id}"
                f"&cells={study['cells'][0].pk}")
    assert body["levels"] == [] and body["test"] is None and body["n"] == 0
    assert [w["code"] for w in body["warnings"]] == ["one_level", "empty"]
    assert client_for(None).get("/api/v1/effects/options/").status_code in (401, 403)


def test_the_options_list_outcomes_and_factors(viewer):
    body = _get(client_for(viewer), "", path="/api/v1/effects/options/")
    outcomes = {o["key"]: o for o in body["outcomes"]}
    factors = {f["key"]: f for f in body["factors"]}
    assert outcomes["initial_ce_percent"]["unit"] == "%" and outcomes["retention_at_cycle_percent"]["needs_cycle"]
    assert factors["coating"]["kind"] == "categorical" and factors["stack_pressure_mpa"]["unit"] == "MPa"
    assert {"operator", "cycler", "electrolyte_batch", "cathode_pressing_t", "composite_loading_mg_cm2",
            "coating_thickness_nm"} <= set(factors)


def test_it_reads_discharge_and_retention_at_cycle_n(viewer, study):
    body = _get(client_for(viewer), f"outcome=discharge_at_cycle_mah_g&cycle=10&factor=coating"
                f"&project={study['coated'].project_id}")
    cell = study["cells"][0]
    from cycling.selectors import cells_cycles_frame

    frame = cells_cycles_frame([cell.pk])
    expected = float(frame.loc[frame["cycle"] == 10, "discharge_mah_g"].iloc[0])
    assert next(p for p in body["points"] if p["cell"] == cell.name)["value"] == pytest.approx(expected)
    late = _get(client_for(viewer), f"outcome=discharge_at_cycle_mah_g&cycle=500&factor=coating"
                f"&project={study['coated'].project_id}")
    assert late["n"] == 0 and len(late["excluded"]) == 6 and "did not reach cycle 500" in late["excluded"][0]["reason"]


def test_it_reads_r_int_at_cycle_n_and_its_growth_from_after_formation(viewer, study):
    with_eis(study)  # every cell after cycle 2; LNTO-01 again after cycle 100 with R_int 400
    api, pid = client_for(viewer), study["coated"].project_id
    at = _get(api, f"outcome=r_int_at_cycle_ohm&cycle=100&factor=coating&project={pid}")
    assert [(p["cell"], round(p["value"])) for p in at["points"]] == [("LNTO-01", pytest.approx(400, rel=0.02))]
    assert {x["cell"] for x in at["excluded"]} == {"LNTO-02", "LNTO-03", "BARE-01", "BARE-02", "BARE-03"}
    growth = _get(api, f"outcome=r_int_growth_percent&factor=coating&project={pid}")
    (point,) = growth["points"]
    first = next(p for p in _get(api, f"outcome=r_int_after_formation_ohm&factor=coating&project={pid}")["points"]
                 if p["cell"] == "LNTO-01")["value"]
    assert point["cell"] == "LNTO-01" and point["value"] == pytest.approx((at["points"][0]["value"] / first - 1) * 100)
    assert point["value"] == pytest.approx(61, abs=3)  # 248 -> 400 ohm
    assert "only one EIS cycle" in next(x["reason"] for x in growth["excluded"] if x["cell"] == "BARE-01")


def test_three_operators_get_welchs_anova_and_holm_corrected_pairs(viewer, study):
    from statsmodels.stats.oneway import anova_oneway

    builders = {"LNTO-01": "ana", "LNTO-02": "ben", "LNTO-03": "cho", "BARE-01": "ana", "BARE-02": "ben",
                "BARE-03": "cho"}
    for name, who in builders.items():
        Cell.objects.filter(name=name).update(builder=who)
    body = _get(client_for(viewer), f"outcome=initial_ce_percent&factor=operator&project={study['coated'].project_id}")
    assert [lv["level"] for lv in body["levels"]] == ["ana", "ben", "cho"] and [lv["n"] for lv in body["levels"]] == [2] * 3
    ice = {c.name: cell_run_metrics(c)["initial_ce_percent"] for c in study["cells"]}
    samples = [[ice[n] for n, who in builders.items() if who == w] for w in ("ana", "ben", "cho")]
    ref = anova_oneway(samples, use_var="unequal", welch_correction=True)
    assert body["test"]["name"] == "Welch's ANOVA" and body["test"]["p_value"] == pytest.approx(ref.pvalue)
    assert body["test"]["p_value"] > 0.5  # the operator does not matter here: each built one coated and one bare
    assert len(body["pairwise"]) == 3 and "Holm" in body["pairwise_test"]
    raw = [p["p_value"] for p in body["pairwise"]]
    assert [p["p_holm"] for p in body["pairwise"]] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert {w["code"] for w in body["warnings"]} >= {"small_n"}
    assert body["planning"]["n_comparisons"] == 3


def test_the_cycler_and_pressing_facts_come_from_the_files_and_the_build_sheet(study):
    from cells.models import PressingStep
    from cycling.models import DataFile
    from effects.outcomes import facts_frame
    from tests.factories import DeviceFactory

    cells = study["cells"]
    device = DeviceFactory(name="cycler-pc-7")
    DataFile.objects.filter(cell=cells[0]).update(device=device)
    PressingStep.objects.filter(cell=cells[1], layer=PressingStep.Layer.CATHODE).update(force_t=5.0)
    facts = facts_frame(list(Cell.objects.filter(pk__in=[c.pk for c in cells]).order_by("pk")))
    assert facts.loc[cells[0].pk, "cycler"] == "cycler-pc-7" and pd.isna(facts.loc[cells[1].pk, "cycler"])
    assert facts.loc[cells[1].pk, "cathode_pressing_t"] == 5.0 and facts.loc[cells[0].pk, "cathode_pressing_t"] == 3.5
    assert facts.loc[cells[0].pk, "separator_pressing_t"] == 1.0 and np.isnan(facts.loc[cells[0].pk, "stack_pressing_t"])
    assert facts.loc[cells[0].pk, "operator"] == "demo" and facts.loc[cells[0].pk, "coating"] == "LNTO"
    assert facts.loc[cells[3].pk, "coating"] == "none" and np.isnan(facts.loc[cells[3].pk, "coating_thickness_nm"])


def test_the_effect_takes_the_same_number_of_queries_however_many_cells(viewer, study):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import CellFactory, PressingStepFactory

    api, pid = client_for(viewer), study["coated"].project_id
    query = f"outcome=r_int_after_formation_ohm&factor=cathode_pressing_t&project={pid}"
    _get(api, query)  # warm: sessions, permissions
    with CaptureQueriesContext(connection) as six:
        _get(api, query)
    for i in range(4):
        cell = CellFactory(project=study["coated"].project, group=study["bare"], name=f"EXTRA-{i}")
        PressingStepFactory(cell=cell, force_t=3.0 + i)
    with CaptureQueriesContext(connection) as ten:
        body = _get(api, query)
    assert len(body["excluded"]) == 10  # no EIS anywhere: every cell is left out, with its reason
    assert len(ten.captured_queries) == len(six.captured_queries) <= 12
