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
