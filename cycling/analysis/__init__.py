"""The pure analysis of cycling data (numpy/pandas/scipy, no Django), as a package of focused modules.

`from cycling.analysis import X` keeps working for every public name: the names resolve lazily to their
module on first use, so importing one light module (e.g. the cycle rule the parser shares,
`cycling.analysis.cycles`) does not pull in scipy or the rest.
"""

from __future__ import annotations

from cycling.lazy import lazy_exports

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {}


def _export(module: str, *names: str) -> None:
    for name in names:
        _EXPORTS[name] = module


_export("common", "ANALYSIS_VERSION", "C_RATE_LABELS", "CYCLE_COLUMNS", "REQUIRED_COLUMNS", "CellSpec",
        "detect_first_half", "c_rate_label")
_export("segments", "label_segments")
_export("differential", "DqdvParams", "DqdvCurves", "dqdv_all", "dqdv")
_export("peaks", "dqdv_peaks", "dqdv_peak_table", "track_peak")
_export("summary", "summarize_cycles")
_export("fade", "knee_point", "window_decay", "run_metrics", "retention", "retention_series", "decay",
        "cycles_to_percent", "initial_ce", "knee", "default_reference_cycle")
_export("columns", "CYCLE_CONTRACT", "Column", "columns_for", "names_for", "headers_for", "rounded", "rounded_row")
_export("crosscheck", "cross_check")
_export("pipeline", "Analysis", "analyse")
_export("metrics", "CELL_METRIC_KEYS", "cell_metrics", "delivered_capacity", "cell_retention_series", "first_half_of",
        "long_term_rate_label")

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
