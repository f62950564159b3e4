"""Signals the cell registry sends to the apps that hold analysed data (cells imports none of them)."""
from django.dispatch import Signal

# A catalogue value that enters the numbers changed: the listed cells must be analysed again.
# Sent with cell_ids=[...], reason="..."; cycling.signals reprocesses each cell's files (cell_recompute).
catalogue_recompute = Signal()
