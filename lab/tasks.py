"""Celery tasks of lab (thin, periodic): the dataset-export zips are caches pruned here."""
from celery import shared_task


@shared_task(ignore_result=True)
def prune_dataset_zips() -> int:
    """Periodic: drop dataset-export zips older than ASSB_DATASET_KEEP_DAYS (they are rebuilt on demand)."""
    from django.conf import settings

    from lab.services import prune_built

    removed, _kept = prune_built(days=settings.ASSB_DATASET_KEEP_DAYS)
    return removed
