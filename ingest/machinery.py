"""The ingest machinery of every data file: claim, lease and heartbeat, progress, failure, sweep, and a
registry of handlers per DataFile kind (each app registers its own from its AppConfig.ready).

It imports no data app: the app owning the DataFile model registers it (`use_model`, cycling today), the
apps that import a kind register their handler (`register`), and the end of an ingest is published as the
`ingest.signals.cell_data_ingested` signal (monitoring subscribes to it).

The ingest is idempotent: a file is claimed with one conditional UPDATE (a lease renewed by a heartbeat),
the handler does the slow work outside any transaction and swaps its results in inside one transaction
that first checks the claim is still its own. Running it twice, or after a crash halfway, leaves exactly
one consistent result. This module imports neither the services nor the tasks: the task imports it, and
whoever sends the task passes it in (`send`, `sweep_stale`), so there is no import circle.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from cells.services import cell_data_changed
from readers import naming_file

from .signals import cell_data_ingested

log = logging.getLogger(__name__)

LEASE_S = getattr(settings, "ASSB_INGEST_LEASE_S", 60)


class _RegisteredModel:
    """Stands for the DataFile model class until and after its app registers it (`use_model`)."""

    model = None

    def __getattr__(self, name):
        if _RegisteredModel.model is None:
            raise RuntimeError("no DataFile model is registered: its app calls ingest.machinery.use_model(...) "
                               "from its AppConfig.ready")
        return getattr(_RegisteredModel.model, name)


DataFile = _RegisteredModel()


def use_model(model) -> None:
    """Make `model` the data-file model the machinery claims and updates (called by the app that owns it)."""
    _RegisteredModel.model = model


class ClaimHeld(Exception):
    """Another worker holds a live claim on the file; try again later."""


class IngestFailed(Exception):
    """Bad data: the file cannot be imported. Not retried."""


# --- handlers per kind --------------------------------------------------------------------------


@dataclass(frozen=True)
class Handler:
    """How one DataFile kind is ingested: `run(datafile=, token=, owned=, progress=) -> status`, and the
    exception types that mean bad data (the file fails once with that message, no retry)."""

    run: Callable[..., str]
    bad_data: tuple[type[Exception], ...] = ()


_HANDLERS: dict[str, Handler] = {}


def register(kind: str, run: Callable[..., str], *, bad_data: tuple[type[Exception], ...] = ()) -> None:
    """Make `run` the ingest of data files of `kind` (called from the owning app's AppConfig.ready)."""
    _HANDLERS[kind] = Handler(run, tuple(bad_data))


def handler_for(kind: str) -> Handler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise IngestFailed(f"no importer is installed for {kind!r} files") from None


# --- claim, lease, progress ------------------------------------------------------------------------


def claim(datafile_id: int) -> uuid.UUID | None:
    """Take the file for this worker: one conditional UPDATE, true for exactly one caller."""
    token, now = uuid.uuid4(), timezone.now()
    claimable = Q(status=DataFile.Status.PENDING) | Q(status=DataFile.Status.PARSING, lease_expires_at__lt=now)
    won = DataFile.objects.filter(claimable, pk=datafile_id).update(
        status=DataFile.Status.PARSING, claim_token=token, lease_expires_at=now + timedelta(seconds=LEASE_S),
        attempts=F("attempts") + 1, started_at=now, progress_percent=0,
    )
    return token if won else None


def owned(datafile_id, token):
    """The file as a queryset, empty unless our claim still holds."""
    return DataFile.objects.filter(pk=datafile_id, claim_token=token, status=DataFile.Status.PARSING)


@contextlib.contextmanager
def heartbeat(datafile_id: int, token: uuid.UUID):
    """Renew the lease while this worker is alive; a killed worker's lease runs out and the sweeper re-sends."""
    stop = threading.Event()

    def beat():
        try:
            while not stop.wait(LEASE_S / 3):
                try:
                    owned(datafile_id, token).update(lease_expires_at=timezone.now() + timedelta(seconds=LEASE_S))
                except Exception:  # database briefly away: drop the broken connection, the next beat reconnects
                    log.warning("heartbeat of data file %s failed; retrying", datafile_id, exc_info=True)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"lease-{datafile_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


PROGRESS_EVERY_S = 1.0


class Progress:
    """Throttled progress writes mapped into a stage's share of 0-100: a write when the value moved by 5 %
    or reached the stage's end, and at most one per PROGRESS_EVERY_S. A file imported in a second (most
    uploads) writes none: each write is a commit (a WAL flush) that no one could have seen."""

    def __init__(self, datafile_id, token):
        self.datafile_id, self.token, self.last = datafile_id, token, -1
        self.written_at = time.monotonic()  # the claim wrote 0 %

    def stage(self, lo: int, hi: int):
        def report(fraction: float):
            percent = int(lo + (hi - lo) * min(max(fraction, 0.0), 1.0))
            now = time.monotonic()
            if (percent >= self.last + 5 or percent == hi) and now - self.written_at >= PROGRESS_EVERY_S:
                self.last, self.written_at = percent, now
                owned(self.datafile_id, self.token).update(progress_percent=percent)
        return report


# --- the ingest ------------------------------------------------------------------------------------


def datafile_ingest(*, datafile_id: int) -> str:
    """Claim one data file, run its kind's handler and return the resulting status.

    Raises ClaimHeld when another worker is on it, and lets transient errors (database, storage)
    propagate so the task retries; bad data ends in FAILED with the handler's message.
    """
    token = claim(datafile_id)
    if token is None:
        state = DataFile.objects.filter(pk=datafile_id).values_list("status", flat=True).first()
        if state == DataFile.Status.PARSING:
            raise ClaimHeld(datafile_id)
        return state or "missing"
    datafile = DataFile.objects.select_related("cell__cathode_material").get(pk=datafile_id)
    progress = Progress(datafile_id, token)
    handler = None
    try:
        handler = handler_for(datafile.kind)
        with heartbeat(datafile_id, token):
            result = handler.run(datafile=datafile, token=token, owned=owned, progress=progress)
    except IngestFailed as exc:
        _fail(datafile_id, token, naming_file(str(exc), datafile.original_name), traceback.format_exc())
        result = DataFile.Status.FAILED
    except Exception as exc:
        if not (handler and isinstance(exc, handler.bad_data)):
            # Transient: give the claim back so the retry (or the sweeper) can take it at once.
            with contextlib.suppress(Exception):
                owned(datafile_id, token).update(status=DataFile.Status.PENDING, claim_token=None)
            raise
        # A reader's ParseError names the file already: prefixing it again read "X.xlsx: file 'X.xlsx': ...".
        _fail(datafile_id, token, naming_file(str(exc), datafile.original_name), traceback.format_exc())
        result = DataFile.Status.FAILED
    if result in (DataFile.Status.IMPORTED, DataFile.Status.FAILED):
        # Either changes what the dashboards show (a failed reprocess hides the file's old rows).
        cell_data_changed(cell_id=datafile.cell_id)
        # "A cell's data changed": monitoring re-evaluates the cell's alert rules (its receivers never raise).
        cell_data_ingested.send(sender=type(datafile), cell_id=datafile.cell_id, datafile_id=datafile_id,
                                status=result)
    return result


def _fail(datafile_id, token, message, tb):
    owned(datafile_id, token).update(
        status=DataFile.Status.FAILED, error=message[:4000], traceback=tb[-20000:], claim_token=None,
        finished_at=timezone.now(), progress_percent=100,
    )


# --- sending and sweeping --------------------------------------------------------------------------


def send(task, datafile_id: int) -> bool:
    """Send the ingest task for one file now; a broker outage leaves the file pending for the sweeper."""
    try:
        task.apply_async(args=[datafile_id], retry=True, retry_policy={
            "max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1,
        })
    except Exception as exc:  # broker down: the file stays pending and the sweeper sends it later
        log.warning("could not enqueue data file %s (%s); the sweeper will retry", datafile_id, exc)
        return False
    DataFile.objects.filter(pk=datafile_id).update(queued_at=timezone.now())
    return True


def send_on_commit(task, datafile_id: int) -> None:
    """Send the ingest task once the surrounding transaction commits."""
    transaction.on_commit(lambda: send(task, datafile_id))


def sweep_stale(task, *, pending_after_s: int | None = None) -> list[int]:
    """Re-send files nobody is working on: pending and not sent (or sent long ago), or parsing with a dead lease."""
    if pending_after_s is None:
        pending_after_s = getattr(settings, "ASSB_SWEEP_PENDING_AFTER_S", 120)
    now = timezone.now()
    stale = DataFile.objects.filter(
        Q(status=DataFile.Status.PENDING, queued_at__isnull=True)
        | Q(status=DataFile.Status.PENDING, queued_at__lt=now - timedelta(seconds=pending_after_s))
        | Q(status=DataFile.Status.PARSING, lease_expires_at__lt=now)
    )
    ids = list(stale.values_list("pk", flat=True))
    for pk in ids:
        send(task, pk)
    return ids
