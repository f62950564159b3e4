"""Effects of build facts on per-cell outcomes: descriptive statistics, tests, regression, confounding, screen.

Pure (no Django): a notebook can call it on any table of cells. The tests and intervals come from scipy.stats
and statsmodels, never re-derived here; every result names its test and its multiplicity correction. Inputs are
plain arrays/Series (one value per cell) with the cells' names alongside, so every number can show the cells
behind it.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.special import gammaln

CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.8
MIN_N_PER_LEVEL = 3
# |association| at or above which another build fact counts as varying together with the factor.
CONFOUNDING_ASSOCIATION = 0.8
# Below this many cells per level the rank test is shown as the one to read alongside Welch's t-test.
SMALL_N = 5
BAND_POINTS = 60
NO_LEVEL = "none"

WELCH_T = "Welch's t-test"
WELCH_ANOVA = "Welch's ANOVA"
MANN_WHITNEY = "Mann-Whitney U (two-sided)"
OLS_SLOPE = "OLS slope t-test"
HOLM = "Holm"
HEDGES_G = "Hedges' g"
COHENS_F = "Cohen's f"
PEARSON_R = "Pearson r"

CATEGORICAL, NUMERIC = "categorical", "numeric"
LINEAR, LOG_LOG = "linear", "log-log"


def _f(value) -> float | None:
    """A finite float for JSON, else None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _pair(ci) -> list[float | None]:
    return [_f(ci[0]), _f(ci[1])]


# --- one level ----------------------------------------------------------------------------------------------

def describe(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, sd (n-1) and the 95 % t-interval of the mean of one level's values (NaN dropped)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "ci95": [None, None]}
    mean = float(x.mean())
    if n < 2:
        return {"n": n, "mean": mean, "sd": None, "ci95": [None, None]}
    sd = float(x.std(ddof=1))
    ci = sps.ttest_1samp(x, 0.0).confidence_interval(CONFIDENCE) if sd > 0 else (mean, mean)
    return {"n": n, "mean": mean, "sd": sd, "ci95": _pair(ci)}


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Hedges' g of b minus a: Cohen's d with the pooled sd times the exact small-sample correction
    J = Γ(df/2) / (√(df/2) Γ((df−1)/2)), df = n_a + n_b − 2 (Hedges 1981)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    na, nb = a.size, b.size
    df = na + nb - 2
    if na < 2 or nb < 2 or df < 2:
        return None
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / df)
    if pooled == 0:
        return None
    j = math.exp(gammaln(df / 2) - math.log(math.sqrt(df / 2)) - gammaln((df - 1) / 2))
    return j * (b.mean() - a.mean()) / pooled


def pooled_sd(levels: Sequence[tuple[int, float | None]]) -> float | None:
    """The pooled within-level standard deviation from (n, sd) per level (levels with n < 2 add nothing)."""
    num = sum((n - 1) * sd ** 2 for n, sd in levels if n >= 2 and sd is not None)
    den = sum(n - 1 for n, sd in levels if n >= 2 and sd is not None)
    return math.sqrt(num / den) if den else None


# --- two levels / several levels ----------------------------------------------------------------------------

