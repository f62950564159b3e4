"""The one cell-metrics function: ICE, first charge/discharge, retention vs a reference, decay with its reference,
cycles to 80/70 %, knee and last cycle, over a cell's cycles on its timeline. Every face (cell page, compare
page and summary, summaries, exports, API) calls it, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .fade import default_reference_cycle, delivered_column, retention_series, run_metrics

CELL_METRIC_KEYS = (
    "capacity_unit", "capacity_half", "ce_convention", "n_cycles", "ice_cycle", "initial_ce_percent", "first_charge_mah",
    "first_discharge_mah", "first_charge_mah_g", "first_discharge_mah_g", "last_cycle", "last_capacity",
    "retention_reference_cycle", "reference_capacity", "retention_percent", "decay_percent_per_cycle",
    "decay_reference_cycle", "decay_last_cycle", "decay_cycles", "cycles_to_80_percent", "cycles_to_70_percent",
    "knee_cycle", "capacity_at_cycle",
)


def first_half_of(ce_convention: str | None) -> str:
    """The first half-cycle a stored CE convention stands for ('discharge/charge' = charge first)."""
    return "discharge" if ce_convention == "charge/discharge" else "charge"


def _convention(cycles: pd.DataFrame, ce_convention: str | None) -> str:
    if ce_convention is None and "ce_convention" in cycles:
        ce_convention = next((c for c in cycles["ce_convention"] if c), None)
    return ce_convention or "discharge/charge"


def cell_metrics(cycles: pd.DataFrame, *, ce_convention: str | None = None, reference_cycle: int | None = None,
                 decay_reference_cycle: int | None = None, window: int = 100) -> dict[str, Any]:
    """Metrics of one cell from its per-cycle table (one row per cell cycle, columns of the cycle table).

    The capacity basis (discharge for a charge-first cell) follows the CE convention the ingest used, read
    from the rows (`ce_convention`) or given; no registration guess. `reference_cycle` / `decay_reference_cycle`:
    the project's choice (None = the defaults of retention / decay). Returns run_metrics' full dict (window
    decay included); CELL_METRIC_KEYS are the ones every face shows.
    """
    if cycles is None or len(cycles) == 0:
        return {}
    convention = _convention(cycles, ce_convention)
    frame = cycles.sort_values("cycle", kind="stable").reset_index(drop=True)
    frame.attrs.update(ce_convention=convention, first_half=first_half_of(convention))
    return run_metrics(frame, reference_cycle=reference_cycle, decay_reference_cycle=decay_reference_cycle,
                       window=window)


def long_term_rate_label(cycles: pd.DataFrame) -> str:
    """The C-rate label most of the cell's long-term cycles ran at (the first in sort order of equally common ones),
    '' without long-term cycles or labels: the protocol a long-term figure was measured at."""
    if cycles is None or not len(cycles) or "segment" not in cycles:
        return ""
    common = cycles.loc[cycles["segment"] == "long-term", "c_rate_label"].fillna("").mode()
    return str(common.iloc[0]) if len(common) else ""


def delivered_capacity(cycles: pd.DataFrame, *, ce_convention: str | None = None) -> tuple[np.ndarray, str, str]:
    """(capacity per row, unit, half) on the basis every metric uses: the delivered (second) half-cycle of the
    cell's CE convention, per gram when any row has a mass, else mAh. Rows keep their order (partial ones too)."""
    complete = cycles[~cycles["is_partial"].fillna(False).astype(bool)] if "is_partial" in cycles else cycles
    column, unit, half = delivered_column(complete, first_half_of(_convention(cycles, ce_convention)))
    return cycles[column].to_numpy(dtype=float), unit, half


def cell_retention_series(cycles: pd.DataFrame, *, reference_cycle: int | None = None,
                          ce_convention: str | None = None) -> tuple[np.ndarray, int | None]:
    """(retention % of every row, the reference cycle) on cell_metrics' basis and default reference: what a face
    plotting retention against cycle shows, consistent with cell_metrics' retention_percent at the last cycle."""
    if cycles is None or len(cycles) == 0:
        return np.array([], dtype=float), reference_cycle
    capacity, _unit, _half = delivered_capacity(cycles, ce_convention=ce_convention)
    partial = cycles["is_partial"].fillna(False).astype(bool).to_numpy() if "is_partial" in cycles else None
    cyc = cycles["cycle"].to_numpy()
    if reference_cycle is None:
        keep = ~partial if partial is not None else np.ones(len(cyc), dtype=bool)
        order = np.argsort(cyc[keep], kind="stable")
        seg = cycles["segment"].to_numpy(dtype=object)[keep][order] if "segment" in cycles else None
        reference_cycle = default_reference_cycle(cyc[keep][order], seg)
    return retention_series(cyc, capacity, reference_cycle), reference_cycle
