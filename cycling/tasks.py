"""Celery tasks of cycling: thin wrappers around ingest.machinery, taking ids only (they import it inside their body)."""
import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=12, ignore_result=True)
def ingest_datafile(self, datafile_id: int) -> str:
    """Ingest one data file; transient failures retry with exponential backoff, bad data fails once."""
    from ingest.machinery import ClaimHeld, datafile_ingest

    # Worth retrying: the database or the storage was away for a moment, or another worker holds the claim.
    transient = (OperationalError, InterfaceError, OSError, ClaimHeld)
    try:
        return datafile_ingest(datafile_id=datafile_id)
    except transient as exc:
        countdown = min(2 ** self.request.retries, 60)
        log.warning("data file %s: %s; retry %s in %ss", datafile_id, exc.__class__.__name__,
                    self.request.retries + 1, countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(ignore_result=True)
def sweep_stale_datafiles() -> list[int]:
    """Periodic: re-send pending files that were never queued and parsing files whose worker died."""
    from ingest.machinery import sweep_stale

    return sweep_stale(ingest_datafile)


