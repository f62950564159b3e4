"""What the ingest publishes: "a cell's data changed" once a file ended IMPORTED or FAILED.

Subscribers (monitoring re-evaluates the cell's alert rules) connect from their AppConfig.ready, so the
ingest never imports them. Sent inside the ingest's flow; a receiver that needs the committed rows defers
its work with `transaction.on_commit`.
"""
from django.dispatch import Signal

# kwargs: cell_id (int), datafile_id (int), status ("imported" or "failed"); sender: the DataFile model.
cell_data_ingested = Signal()
