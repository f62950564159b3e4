"""One effect report (the API's answer) and one factor screen from a table of cells: pure, no Django.

The table has one row per cell: `cell` (name), `value` (the outcome, NaN when missing), `why` (the reason it
is missing), `protocol` (the protocol signature the outcome depends on) and one column per build fact.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import stats
from .stats import CATEGORICAL, MIN_N_PER_LEVEL


def _warning(code: str, message: str, cells: list[str] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "cells": cells or []}


def _varying(frame: pd.DataFrame, facts: list[str]) -> list[str]:
    return [f for f in facts if frame[f].dropna().nunique() > 1]


def effect_report(table: pd.DataFrame, *, outcome: str, outcome_label: str, outcome_unit: str, factor: str,
                  kinds: dict[str, str], labels: dict[str, str] | None = None, scale: str = stats.LINEAR,
                  detect: float | None = None) -> dict[str, Any]:
    """The effect of `factor` on `outcome` over the table's cells, with the warnings that say how far to trust it."""
    labels = labels or {}
    kind = kinds[factor]
    if kind == CATEGORICAL and scale != stats.LINEAR:
        raise ValueError(f"scale={scale} needs a numeric factor; {factor} is categorical")
    facts = [f for f in kinds if f in table.columns]
    has_factor = table[factor].notna()
    has_value = np.isfinite(table["value"].to_numpy(dtype=float))
    excluded = [{"cell": row.cell, "id": int(idx), "reason": f"{labels.get(factor, factor)} not recorded"}
                for idx, row in table[~has_factor].iterrows()]
    excluded += [{"cell": row.cell, "id": int(idx), "reason": f"no {outcome_label}: {row.why or 'missing'}"}
                 for idx, row in table[has_factor & ~has_value].iterrows()]
    used = table[has_factor & has_value]
    names = used["cell"].tolist()
    y = used["value"].to_numpy(dtype=float)
    warnings: list[dict] = []

    out: dict[str, Any] = {"outcome": outcome, "outcome_unit": outcome_unit, "factor": factor, "kind": kind,
                           "outcome_label": outcome_label, "factor_label": labels.get(factor, factor),
                           "factor_unit": "", "levels": [], "regression": None, "test": None, "warnings": warnings}
    if kind == CATEGORICAL:
        res = stats.categorical_effect(y, used[factor].astype(str).tolist(), names)
        out["levels"] = res["levels"]
        out["reference_level"] = res["reference"]
        out["difference"] = res["difference"]
        out["rank_test"] = res["rank_test"]
        out["pairwise"] = res["pairwise"]
        if res["pairwise"]:
            out["pairwise_test"] = res["pairwise_test"]
        out["test"] = res["test"]
        out["test_df"] = res["test_df"]
        out["points"] = [{"cell": n, "id": int(i), "level": str(lv), "value": float(v)}
                         for i, n, lv, v in zip(used.index, names, used[factor], y, strict=True)]
        small = [lv for lv in res["levels"] if lv["n"] < MIN_N_PER_LEVEL]
        if small:
            warnings.append(_warning("small_n", "Fewer than 3 cells in " + ", ".join(
                f"{lv['level']} (n = {lv['n']})" for lv in small) + ": the interval and test are unreliable.",
                [c for lv in small for c in lv["cells"]]))
        if len(res["levels"]) < 2:
            warnings.append(_warning("one_level", f"Only one level of {labels.get(factor, factor)} among these "
                                     "cells: nothing to compare."))
        elif res["rank_test"] and min(lv["n"] for lv in res["levels"]) < stats.SMALL_N:
            warnings.append(_warning(
                "rank_test", f"Fewer than {stats.SMALL_N} cells per level: Welch's t-test leans on normality; read "
                f"the rank test ({res['rank_test']['name']}, p = {res['rank_test']['p_value']:.3g}) alongside "
                "(with 3 vs 3 cells its smallest possible p is 0.1)."))
        skewed = stats.skewed_levels({lv["level"]: used.loc[used[factor].astype(str) == lv["level"], "value"]
                                      .to_numpy(dtype=float) for lv in res["levels"]})
        if skewed:
            warnings.append(_warning("skewed", "Values of " + ", ".join(skewed) + " do not look normal "
                                     "(Shapiro-Wilk p < 0.05): prefer the rank test."))
        out["planning"] = _planning(res, detect)
    else:
        x = used[factor].to_numpy(dtype=float)
        res = stats.numeric_effect(x, y, names, scale=scale)
        out["regression"] = res["regression"]
        out["test"] = res["test"]
        out["test_df"] = res["test_df"]
        out["intercept"] = res["intercept"]
        out["band"] = res["band"]
        # Replicates at each value of the factor, for the table (and hover).
        out["levels"] = [{"level": float(lv), **stats.describe(part["value"].to_numpy(dtype=float)),
                          "cells": part["cell"].tolist()} for lv, part in used.groupby(factor, sort=True)]
        out["points"] = [{"cell": n, "id": int(i), "x": float(xv), "value": float(v)}
                         for i, n, xv, v in zip(used.index, names, x, y, strict=True)]
        if res["dropped"]:
            warnings.append(_warning("not_logged", "Left out of the log-log fit (zero or negative): "
                                     + ", ".join(res["dropped"]) + ".", res["dropped"]))
        if res["regression"]["n"] < MIN_N_PER_LEVEL or np.unique(x).size < 2:
            warnings.append(_warning("small_n", f"A regression needs at least 3 cells at 2 or more values of "
                                     f"{labels.get(factor, factor)}; here {len(x)} cells at {np.unique(x).size}."))
        elif np.unique(x).size < 3:
            warnings.append(_warning("two_values", f"Only two values of {labels.get(factor, factor)}: a straight "
                                     "line through two means cannot show curvature."))
        reg = res["regression"]
        out["planning"] = None if reg["slope"] is None else {
            **stats.regression_cells_needed(slope=detect if detect is not None else reg["slope"],
                                            sd_resid=res["fit_sd_resid"], var_x=res["fit_var_x"]),
            "observed_slope": reg["slope"], "current_n": reg["n"], "scale": reg["scale"]}
    missing = table[has_factor & ~has_value]
    if len(missing):
        warnings.append(_warning("missing_outcome", f"No {outcome_label} for " + ", ".join(
            f"{r.cell} ({r.why or 'missing'})" for r in missing.itertuples()) + ": left out.", missing["cell"].tolist()))
    if (~has_factor).any():
        cells = table.loc[~has_factor, "cell"].tolist()
        warnings.append(_warning("missing_factor", f"{labels.get(factor, factor)} not recorded for "
                                 + ", ".join(cells) + ": left out.", cells))
    others = _varying(used, [f for f in facts if f != factor])
    confounded = stats.confounders(used[[factor, *others]], kinds, factor)
    for found in confounded:
        pairs = "; ".join(f"{k} → {', '.join(v)}" for k, v in found["pairs"].items())
        warnings.append(_warning(
            "confounded", f"Confounded: {labels.get(found['fact'], found['fact'])} varies together with "
            f"{labels.get(factor, factor)} ({found['measure']} = {found['association']:.2f}; {pairs}). The effect "
            "cannot be told apart from that of the other fact."))
    out["confounded_with"] = [f["fact"] for f in confounded]
    protocols = used.groupby("protocol", sort=True)["cell"].apply(list) if len(used) else pd.Series(dtype=object)
    if len(protocols) > 1:
        warnings.append(_warning("protocol", f"The cells ran different protocols for {outcome_label}: " + "; ".join(
            f"{p}: {', '.join(c)}" for p, c in protocols.items()) + "."))
    out["excluded"] = excluded
    out["n"] = int(len(used))
    out["cells"] = [{"id": int(i), "cell": n} for i, n in zip(used.index, names, strict=True)]
    return out


