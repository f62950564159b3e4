"""The effect figure for papers (pure): caption with n, intervals and test; an empty selection still draws."""
import pandas as pd

from effects import figures, report
from effects.simulate import pressure_campaign

KINDS = {"coating": "categorical", "electrolyte_batch": "categorical", "stack_pressure_mpa": "numeric"}


def test_the_log_log_caption_gives_the_exponent_with_its_interval_and_n():
    out = report.effect_report(pressure_campaign(seed=3), outcome="r", outcome_label="R_int", outcome_unit="Ω",
                               factor="stack_pressure_mpa", kinds=KINDS, scale="log-log")
    text = figures.caption(out)
    lo, hi = out["regression"]["slope_ci95"]
    assert "single cells (n = 12)" in text and "OLS fit with its 95 % confidence band" in text
    assert f"Power-law exponent (ln–ln fit): {out['regression']['slope']:.3g}, 95 % CI [{lo:.3g}, {hi:.3g}]" in text
    svg = figures.effect_figure(out, fmt="svg").decode()
    assert "Power-law exponent" in svg and "R_int (Ω)" in svg  # caption and axis label kept as text


def test_an_empty_selection_draws_a_figure_saying_no_cells():
    empty = pd.DataFrame(columns=["cell", "value", "why", "protocol", *KINDS])
    for factor, scale in (("stack_pressure_mpa", "log-log"), ("coating", "linear")):
        out = report.effect_report(empty, outcome="r", outcome_label="R_int", outcome_unit="Ω", factor=factor,
                                   kinds=KINDS, scale=scale)
        assert "no cells" in figures.effect_figure(out, fmt="svg").decode()
