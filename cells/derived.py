"""Derived build quantities: the one place that turns a build sheet into areas, masses, currents and pressures.

Pure functions (no Django) so analysis scripts and the models share them.
"""
import math

STANDARD_GRAVITY_KN_PER_T = 9.80665  # 1 tonne-force in kN


def disc_area_cm2(diameter_mm: float) -> float:
    """Area of a circular pellet of `diameter_mm`, in cm2."""
    radius_cm = diameter_mm / 20.0
    return math.pi * radius_cm**2


def pressure_mpa(force_t: float, die_diameter_mm: float) -> float:
    """Uniaxial pressure of `force_t` tonnes on a die of `die_diameter_mm` (DOMAIN.md: 3.5 t on 10 mm = 437 MPa)."""
    area_mm2 = math.pi * (die_diameter_mm / 2.0) ** 2
    return force_t * STANDARD_GRAVITY_KN_PER_T * 1000.0 / area_mm2


def active_loading_mg_cm2(composite_loading_mg_cm2: float, active_fraction: float) -> float:
    return composite_loading_mg_cm2 * active_fraction


def active_mass_mg(active_loading: float, area_cm2: float) -> float:
    return active_loading * area_cm2


def areal_capacity_mah_cm2(active_loading: float, theoretical_mah_g: float) -> float:
    """mg/cm2 x mAh/g / 1000 (DOMAIN.md: 8.4 x 160 = 1.344 mAh/cm2)."""
    return active_loading * theoretical_mah_g / 1000.0


def one_c_current_ma(areal_capacity: float, area_cm2: float) -> float:
    """Current that (dis)charges the theoretical capacity in one hour."""
    return areal_capacity * area_cm2
