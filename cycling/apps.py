"""App config of cycling data: uploads of LAND exports, their parsing and per-cycle results."""
from django.apps import AppConfig


class CyclingConfig(AppConfig):
    name = "cycling"
    verbose_name = "Cycling data"

    def ready(self):
        from ingest import machinery as ingest

        from . import services, signals  # noqa: F401  (signals: recompute after a build-sheet correction)
        from .models import DataFile
        from .parsers import ParseError

        ingest.use_model(DataFile)  # the data-file model lives here; the neutral machinery drives it
        ingest.register(DataFile.Kind.CYCLING, services.cycling_ingest, bad_data=(ParseError,))
        # The cell list's stored figures (CellFigures) follow every ingest's final data version at once.
        from ingest.signals import cell_data_ingested

        cell_data_ingested.connect(services.cell_figures_after_ingest, dispatch_uid="cycling-cell-figures-after-ingest")
