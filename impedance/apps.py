"""App config of impedance (EIS): spectra, Kramers-Kronig checks and equivalent-circuit fits of uploaded files."""
from django.apps import AppConfig


class ImpedanceConfig(AppConfig):
    name = "impedance"
    verbose_name = "Impedance (EIS)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from cells.filtersets import add_cell_filter
        from cycling.models import DataFile
        from ingest import machinery as ingest

        from .filtersets import has_eis_filter
        from .parsers import ParseError
        from .services import spectrum_ingest

        ingest.register(DataFile.Kind.EIS, spectrum_ingest, bad_data=(ParseError,))
        add_cell_filter("has_eis", has_eis_filter())
