"""App config of impedance (EIS): spectra, Kramers-Kronig checks and equivalent-circuit fits of uploaded files."""
from django.apps import AppConfig


class ImpedanceConfig(AppConfig):
    name = "impedance"
    verbose_name = "Impedance (EIS)"
    default_auto_field = "django.db.models.BigAutoField"
