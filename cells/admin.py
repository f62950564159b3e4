"""Admin of the registry: fieldsets follow a lab build sheet; derived values shown read-only."""
from django.contrib import admin, messages

from . import services
from .models import (
    AuditEvent,
    Cell,
    CellGroup,
    Coating,
    CyclerDevice,
    ElectrolyteBatch,
    Material,
    PressingStep,
    Project,
)


class AuditedAdmin(admin.ModelAdmin):
    """Saves and deletes through the registry's services, as the API's: audited with old -> new values."""

    def save_model(self, request, obj, form, change):
        services.object_save(actor=request.user, save=lambda: obj.save() or obj, instance=obj)

    def delete_model(self, request, obj):
        services.object_delete(obj=obj, actor=request.user)

    def delete_queryset(self, request, queryset):  # the "delete selected" action
        for obj in queryset:
            services.object_delete(obj=obj, actor=request.user)


def _fmt(value, unit, digits=3):
    return "—" if value is None else f"{value:.{digits}g} {unit}"


@admin.register(Project)
class ProjectAdmin(AuditedAdmin):
    list_display = ["name", "retention_reference_cycle", "decay_reference_cycle", "created_at"]
    search_fields = ["name"]
    filter_horizontal = ["members"]


@admin.register(CellGroup)
class CellGroupAdmin(AuditedAdmin):
    list_display = ["name", "project", "color"]
    list_filter = ["project"]
    search_fields = ["name"]


class CatalogueAdmin(AuditedAdmin):
    """An edit of a catalogue record goes through the API's service: audited old -> new, cells recomputed
    (a create and a delete as every registry record's)."""

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        services.catalogue_update(obj=obj, data={name: form.cleaned_data[name] for name in form.changed_data},
                                  actor=request.user)


@admin.register(Material)
class MaterialAdmin(CatalogueAdmin):
    list_display = ["name", "kind", "formula", "theoretical_capacity_mah_g", "potential_vs_li_v"]
    list_filter = ["kind"]
    search_fields = ["name", "formula"]


@admin.register(Coating)
class CoatingAdmin(CatalogueAdmin):
    list_display = ["__str__", "wt_percent", "method", "anneal_temperature_c", "anneal_time_h"]
    list_filter = ["material", "method"]


class PressingStepInline(admin.TabularInline):
    model = PressingStep
    extra = 0
    fields = ["order", "layer", "force_t", "die_diameter_mm", "hold_time_s", "pressure"]
    readonly_fields = ["pressure"]

    @admin.display(description="Pressure")
    def pressure(self, obj):
        return _fmt(obj.pressure_mpa if obj.pk else None, "MPa")


@admin.register(ElectrolyteBatch)
class ElectrolyteBatchAdmin(admin.ModelAdmin):
    list_display = ["name", "material", "supplier", "made_on"]
    list_filter = ["material"]
    search_fields = ["name", "supplier", "synthesis", "notes"]


@admin.register(Cell)
class CellAdmin(AuditedAdmin):
    list_display = ["name", "group", "replicate_number", "cathode_material", "coating", "composite_loading_mg_cm2",
                    "build_date", "builder"]
    list_filter = ["cell_type", "project", "group", "coating", "cathode_material", "build_date"]
    search_fields = ["name", "notes", "builder", "group__name", "cycler_channel"]
    date_hierarchy = "build_date"
    list_select_related = ["group", "cathode_material", "coating__material"]
    inlines = [PressingStepInline]
    actions = ["duplicate_builds"]
    readonly_fields = ["derived_area", "derived_active_loading", "derived_active_mass", "derived_areal_capacity",
                       "derived_one_c_current", "derived_cell_window", "created_at", "updated_at"]
    fieldsets = [
        ("Identity", {"fields": ["name", "cell_type", "project", "group", "replicate_number", "builder", "build_date",
                                 "notes"]}),
        ("Electrolyte batch and specimen", {"fields": ["electrolyte_batch", "electrode_metal", "pellet_thickness_mm",
                                                       "pressing_pressure_mpa", "pressing_time_s"]}),
        ("Cathode composite", {"fields": ["cathode_material", "coating", "catholyte", "conductive_additive",
                                          "cathode_active_fraction", "composite_loading_mg_cm2"]}),
        ("Separator and anode", {"fields": ["electrolyte", "separator_mass_mg", "anode"]}),
        ("Geometry", {"fields": ["die_diameter_mm", "area_cm2"]}),
        ("Cycling conditions", {"fields": ["cycler_channel", "theoretical_capacity_mah_g", "voltage_min_v", "voltage_max_v",
                                           "voltage_reference", "stack_pressure_mpa", "temperature_c",
                                           "rest_before_test_h", "test_electrode", "first_half"]}),
        ("Derived (computed, not stored)", {"fields": ["derived_area", "derived_active_loading", "derived_active_mass",
                                                       "derived_areal_capacity", "derived_one_c_current",
                                                       "derived_cell_window"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Electrode area")
    def derived_area(self, obj):
        return _fmt(obj.electrode_area_cm2, "cm²", 4)

    @admin.display(description="Active loading")
    def derived_active_loading(self, obj):
        return _fmt(obj.active_loading_mg_cm2, "mg/cm²")

    @admin.display(description="Active mass")
    def derived_active_mass(self, obj):
        return _fmt(obj.active_mass_mg, "mg", 4)

    @admin.display(description="Areal capacity")
    def derived_areal_capacity(self, obj):
        return _fmt(obj.areal_capacity_mah_cm2, "mAh/cm²", 4)

    @admin.display(description="1C current")
    def derived_one_c_current(self, obj):
        return _fmt(obj.one_c_current_ma, "mA", 4)

    @admin.display(description="Cell voltage window")
    def derived_cell_window(self, obj):
        window = obj.cell_voltage_window_v if obj.pk else None
        return "—" if window is None else f"{window[0]:.2f}–{window[1]:.2f} V (cell)"

    @admin.action(description="Duplicate selected builds as new replicates")
    def duplicate_builds(self, request, queryset):
        copies = [services.cell_duplicate(cell=cell, actor=request.user) for cell in queryset]
        self.message_user(request, f"Created {', '.join(c.name for c in copies)}.", messages.SUCCESS)



@admin.register(CyclerDevice)
class CyclerDeviceAdmin(AuditedAdmin):
    list_display = ["name", "timezone", "is_active", "last_seen_at"]
    readonly_fields = ["key", "created_at", "last_seen_at"]
    filter_horizontal = ["projects"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "device", "action", "object_type", "object_id", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
