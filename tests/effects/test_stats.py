"""The effects statistics core (pure): every number checked against scipy/statsmodels called by hand here."""
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from scipy.special import gamma
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.oneway import anova_oneway
from statsmodels.stats.power import TTestIndPower

from effects import report, stats
from effects.simulate import confounded_campaign, pressure_campaign

KINDS = {"coating": "categorical", "electrolyte_batch": "categorical", "stack_pressure_mpa": "numeric"}
COATED = np.array([85.8, 85.3, 86.4])
BARE = np.array([54.5, 54.0, 55.2])


def test_it_describes_a_level_with_the_t_interval_of_its_mean():
    d = stats.describe(COATED)
    half = sps.t.ppf(0.975, 2) * COATED.std(ddof=1) / math.sqrt(3)
    assert d["n"] == 3 and d["mean"] == pytest.approx(85.8333, abs=1e-4)
    assert d["sd"] == pytest.approx(COATED.std(ddof=1))
    assert d["ci95"] == pytest.approx([COATED.mean() - half, COATED.mean() + half])


def test_it_gives_two_levels_welchs_difference_hedges_g_and_the_rank_test():
    res = stats.categorical_effect(np.r_[COATED, BARE], ["LNTO"] * 3 + ["none"] * 3, list("abcdef"))
    assert [lv["level"] for lv in res["levels"]] == ["none", "LNTO"]  # 'none' is the reference
    assert res["levels"][1]["cells"] == ["a", "b", "c"]
    welch = sps.ttest_ind(COATED, BARE, equal_var=False)
    lo, hi = welch.confidence_interval(0.95)
    assert res["difference"]["estimate"] == pytest.approx(31.2667, abs=1e-4)
    assert res["difference"]["ci95"] == pytest.approx([lo, hi]) and lo > 0
    assert res["test"]["name"] == "Welch's t-test" and res["test"]["p_value"] == pytest.approx(welch.pvalue)
    # Hedges' g by hand: pooled sd, exact J = Γ(df/2) / (√(df/2) Γ((df-1)/2)) with df = 4 (≈ 1 - 3 / (4 df - 1)).
    sp = math.sqrt((COATED.var(ddof=1) + BARE.var(ddof=1)) / 2)
    d = (COATED.mean() - BARE.mean()) / sp
    assert res["test"]["effect_size_name"] == "Hedges' g"
    assert res["test"]["effect_size"] == pytest.approx(d * gamma(2) / (math.sqrt(2) * gamma(1.5)))
    assert 0.79 < gamma(2) / (math.sqrt(2) * gamma(1.5)) < 1 - 3 / 15
    assert res["rank_test"]["p_value"] == pytest.approx(sps.mannwhitneyu(COATED, BARE).pvalue) == pytest.approx(0.1)


def test_it_runs_welchs_anova_and_holm_corrected_pairs_for_three_levels():
    a, b, c = [1.0, 2.0, 3.0], [4.0, 5.0, 7.0], [2.0, 3.0, 3.5]
    res = stats.categorical_effect(a + b + c, ["A"] * 3 + ["B"] * 3 + ["C"] * 3, [str(i) for i in range(9)])
    ref = anova_oneway([a, b, c], use_var="unequal", welch_correction=True)
    assert res["test"]["name"] == "Welch's ANOVA"
    assert res["test"]["statistic"] == pytest.approx(ref.statistic) and res["test"]["p_value"] == pytest.approx(ref.pvalue)
    raw = [sps.ttest_ind(y, x, equal_var=False).pvalue for x, y in ((a, b), (a, c), (b, c))]
    assert [p["p_value"] for p in res["pairwise"]] == pytest.approx(raw)
    assert [p["p_holm"] for p in res["pairwise"]] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert "Holm" in res["pairwise_test"]


def test_it_fits_a_power_law_whose_exponent_ci_holds_minus_one_half():
    campaign = pressure_campaign(seed=3)
    assert len(campaign) == 12 and campaign["stack_pressure_mpa"].nunique() == 4
    out = report.effect_report(campaign, outcome="r_int_after_formation_ohm", outcome_label="R_int",
                               outcome_unit="Ω", factor="stack_pressure_mpa", kinds=KINDS, scale="log-log")
    reg = out["regression"]
    fit = sm.OLS(np.log(campaign["value"]), sm.add_constant(np.log(campaign["stack_pressure_mpa"]))).fit()
    assert reg["slope"] == pytest.approx(fit.params.iloc[1]) and reg["r2"] == pytest.approx(fit.rsquared)
    assert reg["slope_ci95"][0] < -0.5 < reg["slope_ci95"][1]
    assert reg["slope_ci95"][1] - reg["slope_ci95"][0] < 0.3  # narrow enough to rule out -1 and 0
    assert reg["scale"] == "log-log" and reg["n"] == 12 and reg["p_value"] < 1e-4
    assert len(out["band"]["x"]) == stats.BAND_POINTS and all(
        lo <= m <= hi for lo, m, hi in zip(out["band"]["lo"], out["band"]["fit"], out["band"]["hi"], strict=True))
    assert [lv["n"] for lv in out["levels"]] == [3, 3, 3, 3]
    assert not [w for w in out["warnings"] if w["code"] in ("confounded", "small_n", "protocol")]


