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


PLAUSIBLE_MAX_ACTIVE_LOADING_MG_CM2 = 50.0  # beyond any pressed composite cathode the lab makes
LOADING_AGREEMENT_TOLERANCE = 0.01  # active vs composite x fraction, relative, when both are typed


def build_sheet(
    *,
    active_fraction: float | None,
    composite_loading_mg_cm2: float | None = None,
    active_loading: float | None = None,
    area_cm2: float | None = None,
    die_diameter_mm: float | None = None,
    theoretical_mah_g: float | None = None,
    pressings: tuple = (),
) -> dict:
    """What a build sheet gives, from what a lab writes down: the active loading or the composite loading (with
    the active fraction), the area or the die, the theoretical capacity, and (force_t, die_mm) pressings.

    Returns the derived values (None where an input is missing), `warnings` (implausible but possible) and
    `errors` (impossible: the form refuses to save). The registration form and its live preview both call it.
    """
    warnings: list[str] = []
    errors: list[str] = []
    fraction_ok = active_fraction is not None and 0 < active_fraction <= 1
    if active_fraction is not None and not fraction_ok:
        errors.append("The active fraction must be in (0, 1], e.g. 0.70 for 70:30.")
    composite, active = composite_loading_mg_cm2, active_loading
    for label, value in (("composite loading", composite), ("active material loading", active)):
        if value is not None and value <= 0:
            errors.append(f"The {label} must be greater than zero.")
    if composite is not None and active is not None and composite > 0 and active > 0:
        if active > composite:
            errors.append(f"The active material loading ({active:g} mg/cm²) cannot exceed the composite loading "
                          f"({composite:g} mg/cm²): the active material is part of the composite.")
        elif fraction_ok and abs(active - active_loading_mg_cm2(composite, active_fraction)) > (
            LOADING_AGREEMENT_TOLERANCE * active
        ):
            errors.append(f"The active material loading ({active:g} mg/cm²) does not match the composite loading "
                          f"× active fraction ({composite:g} × {active_fraction:g} = "
                          f"{active_loading_mg_cm2(composite, active_fraction):.3f} mg/cm²); enter one of the two.")
    if active is None and composite is not None and composite > 0 and fraction_ok:
        active = active_loading_mg_cm2(composite, active_fraction)
    elif composite is None and active is not None and active > 0 and fraction_ok:
        composite = active / active_fraction
    if active is not None and active > PLAUSIBLE_MAX_ACTIVE_LOADING_MG_CM2:
        warnings.append(f"An active material loading of {active:g} mg/cm² is above "
                        f"{PLAUSIBLE_MAX_ACTIVE_LOADING_MG_CM2:g} mg/cm²: is it the composite, or a mass in mg?")
    area = area_cm2 if area_cm2 else (disc_area_cm2(die_diameter_mm) if die_diameter_mm else None)
    if area is not None and area > 20:
        warnings.append(f"An electrode area of {area:g} cm² is unusually large for a pressed pellet: mm² typed?")
    if theoretical_mah_g is not None and not 20 <= theoretical_mah_g <= 4000:
        warnings.append(f"A theoretical capacity of {theoretical_mah_g:g} mAh/g is outside 20–4000 mAh/g.")
    usable = active is not None and active > 0
    mass = active_mass_mg(active, area) if usable and area else None
    areal = areal_capacity_mah_cm2(active, theoretical_mah_g) if usable and theoretical_mah_g else None
    current = one_c_current_ma(areal, area) if areal is not None and area else None
    pressures = [pressure_mpa(force, die) if force and die and force > 0 and die > 0 else None
                 for force, die in pressings]
    return {
        "active_loading_mg_cm2": active, "composite_loading_mg_cm2": composite, "area_cm2": area,
        "active_mass_mg": mass, "areal_capacity_mah_cm2": areal, "one_c_current_ma": current,
        "pressing_pressures_mpa": pressures, "warnings": warnings, "errors": errors,
    }
