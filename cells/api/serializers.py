"""REST representations of the registry; derived values are read-only outputs of the model properties."""
import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from ..models import Cell, CellGroup, Coating, Material, PressingStep, Project


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "name", "description", "created_at", "retention_reference_cycle", "decay_reference_cycle"]


class MaterialSerializer(serializers.ModelSerializer):
    class Meta:
        model = Material
        fields = ["id", "name", "kind", "formula", "supplier", "theoretical_capacity_mah_g", "potential_vs_li_v", "notes"]


class CoatingSerializer(serializers.ModelSerializer):
    material_name = serializers.CharField(source="material.name", read_only=True)

    class Meta:
        model = Coating
        fields = ["id", "material", "material_name", "thickness_nm", "wt_percent", "method",
                  "anneal_temperature_c", "anneal_time_h", "notes"]


class CellGroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = CellGroup
        fields = ["id", "project", "name", "description", "color"]

    def validate_project(self, project):
        if not Project.objects.restrict(self.context["request"].user).filter(pk=project.pk).exists():
            raise serializers.ValidationError("You are not a member of this project.")
        return project


class PressingStepSerializer(serializers.ModelSerializer):
    pressure_mpa = serializers.FloatField(read_only=True)

    class Meta:
        model = PressingStep
        fields = ["order", "layer", "force_t", "die_diameter_mm", "hold_time_s", "pressure_mpa"]


class CellSerializer(serializers.ModelSerializer):
    """A build sheet; `derived` carries the values computed from it (never stored)."""

    pressing_steps = PressingStepSerializer(many=True, required=False)
    group_name = serializers.CharField(source="group.name", read_only=True)
    coating_label = serializers.SerializerMethodField()
    derived = serializers.SerializerMethodField()

    class Meta:
        model = Cell
        fields = [
            "id", "name", "cell_type", "project", "group", "group_name", "replicate_number", "builder", "build_date",
            "notes", "electrolyte_batch", "electrode_metal", "pellet_thickness_mm", "pressing_pressure_mpa",
            "pressing_time_s",
            "cathode_material", "coating", "coating_label", "catholyte", "conductive_additive",
            "cathode_active_fraction", "composite_loading_mg_cm2", "electrolyte", "separator_mass_mg", "anode",
            "die_diameter_mm", "area_cm2", "stack_pressure_mpa", "theoretical_capacity_mah_g",
            "voltage_min_v", "voltage_max_v", "voltage_reference", "temperature_c", "rest_before_test_h",
            "test_electrode", "first_half", "cycler_channel", "pressing_steps", "derived", "created_at", "updated_at",
        ]

    def get_coating_label(self, cell) -> str:
        return str(cell.coating) if cell.coating_id else "bare"

    def get_derived(self, cell) -> dict:
        window = cell.cell_voltage_window_v
        return {
            "area_cm2": cell.electrode_area_cm2,
            "active_loading_mg_cm2": cell.active_loading_mg_cm2,
            "active_mass_mg": cell.active_mass_mg,
            "theoretical_capacity_mah_g": cell.effective_theoretical_mah_g,
            "areal_capacity_mah_cm2": cell.areal_capacity_mah_cm2,
            "one_c_current_ma": cell.one_c_current_ma,
            "cell_voltage_window_v": list(window) if window else None,
        }

    def validate(self, attrs):
        request = self.context["request"]
        project = attrs.get("project") or getattr(self.instance, "project", None)
        if project and not Project.objects.restrict(request.user).filter(pk=project.pk).exists():
            raise serializers.ValidationError({"project": "You are not a member of this project."})
        group = attrs.get("group") or getattr(self.instance, "group", None)
        if group and not CellGroup.objects.restrict(request.user).filter(pk=group.pk).exists():
            raise serializers.ValidationError({"group": "Unknown group."})
        # Model.clean() holds the domain rules; run it on a scratch copy.
        probe = copy.copy(self.instance) if self.instance else Cell()
        for key, value in attrs.items():
            if key != "pressing_steps":
                setattr(probe, key, value)
        try:
            probe.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs

    def create(self, validated_data):
        steps = validated_data.pop("pressing_steps", [])
        cell = Cell.objects.create(**validated_data)
        PressingStep.objects.bulk_create([PressingStep(cell=cell, **s) for s in steps])
        return cell

    def update(self, instance, validated_data):
        steps = validated_data.pop("pressing_steps", None)
        cell = super().update(instance, validated_data)
        if steps is not None:
            cell.pressing_steps.all().delete()
            PressingStep.objects.bulk_create([PressingStep(cell=cell, **s) for s in steps])
        return cell
