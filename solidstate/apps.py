"""App config of solidstate: electrolyte conductivity (pellet EIS, Arrhenius), CCD of symmetric cells."""
from django.apps import AppConfig


class SolidstateConfig(AppConfig):
    name = "solidstate"
    verbose_name = "Solid-state specimens"
    default_auto_field = "django.db.models.BigAutoField"
