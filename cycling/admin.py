"""Admin of cycling data files: read their state; change only a file's place on the cell's timeline."""
from django.contrib import admin

from . import services
from .models import DataFile


@admin.register(DataFile)
class DataFileAdmin(admin.ModelAdmin):
    list_display = ["original_name", "cell", "kind", "status", "timeline_position", "timeline_relation",
                    "cycle_offset", "n_cycles", "created_at"]
    list_filter = ["kind", "status", "timeline_relation"]
    search_fields = ["original_name", "cell__name", "sha256"]
    fields = ["original_name", "cell", "kind", "status", "timeline_mark", "timeline_position", "timeline_relation",
              "cycle_offset", "timeline_warnings", "n_records", "n_cycles", "warnings", "error", "created_at"]
    readonly_fields = [f for f in fields if f != "timeline_mark"]

    def has_add_permission(self, request):
        return False  # files arrive through the upload API, which stores and checks them

    def save_model(self, request, obj, form, change):
        # Through the service: audit-logged, and the cell is renumbered in the same transaction.
        services.datafile_mark_timeline(datafile=obj, mark=obj.timeline_mark, actor=request.user)
