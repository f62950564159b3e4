"""Admin of data files: read their state; change a file's place on the cell's timeline, reprocess or delete it,
always through the services (the same effects and audit entries as the API's)."""
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

    actions = ["reprocess"]

    def save_model(self, request, obj, form, change):
        # Through the service: audit-logged, and the cell is renumbered in the same transaction.
        services.datafile_mark_timeline(datafile=obj, mark=obj.timeline_mark, actor=request.user)

    def delete_model(self, request, obj):
        # As the API's delete: the cell's data version bumped, its timeline recomputed, the files removed, audited.
        services.datafile_delete(datafile=obj, actor=request.user)

    def delete_queryset(self, request, queryset):  # the "delete selected" action
        for datafile in queryset.select_related("cell"):
            services.datafile_delete(datafile=datafile, actor=request.user)

    @admin.action(description="Reprocess selected files (with their cells' current build sheets)")
    def reprocess(self, request, queryset):
        for datafile in queryset:
            services.datafile_reprocess(datafile=datafile, actor=request.user, reason="admin")
        self.message_user(request, f"Queued {queryset.count()} file(s) for reprocessing.")
