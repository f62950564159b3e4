"""App config of the cell registry."""
from django.apps import AppConfig


class CellsConfig(AppConfig):
    name = "cells"
    verbose_name = "Cell registry"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .roles import ensure_roles

        # Every lab app's permissions exist only after its own post_migrate, so re-run after each.
        post_migrate.connect(ensure_roles, dispatch_uid="cells.ensure_roles")
