"""The registration form of a cell as a lab writes its build sheet: the active material loading or the composite
loading (with the active fraction), the area or the die, the pressings; derived values come from cells.derived."""
from django import forms
from django.forms import inlineformset_factory

from . import derived
from .models import Cell, CellGroup, Material, PressingStep, Project

SECTIONS = [
    ("Identity", ["name", "project", "group", "replicate_number", "builder", "build_date"]),
    ("Cathode composite", ["cathode_material", "coating", "catholyte", "conductive_additive",
                           "cathode_active_fraction", "active_loading_mg_cm2", "composite_loading_mg_cm2"]),
    ("Separator and anode", ["electrolyte", "separator_mass_mg", "anode"]),
    ("Geometry", ["die_diameter_mm", "area_cm2"]),
    ("Cycling conditions", ["cycler_channel", "theoretical_capacity_mah_g", "voltage_min_v", "voltage_max_v", "voltage_reference",
                            "stack_pressure_mpa", "temperature_c", "rest_before_test_h", "test_electrode",
                            "first_half"]),
    ("Notes", ["notes"]),
]


class CellRegistrationForm(forms.ModelForm):
    """A cell's build sheet. Only the composite loading is stored: an active loading typed instead is turned into
    it with the active fraction (composite = active / fraction), so both always agree."""

    active_loading_mg_cm2 = forms.FloatField(
        label="Active material loading (mg/cm²)", required=False,
        help_text="The active material alone (e.g. NMC), what papers call “mass loading”: "
                  "12.0 mg/cm² composite at 70:30 is 8.4 mg/cm² active.",
    )

    class Meta:
        model = Cell
        fields = [name for _title, names in SECTIONS for name in names if name != "active_loading_mg_cm2"]
        widgets = {
            "build_date": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"composite_loading_mg_cm2": "Composite loading (mg/cm²)"}
        help_texts = {
            "composite_loading_mg_cm2": "The whole cathode composite per area (active + electrolyte + additive). "
                                        "Enter this or the active material loading.",
            "cathode_active_fraction": "Active material weight fraction of the composite, e.g. 0.70 for 70:30.",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        projects = Project.objects.restrict(user)
        self.fields["project"].queryset = projects
        self.fields["group"].queryset = CellGroup.objects.filter(project__in=projects).select_related("project")
        self.fields["group"].label_from_instance = lambda g: f"{g.name} · {g.project.name}"
        for name in ("cathode_active_fraction", "active_loading_mg_cm2", "composite_loading_mg_cm2",
                     "die_diameter_mm", "area_cm2", "theoretical_capacity_mah_g", "stack_pressure_mpa"):
            self.fields[name].widget.attrs.update({"step": "any", "inputmode": "decimal"})

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in SECTIONS]

    def clean(self):
        data = super().clean()
        active, composite = data.get("active_loading_mg_cm2"), data.get("composite_loading_mg_cm2")
        if active is None and composite is None and not self.has_error("composite_loading_mg_cm2"):
            self.add_error("active_loading_mg_cm2", "Enter the active material loading or the composite loading.")
            return data
        sheet = build_sheet_of(data)
        for message in sheet["errors"]:
            self.add_error("active_loading_mg_cm2" if "loading" in message else None, message)
        self.warnings = sheet["warnings"]
        if not sheet["errors"] and sheet["composite_loading_mg_cm2"] is not None:
            data["composite_loading_mg_cm2"] = round(sheet["composite_loading_mg_cm2"], 6)
            self.instance.composite_loading_mg_cm2 = data["composite_loading_mg_cm2"]
        return data


def theoretical_of(data) -> float | None:
    """The cell's theoretical capacity, else its active material's (as Cell.effective_theoretical_mah_g)."""
    if data.get("theoretical_capacity_mah_g"):
        return data["theoretical_capacity_mah_g"]
    material = data.get("cathode_material")
    if material is not None and not isinstance(material, Material):
        material = Material.objects.filter(pk=material).first()
    return material.theoretical_capacity_mah_g if material is not None else None


def build_sheet_of(data, pressings=()) -> dict:
    """cells.derived.build_sheet over a form's values (cleaned or parsed from the query of the live preview)."""
    return derived.build_sheet(
        active_fraction=data.get("cathode_active_fraction"),
        composite_loading_mg_cm2=data.get("composite_loading_mg_cm2"),
        active_loading=data.get("active_loading_mg_cm2"),
        area_cm2=data.get("area_cm2"), die_diameter_mm=data.get("die_diameter_mm"),
        theoretical_mah_g=theoretical_of(data), pressings=tuple(pressings),
    )


PressingFormSet = inlineformset_factory(
    Cell, PressingStep, fields=["layer", "force_t", "die_diameter_mm", "hold_time_s"], extra=3, max_num=8,
    can_delete=False,
    widgets={name: forms.NumberInput(attrs={"step": "any"}) for name in ("force_t", "die_diameter_mm", "hold_time_s")},
)