@pytest.mark.parametrize("seed", range(5))
def test_it_keeps_minus_one_half_inside_the_ci_over_several_seeds(seed):
    out = report.effect_report(pressure_campaign(seed=seed), outcome="r", outcome_label="R_int", outcome_unit="Ω",
                               factor="stack_pressure_mpa", kinds=KINDS, scale="log-log")
    lo, hi = out["regression"]["slope_ci95"]
    assert lo < -0.5 < hi


def test_it_warns_when_coating_and_electrolyte_batch_vary_together():
    out = report.effect_report(confounded_campaign(), outcome="initial_ce_percent", outcome_label="ICE",
                               outcome_unit="%", factor="coating", kinds=KINDS)
    confounded = [w for w in out["warnings"] if w["code"] == "confounded"]
    assert len(confounded) == 1 and "electrolyte_batch" in confounded[0]["message"]
    assert "Cramér's V = 1.00" in confounded[0]["message"] and "LNTO → B" in confounded[0]["message"]
    assert out["confounded_with"] == ["electrolyte_batch"]


def test_it_warns_about_small_levels_missing_outcomes_and_different_protocols():
    table = confounded_campaign().assign(electrolyte_batch="A")
    table.loc[1, "value"], table.loc[1, "why"] = np.nan, "no EIS spectrum"
    table.loc[4, "protocol"] = "cycle 1 at 0.05C; 2.5–4.4 V, 25 °C"
    out = report.effect_report(table, outcome="x", outcome_label="ICE", outcome_unit="%", factor="coating",
                               kinds=KINDS)
    codes = {w["code"]: w for w in out["warnings"]}
    assert codes["small_n"]["cells"] == ["CF-02", "CF-03"]
    assert codes["missing_outcome"]["cells"] == ["CF-01"] and "no EIS spectrum" in codes["missing_outcome"]["message"]
    assert "0.05C" in codes["protocol"]["message"] and "CF-04" in codes["protocol"]["message"]
    assert out["excluded"] == [{"cell": "CF-01", "id": 1, "reason": "no ICE: no EIS spectrum"}]
    assert "confounded" not in codes


def test_it_plans_replicates_with_statsmodels_power():
    plan = stats.replicates_needed(difference=2.0, sd=1.5)
    n = TTestIndPower().solve_power(effect_size=2.0 / 1.5, alpha=0.05, power=0.8, ratio=1.0)
    assert plan["n_per_level"] == math.ceil(n) == 10
    # Three pairwise comparisons: alpha split three ways needs more cells.
    assert stats.replicates_needed(difference=2.0, sd=1.5, n_comparisons=3)["n_per_level"] > 10


def test_it_ranks_the_fact_that_matters_first_with_holm_over_the_facts():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"coating": ["LNTO"] * 4 + ["none"] * 4, "stack_pressure_mpa": rng.uniform(40, 60, 8),
                          "electrolyte_batch": ["A", "B"] * 4})
    y = np.where(frame["coating"] == "LNTO", 86.0, 54.5) + rng.normal(0, 0.5, 8)
    rows = stats.screen(y, frame, KINDS, [f"c{i}" for i in range(8)])
    assert [r["factor"] for r in rows][0] == "coating" and rows[0]["rank"] == 1
    raw = [r["p_value"] for r in rows]
    assert [r["p_holm"] for r in rows] == pytest.approx(list(multipletests(raw, method="holm")[1]))
    assert rows[0]["p_value"] == pytest.approx(
        sps.ttest_ind(y[:4], y[4:], equal_var=False).pvalue)


def test_the_core_imports_no_django():
    import subprocess
    import sys

    code = ("import sys, effects.stats, effects.report, effects.simulate, effects.figures; "
            "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_it_plans_the_cells_a_regression_needs_with_statsmodels_f2_power():
    from statsmodels.stats.power import FTestPowerF2

    campaign = pressure_campaign(seed=3, noise_relative=0.5)
    out = report.effect_report(campaign, outcome="r", outcome_label="R_int", outcome_unit="Ω",
                               factor="stack_pressure_mpa", kinds=KINDS, scale="log-log", detect=-0.5)
    fit = sm.OLS(np.log(campaign["value"]), sm.add_constant(np.log(campaign["stack_pressure_mpa"]))).fit()
    f2 = 0.25 * np.var(np.log(campaign["stack_pressure_mpa"])) / fit.mse_resid
    df = FTestPowerF2().solve_power(effect_size=f2, df_num=1, df_denom=None, alpha=0.05, power=0.8)
    plan = out["planning"]
    assert plan["slope"] == -0.5 and plan["effect_size"] == pytest.approx(f2)
    assert plan["n_cells"] == math.ceil(df + 2) > out["regression"]["n"] == 12  # this noisy campaign is too small
    quiet = report.effect_report(pressure_campaign(seed=3), outcome="r", outcome_label="R_int", outcome_unit="Ω",
                                 factor="stack_pressure_mpa", kinds=KINDS, scale="log-log")
    assert quiet["planning"]["n_cells"] <= 12  # 8 % scatter: twelve cells were plenty
