"""Admin of EIS results: read-only views (rows come from the ingest and refits; delete the data file instead)."""
from django.contrib import admin

from .models import EisFit, EisSpectrum


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EisFitInline(admin.TabularInline):
    model = EisFit
    fields = ["circuit", "is_current", "r_int_ohm", "r_int_stderr_ohm", "r_int_ohm_cm2", "chi_square", "converged",
              "created_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EisSpectrum)
class EisSpectrumAdmin(_ReadOnly):
    list_display = ["id", "cell", "datafile", "sweep", "after_cycle", "n_points", "kk_passes", "kk_max_residual_pct",
                    "created_at"]
    list_filter = ["kk_passes", "cell__group"]
    search_fields = ["cell__name", "datafile__original_name"]
    list_select_related = ["cell", "datafile"]
    exclude = ["freq_hz", "z_real_ohm", "z_imag_ohm", "kk"]  # arrays: see the impedance page or the API
    inlines = [EisFitInline]


@admin.register(EisFit)
class EisFitAdmin(_ReadOnly):
    list_display = ["id", "spectrum", "circuit", "is_current", "r_int_ohm", "r_int_stderr_ohm", "r_int_ohm_cm2",
                    "converged", "created_by", "created_at"]
    list_filter = ["is_current", "converged", "circuit"]
    search_fields = ["spectrum__cell__name", "circuit"]
    list_select_related = ["spectrum__cell", "created_by"]
    raw_id_fields = ["spectrum", "seeded_from"]
