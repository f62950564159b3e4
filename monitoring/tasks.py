"""Celery tasks of monitoring: thin wrappers taking ids; the services are imported inside (no import circle)."""
import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=6, ignore_result=True)
def evaluate_cell_task(self, cell_id: int) -> int:
    """Evaluate one cell's rules (sent by the ingest on commit); a database hiccup retries with backoff."""
    from . import services

    try:
        return len(services.cell_evaluate(cell_id=cell_id))
    except (OperationalError, InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=min(2 ** self.request.retries, 60)) from exc


@shared_task(acks_late=True, ignore_result=True)
def deliver_task(delivery_id: int) -> str:
    """Send one e-mail or webhook POST; a failure is recorded and retried later by `retry_deliveries_task`."""
    from . import services

    return services.delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def retry_deliveries_task() -> list[int]:
    """Periodic: re-send deliveries whose backoff has passed (SMTP or webhook was down)."""
    from . import services

    due = services.deliveries_due()
    for pk in due:
        deliver_task.delay(pk)
    return due


@shared_task(ignore_result=True)
def evaluate_due_task() -> list[int]:
    """Periodic: the time-based rules (no new data for N hours) for runs that went quiet."""
    from . import services

    return services.evaluate_due()
