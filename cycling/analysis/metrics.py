"""The one cell-metrics function: ICE, first charge/discharge, retention vs a reference, decay with its reference,
cycles to 80/70 %, knee and last cycle, over a cell's cycles on its timeline. Every face (cell page, compare
page and summary, summaries, exports, API) calls it, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .fade import run_metrics

CELL_METRIC_KEYS = (
    "capacity_unit", "capacity_half", "ce_convention", "n_cycles", "initial_ce_percent", "first_charge_mah",
    "first_discharge_mah", "first_charge_mah_g", "first_discharge_mah_g", "last_cycle", "last_capacity",
    "retention_reference_cycle", "reference_capacity", "retention_percent", "decay_percent_per_cycle",
    "decay_reference_cycle", "decay_last_cycle", "decay_cycles", "cycles_to_80_percent", "cycles_to_70_percent",
    "knee_cycle", "capacity_at_cycle",
)


def first_half_of(ce_convention: str | None) -> str:
    """The first half-cycle a stored CE convention stands for ('discharge/charge' = charge first)."""
    return "discharge" if ce_convention == "charge/discharge" else "charge"


def cell_metrics(cycles: pd.DataFrame, *, ce_convention: str | None = None, reference_cycle: int | None = None,
                 window: int = 100) -> dict[str, Any]:
    """Metrics of one cell from its per-cycle table (one row per cell cycle, columns of the cycle table).

    The capacity basis (discharge for a charge-first cell) follows the CE convention the ingest used, read
    from the rows (`ce_convention`) or given; no registration guess. Returns run_metrics' full dict (window
    decay included); CELL_METRIC_KEYS are the ones every face shows.
    """
    if cycles is None or len(cycles) == 0:
        return {}
    convention = ce_convention
    if convention is None and "ce_convention" in cycles:
        convention = next((c for c in cycles["ce_convention"] if c), None)
    frame = cycles.sort_values("cycle", kind="stable").reset_index(drop=True)
    frame.attrs.update(ce_convention=convention or "discharge/charge", first_half=first_half_of(convention))
    return run_metrics(frame, reference_cycle=reference_cycle, window=window)
