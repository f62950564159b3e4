"""The one analysis pipeline: a parsed export + the cell's build facts -> cycles, run metrics, findings, warnings.

The ingest, the reprocess, `manage.py land_summary`/`summarize`, the demo and the benchmarks all call
`analyse`, so every face gets the same cycle identity, sanity findings and Cycle-Tab cross-check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import pandas as pd

# The instrument-neutral cross-check lives beside the readers (numpy/pandas only: no import circle).
from cycling.parsers.crosscheck import cross_check as instrument_cross_check

from .checks import (
    Finding,
    cycle_identity,
    cycle_identity_checks,
    cycle_rule_first_half,
    resolve_cycles,
    sanity_checks,
)
from .common import ANALYSIS_VERSION, CellSpec
from .crosscheck import cross_check
from .differential import DqdvCurves, DqdvParams, dqdv_all
from .fade import run_metrics
from .summary import summarize_cycles


class ExportLike(Protocol):
    """What the pipeline reads from a parsed export (LandExport, or the registry's Export)."""

    records: pd.DataFrame
    cycle_table: pd.DataFrame | None
    warnings: list[str]


@dataclass
class Analysis:
    """Everything the pipeline found in one export.

    records: the export's records numbered by the cycles analysed (`cycle_source` 'land' keeps LAND's
    Cycle-Index, 'derived' the lab's cycle rule where LAND's index was not usable);
    warnings: the parser's, the Cycle-Tab cross-check's, then one line per finding.
    """

    records: pd.DataFrame
    cycles: pd.DataFrame
    run: dict[str, Any]
    findings: list[Finding]
    warnings: list[str]
    cycle_source: str
    spec: CellSpec
    dqdv_params: DqdvParams
    curves: DqdvCurves | None = field(default=None, repr=False)

    def provenance(self) -> dict[str, Any]:
        """How the numbers were made: the build facts used, cycle identity, CE convention, dQ/dV settings,
        findings (the same keys in a data file's provenance and in `manage.py summarize`)."""
        spec = self.spec
        return {
            "analysis_version": ANALYSIS_VERSION, "active_mass_mg": spec.active_mass_mg, "area_cm2": spec.area_cm2,
            "theoretical_mah_g": spec.theoretical_mah_g, "first_half": spec.first_half or "auto",
            "voltage_window_v": list(spec.voltage_window_v) if spec.voltage_window_v else None,
            "cycle_source": self.cycle_source, "ce_convention": self.cycles.attrs.get("ce_convention"),
            "dqdv_params": asdict(self.dqdv_params), "findings": [f.as_dict() for f in self.findings],
        }


def analyse(export: ExportLike, spec: CellSpec | None = None, *, dqdv_params: DqdvParams | None = None,
            reference_cycle: int | None = None, decay_reference_cycle: int | None = None) -> Analysis:
    """Cycle identity (one rule, disagreements flagged), the per-cycle table, sanity findings, LAND's
    Cycle-Tab cross-check (only when LAND's own index was used: derived cycles do not line up with it) or,
    for other cyclers, the check against the instrument's own cycle summary, and the run metrics, for one export and the cell's build facts (`spec`, never a default mass)."""
    spec = spec or CellSpec()
    params = dqdv_params or DqdvParams()
    records = export.records
    instrument = getattr(export, "instrument", None) or "LAND"
    # One CycleIdentity: the cycle rule is judged and the derived cycles built once for the three questions.
    identity = cycle_identity(records)
    findings = cycle_identity_checks(records, spec.first_half, instrument=instrument, identity=identity)
    cycle_numbers, cycle_source = resolve_cycles(records, spec.first_half, identity=identity)
    # Without a registration, the per-cycle table (CE convention) follows the half the cycle rule settled on.
    rule_half = cycle_rule_first_half(records, spec.first_half, identity=identity)
    del identity
    analysed = records if cycle_source == "land" else records.assign(cycle=cycle_numbers)
    del cycle_numbers
    curves = dqdv_all(analysed, params)
    table_spec = replace(spec, first_half=rule_half) if spec.first_half is None and rule_half else spec
    cycles = summarize_cycles(analysed, table_spec, curves=curves)
    findings += sanity_checks(
        analysed, cycles, theoretical_mah_g=spec.theoretical_mah_g, active_mass_mg=spec.active_mass_mg,
        voltage_window_v=spec.voltage_window_v, first_half=spec.first_half,
    )
    warnings = list(export.warnings)
    cycle_table = export.cycle_table
    if cycle_table is not None and len(cycle_table):
        if instrument != "LAND":
            # Other cyclers: compare by the file's own cycle numbers (the records as read), whatever rule we
            # number the cycles by, since the instrument's summary is keyed by those.
            warnings += instrument_cross_check(records, cycle_table, instrument=instrument)
        elif cycle_source == "land":
            warnings += cross_check(cycles, cycle_table)
    warnings += [f.message for f in findings]
    return Analysis(records=analysed, cycles=cycles, run=run_metrics(cycles, reference_cycle=reference_cycle,
                                                                       decay_reference_cycle=decay_reference_cycle),
                    findings=findings, warnings=warnings, cycle_source=cycle_source, spec=spec,
                    dqdv_params=params, curves=curves)