def _planning(res: dict, detect: float | None) -> dict | None:
    """Cells per level to detect `detect` (default: the observed difference, the largest pairwise one when more
    than two levels) with the observed pooled sd, power 0.8, α 0.05 split over the pairwise comparisons."""
    levels = res["levels"]
    if len(levels) < 2:
        return None
    sd = stats.pooled_sd([(lv["n"], lv["sd"]) for lv in levels])
    if res["difference"]:
        observed = res["difference"]["estimate"]
    else:
        observed = max((abs(p["difference"]) for p in res["pairwise"]), default=None)
    k = len(levels)
    plan = stats.replicates_needed(difference=detect if detect is not None else observed, sd=sd,
                                   n_comparisons=k * (k - 1) // 2)
    plan["observed_difference"] = observed
    plan["current_n_per_level"] = min(lv["n"] for lv in levels)
    return plan



def screen_report(table: pd.DataFrame, *, outcome: str, outcome_label: str, outcome_unit: str,
                  kinds: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    """Every build fact that varies among the cells with the outcome, ranked (stats.screen), each row naming the
    facts it is confounded with."""
    labels = labels or {}
    has_value = np.isfinite(table["value"].to_numpy(dtype=float))
    used = table[has_value]
    facts = _varying(used, [f for f in kinds if f in table.columns])
    rows = stats.screen(used["value"].to_numpy(dtype=float), used[facts], {f: kinds[f] for f in facts},
                        used["cell"].tolist()) if facts else []
    for row in rows:
        row["label"] = labels.get(row["factor"], row["factor"])
        row["confounded_with"] = [f["fact"] for f in stats.confounders(used[facts], kinds, row["factor"])]
    missing = table[~has_value]
    warnings = []
    if len(missing):
        warnings.append(_warning("missing_outcome", f"No {outcome_label} for " + ", ".join(
            f"{r.cell} ({r.why or 'missing'})" for r in missing.itertuples()) + ": left out.", missing["cell"].tolist()))
    if any(row["confounded_with"] for row in rows):
        warnings.append(_warning("confounded", "Facts that vary together cannot be told apart: see "
                                 "'confounded with' in the rows."))
    return {"outcome": outcome, "outcome_unit": outcome_unit, "outcome_label": outcome_label, "n": int(len(used)),
            "rows": rows, "warnings": warnings,
            "excluded": [{"cell": r.cell, "id": int(i), "reason": f"no {outcome_label}: {r.why or 'missing'}"}
                         for i, r in missing.iterrows()]}
