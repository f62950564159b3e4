"""Keep derived per-cycle values in step with the build sheet (a corrected mass triggers a recompute); a deleted
cell takes its data files' stored bytes and records with it."""
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver

from cells.models import Cell
from cells.signals import catalogue_recompute

# Build-sheet fields whose change alters per-cycle results.
ANALYSIS_INPUT_FIELDS = (
    "cathode_active_fraction", "composite_loading_mg_cm2", "die_diameter_mm", "area_cm2",
    "theoretical_capacity_mah_g", "first_half", "cathode_material_id",
)


@receiver(pre_save, sender=Cell)
def _remember_inputs(sender, instance, **kwargs):
    if instance.pk:
        old = Cell.objects.filter(pk=instance.pk).values(*ANALYSIS_INPUT_FIELDS).first()
        instance._analysis_inputs_before = old


@receiver(post_save, sender=Cell)
def _recompute_on_change(sender, instance, created, **kwargs):
    before = getattr(instance, "_analysis_inputs_before", None)
    if created or before is None:
        return
    now = {f: getattr(instance, f) for f in ANALYSIS_INPUT_FIELDS}
    if now != before:
        from .services import cell_recompute

        cell_recompute(cell=instance, reason="build sheet changed: " + ", ".join(
            sorted(f.removesuffix("_id") for f in ANALYSIS_INPUT_FIELDS if now[f] != before[f])
        ))


@receiver(catalogue_recompute)
def _recompute_after_catalogue_change(sender, cell_ids, reason, **kwargs):
    from .services import cell_recompute

    for cell in Cell.objects.filter(pk__in=cell_ids):
        cell_recompute(cell=cell, reason=reason)


@receiver(pre_delete, sender=Cell)
def _remove_stored_files_of_a_deleted_cell(sender, instance, **kwargs):
    """A cell's delete (API or admin, cells.services.object_delete) cascades to its data files' rows; their
    stored bytes and records go too once it commits, as a data file's own delete removes them."""
    from django.core.files.storage import default_storage
    from django.db import transaction

    from .models import DataFile

    files = DataFile.objects.filter(cell=instance)
    # Bytes another cell's data file holds too (its channel of the same multi-channel file) stay.
    shared = set(DataFile.objects.exclude(cell=instance).filter(file__in=files.values("file"))
                 .values_list("file", flat=True))
    names = [n for pair in files.values_list("file", "records_file") for n in pair if n and n not in shared]
    if names:
        transaction.on_commit(lambda: [default_storage.delete(n) for n in names])
