"""The effects' cycling outcomes come from the cells' stored figures and the rows of one cycle: the same values,
reasons and protocols as cell_metrics and cell_retention_series run on each cell's whole timeline (the demo
study's LAND exports, imported), before and after the data or the project's reference cycle change."""
import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cells.models import Cell
from cells.services import cell_data_changed
from cycling.analysis import cell_retention_series
from cycling.models import CellFigures, CycleSummary
from cycling.selectors import cell_run_metrics, cells_cycles_frame
from effects.outcomes import OUTCOMES, outcome_frame

pytestmark = pytest.mark.django_db

CYCLING = [k for k, o in OUTCOMES.items() if o.protocol != "eis"]


def from_timeline(cell: Cell, key: str, cycle: int | None) -> float:
    """The outcome as the metric functions give it on the cell's whole timeline (what the cell page shows)."""
    metrics = cell_run_metrics(cell)
    frame = cells_cycles_frame([cell.pk])
    part = frame[~frame["is_partial"].astype(bool)]
    if not OUTCOMES[key].at_cycle:
        value = metrics.get(key)
        return np.nan if value is None else float(value)
    at = part["cycle"].to_numpy() == cycle
    if not at.any():
        return np.nan
    if key == "discharge_at_cycle_mah_g":
        return float(part.loc[at, "discharge_mah_g"].iloc[0])
    series, _ = cell_retention_series(part, reference_cycle=metrics["retention_reference_cycle"])
    return float(series[np.flatnonzero(at)[0]])


def assert_same_as_the_timeline(cells, cycles=(1, 3, 10, 12, 13)):
    for key in CYCLING:
        for cycle in cycles if OUTCOMES[key].at_cycle else (None,):
            got = outcome_frame(cells, OUTCOMES[key], cycle)
            expected = pd.Series([from_timeline(c, key, cycle) for c in cells], index=[c.pk for c in cells])
            pd.testing.assert_series_equal(got["value"], expected, check_names=False, rtol=0, atol=0)
            assert (got["why"] == "").tolist() == np.isfinite(expected).tolist(), (key, cycle)


def test_it_gives_every_cycling_outcome_as_the_metric_functions_give_it_on_the_timeline(study):
    cells = sorted(study["cells"], key=lambda c: c.name)
    assert_same_as_the_timeline(cells)
    ice = outcome_frame(cells, OUTCOMES["initial_ce_percent"])
    by_name = dict(zip([c.name for c in cells], ice["value"], strict=True))
    assert by_name["BARE-01"] == pytest.approx(54.5, abs=0.05) and by_name["LNTO-01"] == pytest.approx(85.8, abs=0.05)
    assert set(ice["protocol"].str.split(";").str[0]) == {"cycle 1 at 0.1C"}
    retention = outcome_frame(cells, OUTCOMES["retention_percent"])
    assert set(retention["protocol"].str.split(";").str[0]) == {"long-term at C/3"}  # cycles 3-12 of the study
    late = outcome_frame(cells, OUTCOMES["discharge_at_cycle_mah_g"], 13)
    assert set(late["why"]) == {"did not reach cycle 13"}
    at_10 = outcome_frame(cells, OUTCOMES["retention_at_cycle_percent"], 10)
    assert at_10["protocol"].iloc[0].startswith("cycle 10 at ") and " vs cycle 3;" in at_10["protocol"].iloc[0]


def test_it_follows_the_projects_reference_cycle_and_new_data(study):
    cells = sorted(study["cells"], key=lambda c: c.name)
    outcome_frame(cells, OUTCOMES["retention_percent"])  # figures stored at this data version
    project = cells[0].project
    project.retention_reference_cycle = 5
    project.save()
    cells = list(Cell.objects.filter(pk__in=[c.pk for c in cells]).order_by("name"))
    at_10 = outcome_frame(cells, OUTCOMES["retention_at_cycle_percent"], 10)
    assert all(" vs cycle 5;" in p for p in at_10["protocol"])
    assert_same_as_the_timeline(cells, cycles=(5, 10))
    # A re-import that leaves cycle 12 of LNTO-01 incomplete: its last cycle is then 11 everywhere.
    lnto1 = next(c for c in cells if c.name == "LNTO-01")
    CycleSummary.objects.filter(cell=lnto1, cycle=12).update(is_partial=True)
    cell_data_changed(cell_id=lnto1.pk)
    cells = list(Cell.objects.filter(pk__in=[c.pk for c in cells]).order_by("name"))
    assert_same_as_the_timeline(cells, cycles=(11, 12))
    assert CellFigures.objects.get(cell=lnto1).latest_cycle == 11
    reasons = outcome_frame(cells, OUTCOMES["discharge_at_cycle_mah_g"], 12).loc[lnto1.pk]
    assert reasons["why"] == "did not reach cycle 12"


def test_it_reads_without_recomputing_once_the_figures_are_stored(study, monkeypatch):
    cells = sorted(study["cells"], key=lambda c: c.name)
    outcome_frame(cells, OUTCOMES["retention_percent"])

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed although the stored figures are current")

    monkeypatch.setattr("cycling.analysis.metrics.run_metrics", refuse)
    with CaptureQueriesContext(connection) as long_term:
        outcome_frame(cells, OUTCOMES["decay_percent_per_cycle"])
    with CaptureQueriesContext(connection) as at_n:
        outcome_frame(cells, OUTCOMES["retention_at_cycle_percent"], 10)
    # stale check + figures (+ the cycle's rows)
    assert (len(long_term.captured_queries), len(at_n.captured_queries)) == (2, 3)