def welch_difference(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """b − a: the difference of means, its 95 % CI and p from Welch's t-test (scipy.stats.ttest_ind)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(b.mean() - a.mean())
    if a.size < 2 or b.size < 2:
        return {"difference": diff, "ci95": [None, None], "statistic": None, "p_value": None, "df": None}
    r = sps.ttest_ind(b, a, equal_var=False)
    return {"difference": diff, "ci95": _pair(r.confidence_interval(CONFIDENCE)), "statistic": _f(r.statistic),
            "p_value": _f(r.pvalue), "df": _f(r.df)}


def rank_test(a: Sequence[float], b: Sequence[float]) -> dict[str, Any] | None:
    """Mann-Whitney U of b against a (exact p for small samples without ties, scipy's choice otherwise)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 1 or b.size < 1 or a.size + b.size < 3:
        return None
    r = sps.mannwhitneyu(b, a, alternative="two-sided")
    return {"name": MANN_WHITNEY, "statistic": _f(r.statistic), "p_value": _f(r.pvalue)}


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p values (statsmodels multipletests); None stays None and is not counted."""
    from statsmodels.stats.multitest import multipletests

    idx = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(p_values)
    if idx:
        adjusted = multipletests([p_values[i] for i in idx], alpha=ALPHA, method="holm")[1]
        for i, p in zip(idx, adjusted, strict=True):
            out[i] = float(p)
    return out


def level_order(levels) -> list[str]:
    """Levels in report order: the 'none' level (no coating, ...) first as the reference, then by name."""
    levels = sorted({str(v) for v in levels})
    return ([NO_LEVEL] if NO_LEVEL in levels else []) + [v for v in levels if v != NO_LEVEL]


def categorical_effect(values: Sequence[float], levels: Sequence[str], cells: Sequence[str],
                       reference: str | None = None) -> dict[str, Any]:
    """The effect of a categorical factor: per level n/mean/sd/CI with its cells; for two levels the difference
    (other − reference) with Welch's CI and test, Hedges' g and the rank test; for more, Welch's ANOVA with
    Holm-corrected pairwise Welch tests. Rows with a missing value or level must be dropped by the caller."""
    frame = pd.DataFrame({"y": np.asarray(values, dtype=float), "level": [str(v) for v in levels],
                          "cell": list(cells)})
    order = level_order(frame["level"])
    if reference is not None and reference in order:
        order = [reference] + [v for v in order if v != reference]
    samples = {lv: frame.loc[frame["level"] == lv, "y"].to_numpy() for lv in order}
    out: dict[str, Any] = {"kind": CATEGORICAL, "reference": order[0] if order else None, "levels": [
        {"level": lv, **describe(samples[lv]), "cells": frame.loc[frame["level"] == lv, "cell"].tolist()}
        for lv in order]}
    out["test"] = None
    out["test_df"] = None
    out["difference"] = None
    out["rank_test"] = None
    out["pairwise"] = []
    out["variance_explained"] = _eta_squared(frame["y"].to_numpy(), frame["level"].to_numpy())
    if len(order) < 2:
        return out
    if len(order) == 2:
        a, b = samples[order[0]], samples[order[1]]
        w = welch_difference(a, b)
        g = hedges_g(a, b)
        out["difference"] = {"levels": [order[1], order[0]], "estimate": w["difference"], "ci95": w["ci95"],
                             "method": f"{WELCH_T} interval of {order[1]} − {order[0]}"}
        out["test"] = {"name": WELCH_T, "statistic": w["statistic"], "p_value": w["p_value"],
                       "effect_size": _f(g), "effect_size_name": HEDGES_G}
        out["test_df"] = w["df"]
        out["rank_test"] = rank_test(a, b)
        return out
    out["test"], out["test_df"] = _welch_anova([samples[lv] for lv in order])
    pairs = [(order[i], order[j]) for i in range(len(order)) for j in range(i + 1, len(order))]
    rows = []
    for lo, hi in pairs:
        w = welch_difference(samples[lo], samples[hi])
        rows.append({"levels": [hi, lo], "difference": w["difference"], "ci95": w["ci95"], "p_value": w["p_value"],
                     "hedges_g": _f(hedges_g(samples[lo], samples[hi]))})
    for row, p in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_holm"] = p
    out["pairwise"] = rows
    out["pairwise_test"] = f"{WELCH_T} per pair, p corrected by {HOLM} (intervals uncorrected)"
    return out


def _welch_anova(samples: list[np.ndarray]) -> tuple[dict[str, Any], list | None]:
    """Welch's ANOVA (statsmodels anova_oneway, unequal variances) with Cohen's f (statsmodels effectsize_oneway)."""
    from statsmodels.stats.oneway import anova_oneway, effectsize_oneway

    usable = [s for s in samples if s.size >= 2 and s.var(ddof=1) > 0]
    base = {"name": WELCH_ANOVA, "statistic": None, "p_value": None, "effect_size": None,
            "effect_size_name": COHENS_F}
    if len(usable) < 2:
        return base, None
    r = anova_oneway(usable, use_var="unequal", welch_correction=True)
    f2 = effectsize_oneway(r.means, r.vars_, r.nobs, use_var="unequal")
    return {**base, "statistic": _f(r.statistic), "p_value": _f(r.pvalue),
            "effect_size": _f(math.sqrt(f2)) if f2 is not None and f2 >= 0 else None}, [_f(r.df_num), _f(r.df_denom)]


def _eta_squared(y: np.ndarray, levels: np.ndarray) -> float | None:
    """Share of the outcome's variance between levels (SS_between / SS_total), the screen's common scale."""
    if y.size < 2:
        return None
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:
        return None
    between = sum(float((part.size) * (part.mean() - y.mean()) ** 2)
                  for part in (y[levels == lv] for lv in np.unique(levels)))
    return between / total


# --- numeric factor -----------------------------------------------------------------------------------------

def numeric_effect(x: Sequence[float], y: Sequence[float], cells: Sequence[str], *, scale: str = LINEAR) -> dict:
    """OLS of the outcome on a numeric factor (statsmodels): slope with its 95 % CI, R², p, the 95 % band of the
    mean line; `scale='log-log'` fits ln(y) on ln(x), so the slope is the power-law exponent n of y ∝ xⁿ.
    Points that cannot be logged (≤ 0) are left out and listed in `dropped`."""
    import statsmodels.api as sm

    if scale not in (LINEAR, LOG_LOG):
        raise ValueError(f"scale must be '{LINEAR}' or '{LOG_LOG}', not {scale!r}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    names = np.asarray(list(cells), dtype=object)
    keep = np.isfinite(x) & np.isfinite(y)
    dropped = []
    if scale == LOG_LOG:
        positive = (x > 0) & (y > 0)
        dropped = names[keep & ~positive].tolist()
        keep &= positive
    x, y, names = x[keep], y[keep], names[keep]
    points = {"x": x.tolist(), "y": y.tolist(), "cells": names.tolist()}
    out: dict[str, Any] = {"kind": NUMERIC, "points": points, "dropped": dropped, "band": None,
                           "regression": {"slope": None, "slope_ci95": [None, None], "r2": None,
                                          "p_value": None, "n": int(x.size), "scale": scale},
                           "test": None, "test_df": None, "intercept": None, "variance_explained": None}
    if x.size < 3 or np.unique(x).size < 2:
        return out
    fx, fy = (np.log(x), np.log(y)) if scale == LOG_LOG else (x, y)
    fit = sm.OLS(fy, sm.add_constant(fx)).fit()
    ci = fit.conf_int(alpha=1 - CONFIDENCE)
    slope = float(fit.params[1])
    r = math.copysign(math.sqrt(max(fit.rsquared, 0.0)), slope) if math.isfinite(fit.rsquared) else None
    out["regression"].update(slope=slope, slope_ci95=_pair(ci[1]), r2=_f(fit.rsquared),
                             p_value=_f(fit.pvalues[1]))
    out["test"] = {"name": OLS_SLOPE + (" on ln(outcome) vs ln(factor)" if scale == LOG_LOG else ""),
                   "statistic": _f(fit.tvalues[1]), "p_value": _f(fit.pvalues[1]), "effect_size": _f(r),
                   "effect_size_name": PEARSON_R + (" of the logs" if scale == LOG_LOG else "")}
    out["test_df"], out["intercept"] = _f(fit.df_resid), _f(fit.params[0])
    out["fit_sd_resid"], out["fit_var_x"] = math.sqrt(fit.mse_resid), float(np.var(fx))
    out["variance_explained"] = _f(fit.rsquared)
    if scale == LOG_LOG:
        grid = np.exp(np.linspace(np.log(x.min()), np.log(x.max()), BAND_POINTS))
        pred = fit.get_prediction(sm.add_constant(np.log(grid), has_constant="add"))
        frame = pred.summary_frame(alpha=1 - CONFIDENCE)
        line, lo, hi = (np.exp(frame[c].to_numpy()) for c in ("mean", "mean_ci_lower", "mean_ci_upper"))
    else:
        grid = np.linspace(x.min(), x.max(), BAND_POINTS)
        frame = fit.get_prediction(sm.add_constant(grid, has_constant="add")).summary_frame(alpha=1 - CONFIDENCE)
        line, lo, hi = (frame[c].to_numpy() for c in ("mean", "mean_ci_lower", "mean_ci_upper"))
    out["band"] = {"x": grid.tolist(), "fit": line.tolist(), "lo": lo.tolist(), "hi": hi.tolist()}
    return out


# --- honesty: confounding, small n, skew --------------------------------------------------------------------

def association(a: pd.Series, b: pd.Series, kind_a: str, kind_b: str) -> tuple[float | None, str]:
    """(|association| in [0, 1], its name) of two build facts over the cells where both are known:
    Cramér's V (categorical × categorical, scipy.stats.contingency), |Pearson r| (numeric × numeric), the
    correlation ratio η (categorical × numeric). None when either does not vary there."""
    both = pd.DataFrame({"a": a, "b": b}).dropna()
    if len(both) < 3 or both["a"].nunique() < 2 or both["b"].nunique() < 2:
        return None, ""
    if kind_a == CATEGORICAL and kind_b == CATEGORICAL:
        table = pd.crosstab(both["a"].astype(str), both["b"].astype(str)).to_numpy()
        return float(sps.contingency.association(table, method="cramer")), "Cramér's V"
    if kind_a == NUMERIC and kind_b == NUMERIC:
        return abs(float(sps.pearsonr(both["a"].astype(float), both["b"].astype(float)).statistic)), "|Pearson r|"
    cat, num = (both["a"], both["b"]) if kind_a == CATEGORICAL else (both["b"], both["a"])
    eta2 = _eta_squared(num.astype(float).to_numpy(), cat.astype(str).to_numpy())
    return (math.sqrt(eta2) if eta2 is not None else None), "correlation ratio η"


def confounders(facts: pd.DataFrame, kinds: dict[str, str], factor: str, *,
                threshold: float = CONFOUNDING_ASSOCIATION) -> list[dict[str, Any]]:
    """Other build facts that vary together with `factor` over these cells (|association| ≥ threshold),
    strongest first, each with how their values pair up (e.g. {'LNTO': ['B'], 'none': ['A']})."""
    found = []
    for other in facts.columns:
        if other == factor:
            continue
        value, name = association(facts[factor], facts[other], kinds[factor], kinds[other])
        if value is None or value < threshold:
            continue
        both = facts[[factor, other]].dropna()
        pairs = {str(k): sorted({_show(v) for v in part}) for k, part in both.groupby(factor, sort=True)[other]}
        found.append({"fact": other, "association": value, "measure": name, "pairs": pairs})
    return sorted(found, key=lambda f: -f["association"])


def _show(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def skewed_levels(samples: dict[str, np.ndarray]) -> list[str]:
    """Levels whose values a Shapiro-Wilk test (scipy) rejects as normal at α 0.05 (n ≥ 3 needed)."""
    out = []
    for level, x in samples.items():
        x = np.asarray(x, dtype=float)
        if x.size >= 3 and np.ptp(x) > 0 and sps.shapiro(x).pvalue < ALPHA:
            out.append(level)
    return out


# --- replicate planning -------------------------------------------------------------------------------------

def replicates_needed(*, difference: float, sd: float, alpha: float = ALPHA, power: float = POWER,
                      n_comparisons: int = 1) -> dict[str, Any]:
    """Cells per level for a two-sided two-sample t-test to detect `difference` given the within-level `sd`
    (statsmodels TTestIndPower, equal n); with several pairwise comparisons α is Bonferroni-split (Holm's
    strictest step) so the plan still holds after correction."""
    from statsmodels.stats.power import TTestIndPower

    base = {"difference": _f(difference), "sd": _f(sd), "alpha": alpha, "power": power,
            "n_comparisons": n_comparisons, "effect_size": None, "n_per_level": None,
            "method": "two-sample t-test power (statsmodels TTestIndPower), equal n per level"}
    if not difference or not sd or not math.isfinite(difference) or not math.isfinite(sd) or sd <= 0:
        return base
    d = abs(difference) / sd
    analysis, a = TTestIndPower(), alpha / n_comparisons
    if analysis.power(effect_size=d, nobs1=2, alpha=a, ratio=1.0, alternative="two-sided") >= power:
        return {**base, "effect_size": d, "n_per_level": 2}  # the solver has no root below the smallest design
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = analysis.solve_power(effect_size=d, alpha=a, power=power, ratio=1.0, alternative="two-sided")
    n = float(np.asarray(n).item()) if n is not None else math.nan
    return {**base, "effect_size": d, "n_per_level": math.ceil(n) if math.isfinite(n) else None}


def regression_cells_needed(*, slope: float, sd_resid: float, var_x: float, alpha: float = ALPHA,
                            power: float = POWER) -> dict[str, Any]:
    """Cells in total (at the same spread of the factor) for the OLS slope test to detect `slope` given the residual
    sd: Cohen's f² = slope² var(x) / sd², solved with statsmodels FTestPowerF2 (1 numerator df, nobs = df + 2)."""
    from statsmodels.stats.power import FTestPowerF2

    base = {"slope": _f(slope), "sd": _f(sd_resid), "alpha": alpha, "power": power, "effect_size": None,
            "n_cells": None, "method": "OLS slope F-test power (statsmodels FTestPowerF2, Cohen's f²), "
                                      "factor spread as observed"}
    if not slope or not sd_resid or not var_x or not all(map(math.isfinite, (slope, sd_resid, var_x))):
        return base
    f2 = slope ** 2 * var_x / sd_resid ** 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = FTestPowerF2().solve_power(effect_size=f2, df_num=1, df_denom=None, alpha=alpha, power=power, ncc=1)
    df = float(np.asarray(df).item()) if df is not None else math.nan
    return {**base, "effect_size": f2, "n_cells": max(3, math.ceil(df + 2)) if math.isfinite(df) else None}


# --- factor screen ------------------------------------------------------------------------------------------

def screen(outcome: Sequence[float], facts: pd.DataFrame, kinds: dict[str, str],
           cells: Sequence[str]) -> list[dict[str, Any]]:
    """Every build fact that varies where the outcome is known, with its effect (difference of two levels or
    slope, with CI), test, p and Holm-corrected p over all screened facts; ranked by corrected p, then by the
    share of the outcome's variance it explains (η² or R²)."""
    y = np.asarray(outcome, dtype=float)
    rows = []
    for fact in facts.columns:
        col = facts[fact]
        keep = np.isfinite(y) & col.notna().to_numpy()
        if keep.sum() < 3 or col[keep].nunique() < 2:
            continue
        names = np.asarray(list(cells), dtype=object)[keep]
        if kinds[fact] == CATEGORICAL:
            res = categorical_effect(y[keep], col[keep].astype(str).tolist(), names.tolist())
            diff = res["difference"]
            effect = ({"name": f"difference {diff['levels'][0]} − {diff['levels'][1]}", "estimate": diff["estimate"],
                       "ci95": diff["ci95"]} if diff else
                      {"name": COHENS_F, "estimate": (res["test"] or {}).get("effect_size"), "ci95": [None, None]})
            n_levels = len(res["levels"])
            min_n = min(lv["n"] for lv in res["levels"])
        else:
            res = numeric_effect(col[keep].astype(float).to_numpy(), y[keep], names.tolist())
            reg = res["regression"]
            effect = {"name": "slope per unit", "estimate": reg["slope"], "ci95": reg["slope_ci95"]}
            n_levels, min_n = int(col[keep].nunique()), None
        test = res["test"] or {}
        rows.append({"factor": fact, "kind": kinds[fact], "n": int(keep.sum()), "n_levels": n_levels,
                     "min_n_per_level": min_n, "effect": effect, "test": test.get("name"),
                     "statistic": test.get("statistic"), "p_value": test.get("p_value"),
                     "effect_size": test.get("effect_size"), "effect_size_name": test.get("effect_size_name"),
                     "variance_explained": res["variance_explained"]})
    for row, p in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_holm"] = p
        row["correction"] = f"{HOLM} over {len(rows)} facts"
    rows.sort(key=lambda r: (r["p_holm"] if r["p_holm"] is not None else 2.0,
                             -(r["variance_explained"] or 0.0), r["factor"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows
