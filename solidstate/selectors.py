"""Reads of the solid-state results: an electrolyte batch's pellets, Arrhenius fit, CCD cells and full cells."""
from __future__ import annotations

import math

from assb_lab.lib import jsonable
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
    from .models import ElectronicMeasurement

    electronic = list(ElectronicMeasurement.objects.filter(cell__in=pellets).select_related("cell", "datafile")
                      .order_by("cell__name", "datafile_id"))
    return {
        "batch": batch, "pellets": per_pellet, "measurements": measurements, "electronic": electronic,
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


def pressure_overview(user) -> dict:
    """R_int (first spectrum of each cell, the formation value papers compare) and pellet conductivity (lowest
    temperature measured) against stack pressure across the cells the user sees; measured mean pressure where
    a file has a pressure channel, else the registered value."""
    from impedance.selectors import rint_frame

    from .models import PressureTrace

    cells = list(cells_visible_to(user))
    measured = {}
    for trace in PressureTrace.objects.filter(cell__in=cells, has_channel=True).order_by("datafile_id"):
        measured[trace.cell_id] = trace.mean_pressure_mpa
    frame = rint_frame(cells)
    rint = []
    by_id = {c.pk: c for c in cells}
    if len(frame):
        frame = frame[frame["r_int_ohm"].notna()].sort_values(["cell", "cycle"], na_position="last", kind="stable")
        for cell_id, part in frame.groupby("cell", sort=False):
            cell = by_id[int(cell_id)]
            pressure = measured.get(cell.pk, cell.stack_pressure_mpa)
            if pressure is None:
                continue
            first = part.iloc[0]
            rint.append({"cell": cell.name, "group": cell.group.name, "color": cell.group.color or "",
                         "stack_pressure_mpa": pressure, "pressure_source": "measured" if cell.pk in measured
                         else "registered", "r_int_ohm": float(first["r_int_ohm"]),
                         "cycle": None if first["cycle"] is None or first["cycle"] != first["cycle"] else int(first["cycle"])})
    conductivity = []
    for m in (ConductivityMeasurement.objects.filter(cell__in=[c for c in cells if c.cell_type == Cell.CellType.PELLET],
                                                     sigma_total_s_cm__isnull=False)
              .select_related("cell").order_by("cell_id", "temperature_c")):
        if any(row["cell"] == m.cell.name for row in conductivity) or m.cell.stack_pressure_mpa is None:
            continue
        conductivity.append({"cell": m.cell.name, "stack_pressure_mpa": measured.get(m.cell_id, m.cell.stack_pressure_mpa),
                             "temperature_c": m.temperature_c, "sigma_total_s_cm": m.sigma_total_s_cm})
    traces = list(PressureTrace.objects.filter(cell__in=cells, has_channel=True).select_related("cell", "datafile"))
    return {"rint": rint, "conductivity": conductivity,
            "drifts": [{"cell": t.cell, "file": t.datafile.original_name, **t.drift} for t in traces if t.drift]}


def batch_results(overview: dict) -> dict:
    """The batch's results as JSON, in the CLI's contracts (plus which pellet/cell, and what was measured)."""
    batch = overview["batch"]
    points = [{"file": m.spectrum.datafile.original_name, "pellet": m.cell.name, "temperature_c": m.temperature_c,
               "r_bulk_ohm": m.r_bulk_ohm, "r_total_ohm": m.r_total_ohm, "sigma_bulk_s_cm": m.sigma_bulk_s_cm,
               "sigma_total_s_cm": m.sigma_total_s_cm, "statement": m.statement or m.error}
              for m in overview["measurements"]]
    arr = overview["arrhenius"]
    arrhenius = ({k: arr[k] for k in ("ea_ev", "ea_ev_se", "sigma_25c_s_cm", "form", "n_points")}
                 if arr and "ea_ev" in arr else None)
    ccd = []
    for c in overview["ccd"]:
        result = {"steps": [{k: s[k] for k in ("current_density_ma_cm2", "overpotential_mv")} for s in c.steps],
                  "ccd_ma_cm2": c.ccd_ma_cm2, "short_time_s": c.short_time_s, "definition": c.definition}
        ccd.append({"cell": c.cell.name, "file": c.datafile.original_name, "error": c.error or None,
                    "stack_pressure_mpa": c.cell.stack_pressure_mpa, "temperature_c": c.cell.temperature_c,
                    **(result if not c.error else {})})
    return jsonable({"batch": batch.name, "material": batch.material.name,
                     "conductivity": {"points": points, "arrhenius": arrhenius}, "ccd": ccd,
                     "electronic": [{"pellet": e.cell.name, "file": e.datafile.original_name,
                                     "sigma_e_s_cm": e.sigma_e_s_cm, "current_ss_ma": e.current_ss_ma,
                                     "voltage_v": e.voltage_v, "steady_state": e.steady_state or None,
                                     "error": e.error or None} for e in overview["electronic"]],
                     "cells_built_from_it": [c.name for c in overview["full_cells"]]})


def cell_solid_state(cell: Cell) -> dict | None:
    """A cell's solid-state facts and stored results for the dataset zip (None when it has none): its batch and
    the batch's conductivity, a pellet's conductivity per spectrum (with file and SHA-256) and Arrhenius fit,
    sigma_e, a symmetric cell's CCD, the pressure channel's mean and drift; with the definitions used."""
    from .analysis import CCD_DEFINITION
    from .models import ANALYSIS_VERSION, CcdMeasurement, ElectronicMeasurement, PressureTrace

    conductivity = list(ConductivityMeasurement.objects.filter(cell=cell).select_related("spectrum__datafile")
                        .order_by("temperature_c"))
    electronic = list(ElectronicMeasurement.objects.filter(cell=cell).select_related("datafile"))
    ccd = list(CcdMeasurement.objects.filter(cell=cell).select_related("datafile"))
    pressure = list(PressureTrace.objects.filter(cell=cell, has_channel=True).select_related("datafile"))
    batch = batch_conductivity_summary(cell.electrolyte_batch)
    if not (conductivity or electronic or ccd or pressure or batch or cell.cell_type != Cell.CellType.FULL):
        return None

    def source(datafile):
        return {"datafile_id": datafile.pk, "original_name": datafile.original_name, "sha256": datafile.sha256}

    fields = ("temperature_c", "temperature_source", "thickness_mm", "area_cm2", "r_total_ohm", "r_total_se_ohm",
              "sigma_total_s_cm", "sigma_total_se_s_cm", "r_bulk_ohm", "r_bulk_se_ohm", "sigma_bulk_s_cm",
              "sigma_bulk_se_s_cm", "measured", "statement", "error")
    arrhenius = _arrhenius(conductivity) if len(conductivity) >= 3 else None
    return jsonable({
        "cell_type": cell.cell_type, "electrode_metal": cell.electrode_metal,
        "pellet_thickness_mm": cell.pellet_thickness_mm, "area_cm2": cell.electrode_area_cm2,
        "pressing_pressure_mpa": cell.pressing_pressure_mpa, "pressing_time_s": cell.pressing_time_s,
        "stack_pressure_mpa": cell.stack_pressure_mpa,
        "electrolyte_batch": None if batch is None else {
            "name": batch["batch"].name, "material": batch["batch"].material.name,
            "supplier": batch["batch"].supplier, "made_on": batch["batch"].made_on,
            "arrhenius": None if not batch["arrhenius"] else {
                k: batch["arrhenius"][k] for k in ("ea_ev", "ea_ev_se", "sigma_25c_s_cm", "form", "n_points")}},
        "conductivity": [{**source(m.spectrum.datafile), **{f: getattr(m, f) for f in fields}} for m in conductivity],
        "arrhenius": None if not arrhenius or "ea_ev" not in arrhenius else {
            k: arrhenius[k] for k in ("ea_ev", "ea_ev_se", "sigma_25c_s_cm", "form", "n_points")},
        "electronic": [{**source(e.datafile), "sigma_e_s_cm": e.sigma_e_s_cm, "current_ss_ma": e.current_ss_ma,
                        "voltage_v": e.voltage_v, "steady_state": e.steady_state, "error": e.error} for e in electronic],
        "ccd": [{**source(c.datafile), "area_cm2": c.area_cm2, "steps": c.steps, "ccd_ma_cm2": c.ccd_ma_cm2,
                 "short_time_s": c.short_time_s, "error": c.error} for c in ccd],
        "pressure": [{**source(t.datafile), "mean_pressure_mpa": t.mean_pressure_mpa,
                      "registered_mpa": t.registered_mpa, "drift": t.drift or None} for t in pressure],
        "definitions": {"conductivity": "sigma = L / (R A); bulk only where the bulk arc is inside the band",
                        "arrhenius_form": "sigma_T", "ccd": CCD_DEFINITION},
        "analysis_version": ANALYSIS_VERSION,
    })
