"""Celery tasks: thin wrappers around cycling.services, taking ids only."""
import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services

log = logging.getLogger(__name__)

# Worth retrying: the database or the storage was away for a moment.
TRANSIENT = (OperationalError, InterfaceError, OSError, services.ClaimHeld)


@shared_task(bind=True, acks_late=True, max_retries=12, ignore_result=True)
def ingest_datafile(self, datafile_id: int) -> str:
    """Ingest one data file; transient failures retry with exponential backoff, bad data fails once."""
    try:
        return services.datafile_ingest(datafile_id=datafile_id)
    except TRANSIENT as exc:
        countdown = min(2 ** self.request.retries, 60)
        log.warning("data file %s: %s; retry %s in %ss", datafile_id, exc.__class__.__name__,
                    self.request.retries + 1, countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(ignore_result=True)
def sweep_stale_datafiles() -> list[int]:
    """Periodic: re-send pending files that were never queued and parsing files whose worker died."""
    return services.sweep_stale()
