"""The JSON contracts of the solid-state results, one place for the CLI, the services and the API."""

from __future__ import annotations

from .arrhenius import MIN_POINTS, arrhenius_fit
from .ccd import CcdResult
from .conductivity import PelletConductivity

POINT_KEYS = ("file", "temperature_c", "r_bulk_ohm", "r_total_ohm", "sigma_bulk_s_cm", "sigma_total_s_cm")
ARRHENIUS_KEYS = ("ea_ev", "ea_ev_se", "sigma_25c_s_cm", "form", "n_points")
CCD_STEP_KEYS = ("current_density_ma_cm2", "overpotential_mv")


def conductivity_json(points: list[tuple[str, float, PelletConductivity]]) -> dict:
    """``{"points": [...], "arrhenius": {...} or None}`` for (file name, temperature in C, result) triples.

    The Arrhenius fit uses sigma_total (what every spectrum gives) and needs ``MIN_POINTS`` temperatures."""
    rows = [{"file": name, "temperature_c": t, "r_bulk_ohm": r.r_bulk_ohm, "r_total_ohm": r.r_total_ohm,
             "sigma_bulk_s_cm": r.sigma_bulk_s_cm, "sigma_total_s_cm": r.sigma_total_s_cm}
            for name, t, r in points]
    arrhenius = None
    if len({t for _, t, _ in points}) >= MIN_POINTS:
        fit = arrhenius_fit([t for _, t, _ in points], [r.sigma_total_s_cm for _, _, r in points],
                            [r.sigma_total_se_s_cm for _, _, r in points])
        arrhenius = {"ea_ev": fit.ea_ev, "ea_ev_se": fit.ea_ev_se, "sigma_25c_s_cm": fit.sigma_25c_s_cm,
                     "form": fit.form, "n_points": fit.n_points}
    return {"points": rows, "arrhenius": arrhenius}


def ccd_json(result: CcdResult) -> dict:
    return {"steps": [{"current_density_ma_cm2": s.current_density_ma_cm2, "overpotential_mv": s.overpotential_mv}
                      for s in result.steps],
            "ccd_ma_cm2": result.ccd_ma_cm2, "short_time_s": result.short_time_s, "definition": result.definition}
