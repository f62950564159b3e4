"""The effect figure for papers (matplotlib SVG/PDF) and its caption: pure, the API's report dict in, bytes out.

Categorical: every cell as a point per level (never bars alone) with the level's mean and 95 % CI; numeric: the
cells on the factor axis with the regression line and its 95 % band (log axes for a log-log fit). The caption
under the plot gives n per level, the intervals, the test, its p and the effect size.
"""
from __future__ import annotations

import io
import textwrap

import numpy as np

FORMATS = {"svg": "image/svg+xml", "pdf": "application/pdf"}
STYLE = {
    "font.size": 8, "axes.labelsize": 9, "axes.titlesize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "axes.linewidth": 0.8, "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none",
    "pdf.fonttype": 42, "font.family": "DejaVu Sans", "savefig.bbox": "tight", "savefig.pad_inches": 0.04,
    "svg.hashsalt": "assb-lab",
}
POINT, MEAN = "#475467", "#2459c5"


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}g}"


def _ci(ci) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci and ci[0] is not None else "[–]"


def _axis_label(label: str, unit: str) -> str:
    return f"{label} ({unit})" if unit else label


def caption(report: dict) -> str:
    """One paragraph: what the points and bars are, n and mean with 95 % CI per level, the test and its result."""
    unit = report.get("outcome_unit") or ""
    parts = []
    if report["kind"] == "categorical":
        parts.append("Points: single cells; bars: level mean with its 95 % t-interval.")
        parts.append("; ".join(f"{lv['level']}: n = {lv['n']}, mean {_fmt(lv['mean'])} {unit} "
                               f"(95 % CI {_ci(lv['ci95'])})" for lv in report["levels"]) + ".")
        diff = report.get("difference")
        if diff:
            parts.append(f"Difference {diff['levels'][0]} − {diff['levels'][1]}: {diff['estimate']:+.3g} {unit}, "
                         f"95 % CI {_ci(diff['ci95'])} (Welch).")
    else:
        reg = report["regression"]
        what = "Power-law exponent (ln–ln fit)" if reg["scale"] == "log-log" else f"Slope ({unit} per factor unit)"
        parts.append(f"Points: single cells (n = {reg['n']}); line: OLS fit with its 95 % confidence band.")
        if reg["slope"] is not None:
            parts.append(f"{what}: {_fmt(reg['slope'])}, 95 % CI {_ci(reg['slope_ci95'])}, R² = {_fmt(reg['r2'])}.")
    test = report.get("test")
    if test and test.get("p_value") is not None:
        es = f", {test['effect_size_name']} = {_fmt(test['effect_size'])}" if test.get("effect_size") is not None else ""
        parts.append(f"{test['name']}: p = {_fmt(test['p_value'])}{es}.")
    if report.get("pairwise"):
        parts.append("Pairwise Welch tests, p Holm-corrected.")
    flagged = [w["code"] for w in report.get("warnings", []) if w["code"] in ("confounded", "small_n", "protocol",
                                                                               "missing_outcome")]
    if flagged:
        parts.append("Warnings: " + ", ".join(sorted(set(flagged))).replace("_", " ") + ".")
    return " ".join(parts)


def effect_figure(report: dict, *, fmt: str = "svg") -> bytes:
    """The effect plot of one report (effects.report.effect_report) with its caption, as SVG or PDF."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    if fmt not in FORMATS:
        raise ValueError(f"figure format must be svg or pdf, not {fmt!r}")
    text = textwrap.fill(caption(report), 78)
    lines = text.count("\n") + 1
    with rc_context(STYLE):
        height_in = 2.6 + 0.13 * lines
        fig = Figure(figsize=(3.5, height_in))
        # Room under the axes for the tick labels (two lines for levels with their n), the axis label, the caption.
        bottom = (0.13 * lines + (0.62 if report["kind"] == "categorical" else 0.45)) / height_in
        ax = fig.add_axes((0.17, bottom, 0.78, 0.92 - bottom))
        ylabel = _axis_label(report.get("outcome_label", report["outcome"]), report.get("outcome_unit", ""))
        if report["kind"] == "categorical":
            _categorical(ax, report)
            ax.set_xlabel(report.get("factor_label", report["factor"]))
        else:
            _numeric(ax, report)
            ax.set_xlabel(_axis_label(report.get("factor_label", report["factor"]), report.get("factor_unit", "")))
        ax.set_ylabel(ylabel)
        fig.text(0.02, 0.01, text, ha="left", va="bottom", fontsize=6.5, color="#1d2433")
        buf = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"CreationDate": None}
        fig.savefig(buf, format=fmt, metadata=metadata)
        return buf.getvalue()


def _categorical(ax, report: dict) -> None:
    if not report["levels"]:
        ax.text(0.5, 0.5, "no cells", ha="center", va="center", transform=ax.transAxes, color="#5b6478")
    levels = [lv["level"] for lv in report["levels"]]
    rng = np.random.default_rng(0)  # fixed jitter: the same data gives the same figure
    for i, lv in enumerate(report["levels"]):
        ys = [p["value"] for p in report.get("points", []) if p["level"] == lv["level"]]
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(ys)), ys, s=14, color=POINT, alpha=0.8, zorder=3,
                   linewidths=0)
        if lv["mean"] is not None:
            lo, hi = lv["ci95"]
            err = None if lo is None else [[lv["mean"] - lo], [hi - lv["mean"]]]
            ax.errorbar([i + 0.28], [lv["mean"]], yerr=err, fmt="o", color=MEAN, ms=4, capsize=3, lw=1.1, zorder=4)
    ax.set_xticks(range(len(levels)), [f"{lv}\n(n = {x['n']})" for lv, x in zip(levels, report["levels"],
                                                                                  strict=True)])
    ax.set_xlim(-0.5, len(levels) - 0.3)


def _numeric(ax, report: dict) -> None:
    pts = report.get("points", [])
    if not pts:
        ax.text(0.5, 0.5, "no cells", ha="center", va="center", transform=ax.transAxes, color="#5b6478")
    ax.scatter([p["x"] for p in pts], [p["value"] for p in pts], s=14, color=POINT, alpha=0.8, zorder=3, linewidths=0)
    band = report.get("band")
    if band:
        ax.fill_between(band["x"], band["lo"], band["hi"], color=MEAN, alpha=0.18, linewidth=0)
        ax.plot(band["x"], band["fit"], color=MEAN, lw=1.2)
    if report["regression"]["scale"] == "log-log" and pts:
        ax.set_xscale("log")
        ax.set_yscale("log")
