"""App config of impedance (EIS): spectra, Kramers-Kronig checks and equivalent-circuit fits of uploaded files."""
from django.apps import AppConfig


class ImpedanceConfig(AppConfig):
    name = "impedance"
    verbose_name = "Impedance (EIS)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from cycling.models import DataFile
        from ingest import machinery as ingest

        from .parsers import ParseError
        from .services import spectrum_ingest

        ingest.register(DataFile.Kind.EIS, spectrum_ingest, bad_data=(ParseError,))
