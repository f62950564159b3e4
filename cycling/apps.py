"""App config of cycling data: uploads of LAND exports, their parsing and per-cycle results."""
from django.apps import AppConfig


class CyclingConfig(AppConfig):
    name = "cycling"
    verbose_name = "Cycling data"

    def ready(self):
        from . import signals  # noqa: F401  (recompute after a build-sheet correction)
