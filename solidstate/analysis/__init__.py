"""Solid-state analyses as pure functions (no Django): pellet conductivity from EIS, the Arrhenius fit, electronic
conductivity from DC polarisation and the critical current density of a symmetric Li | SE | Li cell."""

from .arrhenius import K_B_EV_K, ArrheniusFit, arrhenius_fit
from .ccd import CCD_DEFINITION, CcdResult, CcdStep, critical_current_density
from .conductivity import AnalysisError, PelletConductivity, disc_area_cm2, pellet_conductivity
from .electronic import ElectronicConductivity, electronic_conductivity

__all__ = [
    "CCD_DEFINITION", "K_B_EV_K", "AnalysisError", "ArrheniusFit", "CcdResult", "CcdStep", "ElectronicConductivity",
    "PelletConductivity", "arrhenius_fit", "critical_current_density", "disc_area_cm2", "electronic_conductivity",
    "pellet_conductivity",
]
