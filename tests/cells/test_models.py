"""Cell build validation and the derived values the model exposes."""
import pytest
from django.core.exceptions import ValidationError

from tests.factories import CellFactory, GroupFactory, PressingStepFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def test_it_derives_the_study_values_from_a_nominal_build():
    cell = CellFactory()
    assert cell.active_loading_mg_cm2 == pytest.approx(8.4)
    assert cell.areal_capacity_mah_cm2 == pytest.approx(1.344)
    assert cell.electrode_area_cm2 == pytest.approx(0.7854, rel=1e-4)
    assert cell.active_mass_mg == pytest.approx(8.4 * 0.785398, rel=1e-5)
    assert cell.one_c_current_ma == pytest.approx(1.344 * 0.785398, rel=1e-5)


def test_it_follows_a_corrected_loading_everywhere_because_nothing_derived_is_stored():
    cell = CellFactory()
    cell.composite_loading_mg_cm2 = 10.0
    assert cell.active_mass_mg == pytest.approx(7.0 * 0.785398, rel=1e-5)


def test_it_prefers_an_entered_area_over_the_die_diameter():
    assert CellFactory(area_cm2=1.0).electrode_area_cm2 == 1.0


def test_it_falls_back_to_the_materials_theoretical_capacity():
    cell = CellFactory(theoretical_capacity_mah_g=None)
    assert cell.effective_theoretical_mah_g == 160.0


def test_it_shifts_a_window_vs_li_by_the_in_li_potential():
    lo, hi = CellFactory().cell_voltage_window_v
    assert lo == pytest.approx(1.88) and hi == pytest.approx(3.78)


def test_it_reports_pressing_pressure_per_layer():
    step = PressingStepFactory(force_t=3.5, die_diameter_mm=10.0)
    assert step.pressure_mpa == pytest.approx(437.0, abs=0.5)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("cathode_active_fraction", 0.0, "(0, 1]"),
        ("cathode_active_fraction", 1.2, "(0, 1]"),
        ("composite_loading_mg_cm2", -3.0, "greater than zero"),
        ("die_diameter_mm", 0.0, "greater than zero"),
        ("voltage_max_v", 2.0, "above the lower one"),
    ],
)
def test_it_refuses_impossible_builds_with_a_message(field, value, message):
    cell = CellFactory.build(project=ProjectFactory(), group=GroupFactory())
    cell.group.project = cell.project
    setattr(cell, field, value)
    with pytest.raises(ValidationError) as err:
        cell.full_clean(exclude=["project", "group", "cathode_material", "electrolyte", "anode"])
    assert message in str(err.value.message_dict[field])


def test_it_requires_an_area_or_a_die_diameter():
    cell = CellFactory()
    cell.area_cm2 = cell.die_diameter_mm = None
    with pytest.raises(ValidationError, match="area or the die diameter"):
        cell.clean()


def test_it_refuses_a_group_of_another_project():
    cell = CellFactory()
    cell.group = GroupFactory(project=ProjectFactory(name="elsewhere"))
    with pytest.raises(ValidationError, match="another project"):
        cell.clean()


def test_it_refuses_a_negative_pressing_force():
    step = PressingStepFactory.build(force_t=-1.0)
    with pytest.raises(ValidationError, match="greater than zero"):
        step.clean()
