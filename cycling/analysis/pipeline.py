"""One entry point over the pure analysis: records (+ build facts) -> cycles, run metrics, findings, warnings."""

from __future__ import annotations

import pandas as pd

from .common import CellSpec
from .crosscheck import cross_check
from .differential import DqdvParams, dqdv_all
from .fade import run_metrics
from .peaks import dqdv_peak_table
from .summary import summarize_cycles


def analyze(records: pd.DataFrame, spec: CellSpec | None = None, *, land_cycle_table: pd.DataFrame | None = None,
            reference_cycle: int | None = None, dqdv_params: DqdvParams | None = None,
            peak_table: bool = False) -> dict:
    """Everything at once: cycles table, run metrics, dQ/dV curves, cross-check warnings (and the full
    per-cycle peak table if asked)."""
    curves = dqdv_all(records, dqdv_params)
    cycles = summarize_cycles(records, spec, curves=curves)
    result = {
        "cycles": cycles,
        "run": run_metrics(cycles, reference_cycle=reference_cycle),
        "dqdv": curves,
        "warnings": cross_check(cycles, land_cycle_table),
    }
    if peak_table:
        result["peaks"] = dqdv_peak_table(curves)
    return result
