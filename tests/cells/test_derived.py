"""Derived build quantities against DOMAIN.md's reference study."""
import pytest

from cells import derived


def test_it_turns_3_5_tonnes_on_a_10_mm_die_into_437_mpa():
    assert derived.pressure_mpa(3.5, 10.0) == pytest.approx(437.0, abs=0.5)


def test_it_gives_the_study_areal_capacity_from_loading_and_theoretical_capacity():
    loading = derived.active_loading_mg_cm2(12.0, 0.70)
    assert loading == pytest.approx(8.4)
    assert derived.areal_capacity_mah_cm2(loading, 160.0) == pytest.approx(1.344)


def test_it_computes_the_1c_current_from_areal_capacity_and_area():
    area = derived.disc_area_cm2(10.0)
    assert area == pytest.approx(0.785398, rel=1e-5)
    assert derived.one_c_current_ma(1.344, area) == pytest.approx(1.344 * 0.785398, rel=1e-5)


def test_it_scales_pressure_inversely_with_die_area():
    assert derived.pressure_mpa(1.0, 20.0) == pytest.approx(derived.pressure_mpa(1.0, 10.0) / 4)


def test_it_derives_the_study_build_sheet_from_the_active_loading_a_paper_quotes():
    sheet = derived.build_sheet(active_fraction=0.70, active_loading=8.4, area_cm2=0.785, theoretical_mah_g=160.0,
                                pressings=((3.5, 10.0), (None, 10.0)))
    assert sheet["composite_loading_mg_cm2"] == pytest.approx(12.0)
    assert sheet["active_mass_mg"] == pytest.approx(6.594)
    assert sheet["areal_capacity_mah_cm2"] == pytest.approx(1.344)
    assert sheet["one_c_current_ma"] == pytest.approx(1.05504)
    assert sheet["pressing_pressures_mpa"][0] == pytest.approx(437.0, abs=0.5)
    assert sheet["pressing_pressures_mpa"][1] is None
    assert sheet["warnings"] == [] and sheet["errors"] == []


def test_it_gives_the_same_values_from_the_composite_loading_and_the_die():
    sheet = derived.build_sheet(active_fraction=0.70, composite_loading_mg_cm2=12.0, die_diameter_mm=10.0,
                                theoretical_mah_g=160.0)
    assert sheet["active_loading_mg_cm2"] == pytest.approx(8.4)
    assert sheet["active_mass_mg"] == pytest.approx(8.4 * 0.785398, rel=1e-5)


def test_it_refuses_an_active_loading_above_the_composite():
    sheet = derived.build_sheet(active_fraction=0.70, active_loading=14.0, composite_loading_mg_cm2=12.0)
    assert any("cannot exceed the composite loading (12 mg/cm²)" in e for e in sheet["errors"])


def test_it_refuses_two_loadings_that_disagree_with_the_fraction():
    sheet = derived.build_sheet(active_fraction=0.70, active_loading=9.0, composite_loading_mg_cm2=12.0)
    assert sheet["errors"] == [
        "The active material loading (9 mg/cm²) does not match the composite loading × active fraction "
        "(12 × 0.7 = 8.400 mg/cm²); enter one of the two."
    ]
    agreeing = derived.build_sheet(active_fraction=0.70, active_loading=8.4, composite_loading_mg_cm2=12.0)
    assert agreeing["errors"] == []


def test_it_warns_of_an_active_loading_above_50_mg_cm2():
    sheet = derived.build_sheet(active_fraction=0.70, composite_loading_mg_cm2=80.0)
    assert sheet["errors"] == []
    assert sheet["warnings"] == ["An active material loading of 56 mg/cm² is above 50 mg/cm²: is it the composite, "
                                 "or a mass in mg?"]
