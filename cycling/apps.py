"""App config of cycling data: uploads of LAND exports, their parsing and per-cycle results."""
from django.apps import AppConfig


class CyclingConfig(AppConfig):
    name = "cycling"
    verbose_name = "Cycling data"

    def ready(self):
        from . import ingest, services, signals  # noqa: F401  (signals: recompute after a build-sheet correction)
        from .models import DataFile
        from .parsers import ParseError

        ingest.register(DataFile.Kind.CYCLING, services.cycling_ingest, bad_data=(ParseError,))
        # The cell list's stored figures (CellFigures) follow every ingest's final data version at once.
        ingest.on_cell_data_changed("cycling.cell_figures", services.cell_figures_after_change)
