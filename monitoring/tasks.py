"""Celery tasks of monitoring (thin, ids only), and the on-commit senders the ingest's signal and the services' callers use.

The services never import this module (no import circle): a task runs a service, then sends the deliveries
the service created, each once the transaction has committed.
"""
import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError, transaction

from . import services

log = logging.getLogger(__name__)


def on_cell_data_ingested(sender, *, cell_id: int, **kwargs) -> None:
    """Receiver of ingest.signals.cell_data_ingested (connected in MonitoringConfig.ready)."""
    from ingest.signals import inline_requested

    after_ingest(cell_id=cell_id, inline=inline_requested())


def after_ingest(*, cell_id: int, inline: bool = False) -> None:
    """The ingest's hook: re-evaluate the cell's rules once its transaction commits (imported, failed or
    deleted alike): on the worker, or here when `inline` (`ingest --now`, a deleted file).

    Never raises: a broker outage only delays the evaluation until the beat's periodic pass.
    """
    def here():
        try:
            evaluate_and_notify(cell_id)
        except Exception as exc:
            log.warning("could not evaluate the rules of cell %s here (%s); the beat will do it", cell_id, exc)

    if inline:
        transaction.on_commit(here)
        return

    def send():
        try:
            evaluate_cell.delay(cell_id)
        except Exception as exc:
            log.warning("could not queue the rule evaluation of cell %s (%s); the beat will do it", cell_id, exc)

    transaction.on_commit(send)


def send_deliveries(delivery_ids: list[int]) -> None:
    """Queue each delivery after commit; when the broker is down the retry pass picks them up."""
    def send(pk):
        try:
            deliver_alert.delay(pk)
        except Exception as exc:
            log.warning("could not queue delivery %s (%s); the retry pass will send it", pk, exc)

    for pk in delivery_ids:
        transaction.on_commit(lambda pk=pk: send(pk))


def evaluate_and_notify(cell_id: int, now=None) -> list:
    """Evaluate one cell and send the notifications of the alerts it opened."""
    new = services.cell_evaluate(cell_id=cell_id, now=now)
    for alert in new:
        send_deliveries(services.alert_notify(alert=alert))
    return new


@shared_task(bind=True, acks_late=True, max_retries=6, ignore_result=True)
def evaluate_cell(self, cell_id: int) -> int:
    """Evaluate one cell's rules (sent by the ingest on commit); a database hiccup retries with backoff."""
    try:
        return len(evaluate_and_notify(cell_id))
    except (OperationalError, InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=min(2 ** self.request.retries, 60)) from exc


@shared_task(acks_late=True, ignore_result=True)
def deliver_alert(delivery_id: int) -> str:
    """Send one e-mail or webhook POST; a failure is recorded and retried later by `retry_deliveries`."""
    return services.delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def retry_deliveries() -> list[int]:
    """Periodic: re-send deliveries whose backoff has passed (SMTP or webhook was down)."""
    due = services.deliveries_due()
    for pk in due:
        deliver_alert.delay(pk)
    return due


@shared_task(ignore_result=True)
def evaluate_due_cells() -> list[int]:
    """Periodic: the time-based rules (no new data for N hours) for runs that went quiet."""
    due = services.cells_due()
    for cell_id in due:
        evaluate_and_notify(cell_id)
    return due
