"""What the ingest publishes: "a cell's data changed" once a file ended IMPORTED or FAILED, or was deleted.

Subscribers (monitoring re-evaluates the cell's alert rules) connect from their AppConfig.ready, so the
ingest never imports them. Sent inside the ingest's flow; a receiver that needs the committed rows defers
its work with `transaction.on_commit`. A caller that wants the subscribers' work done in its own process
(`manage.py ingest --now`, a deletion whose alert must clear at once) wraps the flow in `subscribers_inline()`;
receivers ask `inline_requested()` instead of queueing to a worker.
"""
import contextlib
import contextvars

from django.dispatch import Signal

# kwargs: cell_id (int), datafile_id (int), status ("imported", "failed" or "deleted"); sender: the DataFile model.
cell_data_ingested = Signal()

_inline = contextvars.ContextVar("ingest_subscribers_inline", default=False)


@contextlib.contextmanager
def subscribers_inline():
    """Within this block, subscribers of cell_data_ingested do their work in this process (no worker needed)."""
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)


def inline_requested() -> bool:
    return _inline.get()
