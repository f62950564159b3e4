"""Reads of the solid-state results: an electrolyte batch's pellets, Arrhenius fit, CCD cells and full cells."""
from __future__ import annotations

import math

from cells.models import Cell, ElectrolyteBatch
from cells.selectors import cells_visible_to

from .analysis import AnalysisError, arrhenius_fit
from .analysis.arrhenius import ZERO_C_K
from .models import CcdMeasurement, ConductivityMeasurement


def _arrhenius(rows: list[ConductivityMeasurement]) -> dict | None:
    usable = [r for r in rows if r.sigma_total_s_cm and r.temperature_c is not None]
    try:
        fit = arrhenius_fit([r.temperature_c for r in usable], [r.sigma_total_s_cm for r in usable],
                            [r.sigma_total_se_s_cm or 0.0 for r in usable])
    except AnalysisError as exc:
        return {"error": str(exc)}
    t = sorted(r.temperature_c for r in usable)
    line_t = [t[0] + (t[-1] - t[0]) * k / 20 for k in range(21)]
    line_sigma = fit.predict_sigma_s_cm(line_t).tolist()
    return {"ea_ev": fit.ea_ev, "ea_ev_se": fit.ea_ev_se, "sigma_25c_s_cm": fit.sigma_25c_s_cm,
            "sigma_25c_ms_cm": fit.sigma_25c_s_cm * 1e3, "form": fit.form,
            "n_points": fit.n_points, "off_line_ids": [usable[i].pk for i in fit.off_line],
            "line": {"inv_t_1000_k": [1000 / (x + ZERO_C_K) for x in line_t],
                     "log10_sigma_t": [math.log10(s * (x + ZERO_C_K)) for s, x in zip(line_sigma, line_t, strict=True)]}}


def batches_visible_to(user):
    """Batches are lab-wide registry objects (like materials); the cells shown under them are scoped."""
    return ElectrolyteBatch.objects.select_related("material")


def batch_overview(batch: ElectrolyteBatch, user) -> dict:
    """Everything the batch page shows, from stored results (refresh them first with the services)."""
    cells = cells_visible_to(user).filter(electrolyte_batch=batch)
    pellets = list(cells.filter(cell_type=Cell.CellType.PELLET))
    measurements = list(ConductivityMeasurement.objects.filter(cell__in=pellets)
                        .select_related("spectrum__datafile", "cell").order_by("cell__name", "temperature_c"))
    per_pellet = []
    for pellet in pellets:
        rows = [m for m in measurements if m.cell_id == pellet.pk]
        per_pellet.append({"cell": pellet, "rows": rows, "arrhenius": _arrhenius(rows) if len(rows) >= 3 else None})
    symmetric = list(cells.filter(cell_type=Cell.CellType.SYMMETRIC))
    ccd = list(CcdMeasurement.objects.filter(cell__in=symmetric).select_related("cell", "datafile")
               .order_by("cell__name"))
    return {
        "batch": batch, "pellets": per_pellet, "measurements": measurements,
        "arrhenius": _arrhenius(measurements) if len(measurements) >= 3 else None,
        "symmetric": symmetric, "ccd": ccd,
        "full_cells": list(cells.filter(cell_type=Cell.CellType.FULL)),
    }


def batch_plot_data(overview: dict) -> dict:
    """JSON for the page's plots: conductivity vs temperature, Arrhenius points and line, CCD traces."""
    points = [{"id": m.pk, "pellet": m.cell.name, "temperature_c": m.temperature_c,
               "sigma_total_s_cm": m.sigma_total_s_cm, "sigma_total_se_s_cm": m.sigma_total_se_s_cm,
               "sigma_bulk_s_cm": m.sigma_bulk_s_cm}
              for m in overview["measurements"] if m.sigma_total_s_cm and m.temperature_c is not None]
    arr = overview["arrhenius"] or {}
    ccd = [{"cell": c.cell.name, "trace": c.trace, "short_time_s": c.short_time_s, "ccd_ma_cm2": c.ccd_ma_cm2}
           for c in overview["ccd"]]
    return {"points": points, "arrhenius": arr if "ea_ev" in arr else None, "ccd": ccd}


def batch_conductivity_summary(batch: ElectrolyteBatch | None) -> dict | None:
    """The batch's sigma at 25 C and Ea from all its pellets' spectra (for a full cell's page)."""
    if batch is None:
        return None
    rows = list(ConductivityMeasurement.objects.filter(cell__electrolyte_batch=batch,
                                                       cell__cell_type=Cell.CellType.PELLET))
    fit = _arrhenius(rows) if len(rows) >= 3 else None
    return {"batch": batch, "n_points": len(rows), "arrhenius": fit if fit and "ea_ev" in fit else None}
