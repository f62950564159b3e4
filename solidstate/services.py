"""Writes of the solid-state results: conductivity of pellet spectra and CCD of symmetric cells' files.

Both are idempotent: a spectrum or file that already has its result is left alone, so a page or the demo can ask
for a refresh at any time. The analyses themselves are the pure functions of solidstate.analysis."""
from __future__ import annotations

import re

import numpy as np

from assb_lab.lib import jsonable
from cells.models import Cell
from cycling.models import DataFile
from cycling.selectors import active_datafiles, records_of
from impedance.models import EisSpectrum

from .analysis import AnalysisError, critical_current_density, pellet_conductivity
from .models import ANALYSIS_VERSION, CcdMeasurement, ConductivityMeasurement

_TEMPERATURE_NOTE = re.compile(r"temperature_c\s*=\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)
TRACE_POINTS = 4000


def temperature_of(spectrum: EisSpectrum) -> tuple[float | None, str]:
    """Upload notes (``temperature_c=55``) first, then the file's (or the build sheet's) temperature."""
    match = _TEMPERATURE_NOTE.search(spectrum.datafile.notes or "")
    if match:
        return float(match.group(1)), "upload notes"
    if spectrum.temperature_c is not None:
        source = "file" if spectrum.metadata.get("temperature_c") is not None else "build sheet"
        return spectrum.temperature_c, source
    return None, ""


def conductivity_refresh(*, cell: Cell) -> list[ConductivityMeasurement]:
    """Compute the conductivity of every spectrum of a pellet that has none yet; returns all of the cell's."""
    if cell.cell_type != Cell.CellType.PELLET:
        return []
    # a corrected thickness or area (or a newer analysis) recomputes: no stale conductivity survives an edit
    (ConductivityMeasurement.objects.filter(cell=cell)
     .exclude(thickness_mm=cell.pellet_thickness_mm, area_cm2=cell.electrode_area_cm2,
              analysis_version=ANALYSIS_VERSION).delete())
    todo = (EisSpectrum.objects.filter(cell=cell, conductivity__isnull=True, datafile__status=DataFile.Status.IMPORTED)
            .select_related("datafile"))
    for spectrum in todo:
        temperature, source = temperature_of(spectrum)
        row = ConductivityMeasurement(spectrum=spectrum, cell=cell, temperature_c=temperature,
                                      temperature_source=source, thickness_mm=cell.pellet_thickness_mm,
                                      area_cm2=cell.electrode_area_cm2)
        f = np.asarray(spectrum.freq_hz, dtype=float)
        z = np.asarray(spectrum.z_real_ohm, dtype=float) + 1j * np.asarray(spectrum.z_imag_ohm, dtype=float)
        if not cell.pellet_thickness_mm or not cell.electrode_area_cm2:
            row.error = "the pellet's thickness and area (or diameter) are not on its build sheet"
        else:
            try:
                result = pellet_conductivity(f, z, thickness_mm=cell.pellet_thickness_mm,
                                             area_cm2=cell.electrode_area_cm2, name=spectrum.datafile.original_name)
            except AnalysisError as exc:
                row.error = str(exc)
            else:
                for name in ("r_total_ohm", "r_total_se_ohm", "sigma_total_s_cm", "sigma_total_se_s_cm", "r_bulk_ohm",
                             "r_bulk_se_ohm", "sigma_bulk_s_cm", "sigma_bulk_se_s_cm", "measured", "statement"):
                    setattr(row, name, jsonable(getattr(result, name)))
        ConductivityMeasurement.objects.get_or_create(spectrum=spectrum, defaults={
            f.name: getattr(row, f.name) for f in ConductivityMeasurement._meta.concrete_fields
            if f.name not in ("id", "spectrum", "created_at")})
    return list(cell.conductivity_measurements.select_related("spectrum__datafile").order_by("temperature_c"))


def ccd_refresh(*, cell: Cell) -> list[CcdMeasurement]:
    """Compute the CCD of every imported cycling file of a symmetric cell that has none yet."""
    if cell.cell_type != Cell.CellType.SYMMETRIC:
        return []
    CcdMeasurement.objects.filter(cell=cell).exclude(area_cm2=cell.electrode_area_cm2,
                                                     analysis_version=ANALYSIS_VERSION).delete()
    for datafile in active_datafiles(cell).filter(ccd__isnull=True, status=DataFile.Status.IMPORTED):
        area = cell.electrode_area_cm2
        row = {"cell": cell, "area_cm2": area}
        records = records_of(datafile, columns=["test_time_s", "current_ma", "voltage_v"])
        step = max(len(records) // TRACE_POINTS, 1)
        row["trace"] = jsonable({"time_s": records["test_time_s"].to_numpy()[::step],
                                 "voltage_v": records["voltage_v"].to_numpy()[::step]})
        if not area:
            row["error"] = "the cell's electrode area (or diameter) is not on its build sheet"
        else:
            try:
                result = critical_current_density(records["test_time_s"], records["current_ma"],
                                                  records["voltage_v"], area_cm2=area, name=datafile.original_name)
            except AnalysisError as exc:
                row["error"] = str(exc)
            else:
                row.update(steps=jsonable([s.__dict__ for s in result.steps]), ccd_ma_cm2=result.ccd_ma_cm2,
                           short_time_s=result.short_time_s, definition=result.definition)
        CcdMeasurement.objects.get_or_create(datafile=datafile, defaults=row)
    return list(CcdMeasurement.objects.filter(cell=cell).select_related("datafile"))


def pressure_refresh(*, cell: Cell) -> list:
    """Read the pressure channel of every imported cycling file of the cell that has not been looked at, with the
    drift from the registered stack pressure. Idempotent."""
    from django.core.files.storage import default_storage

    from .analysis.pressure import pressure_drift, read_pressure_channel
    from .models import PressureTrace

    for datafile in active_datafiles(cell).filter(pressure_trace__isnull=True, status=DataFile.Status.IMPORTED):
        row = {"cell": cell, "registered_mpa": cell.stack_pressure_mpa}
        try:
            with default_storage.open(datafile.file.name, "rb") as fh:
                head = fh.read(8)
                # workbooks carry no channel this reads: a large LAND export is not read into memory for nothing
                data = head if head[:2] == b"PK" or head[:4] == b"\xd0\xcf\x11\xe0" else head + fh.read()
                channel = read_pressure_channel(data, name=datafile.original_name)
        except (AnalysisError, OSError) as exc:
            row["error"] = str(exc)
            channel = None
        if channel is not None:
            step = max(len(channel) // TRACE_POINTS, 1)
            drift = pressure_drift(channel["time_s"], channel["pressure_mpa"], cell.stack_pressure_mpa or 0.0)
            row.update(has_channel=True, time_s=jsonable(channel["time_s"].to_numpy()[::step]),
                       pressure_mpa=jsonable(channel["pressure_mpa"].to_numpy()[::step]),
                       mean_pressure_mpa=float(channel["pressure_mpa"].mean()),
                       drift=jsonable(drift.__dict__) if drift else {})
        PressureTrace.objects.get_or_create(datafile=datafile, defaults=row)
    return list(PressureTrace.objects.filter(cell=cell, has_channel=True).select_related("datafile"))


def batch_results_refresh(*, batch, user) -> None:
    """Compute the missing results of the batch's pellets and symmetric cells that the user may see."""
    from cells.selectors import cells_visible_to

    cells = cells_visible_to(user).filter(electrolyte_batch=batch,
                                          cell_type__in=[Cell.CellType.PELLET, Cell.CellType.SYMMETRIC])
    for cell in cells:
        conductivity_refresh(cell=cell)
        electronic_refresh(cell=cell)
        ccd_refresh(cell=cell)


def electronic_refresh(*, cell: Cell) -> list:
    """The electronic conductivity of every imported cycling (DC polarisation) file of a pellet that has none."""
    from .analysis import electronic_conductivity
    from .models import ElectronicMeasurement

    if cell.cell_type != Cell.CellType.PELLET:
        return []
    (ElectronicMeasurement.objects.filter(cell=cell)
     .exclude(thickness_mm=cell.pellet_thickness_mm, area_cm2=cell.electrode_area_cm2,
              analysis_version=ANALYSIS_VERSION).delete())
    for datafile in active_datafiles(cell).filter(electronic__isnull=True, status=DataFile.Status.IMPORTED):
        row = {"cell": cell, "thickness_mm": cell.pellet_thickness_mm, "area_cm2": cell.electrode_area_cm2}
        records = records_of(datafile, columns=["test_time_s", "current_ma", "voltage_v"])
        if not cell.pellet_thickness_mm or not cell.electrode_area_cm2:
            row["error"] = "the pellet's thickness and area (or diameter) are not on its build sheet"
        else:
            try:
                result = electronic_conductivity(records["test_time_s"], records["current_ma"], records["voltage_v"],
                                                 thickness_mm=cell.pellet_thickness_mm,
                                                 area_cm2=cell.electrode_area_cm2, name=datafile.original_name)
            except AnalysisError as exc:
                row["error"] = str(exc)
            else:
                row.update(sigma_e_s_cm=result.sigma_e_s_cm, current_ss_ma=result.current_ss_ma,
                           voltage_v=result.voltage_v, steady_state=result.steady_state)
        ElectronicMeasurement.objects.get_or_create(datafile=datafile, defaults=row)
    return list(ElectronicMeasurement.objects.filter(cell=cell).select_related("datafile"))


def cell_results_refresh(*, cell: Cell) -> None:
    """Compute whatever solid-state result of the cell is missing (conductivity, sigma_e, CCD, pressure)."""
    conductivity_refresh(cell=cell)
    electronic_refresh(cell=cell)
    ccd_refresh(cell=cell)
    pressure_refresh(cell=cell)
