"""`manage.py recheck_kk`: recompute stored lin-KK results with the current rule (no re-ingest, fits untouched)."""
from django.core.management.base import BaseCommand
from django.db import transaction

from impedance.analysis import KK_VERSION
from impedance.services import kk_recheck


class Command(BaseCommand):
    help = ("Recompute the Kramers-Kronig check of stored EIS spectra from their stored points with the current "
            "rule, and the KK lines of their files' warnings; fits are not touched. Migration 0004 does this once.")

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help=f"Every spectrum, not only those older than "
                            f"KK version {KK_VERSION}")

    def handle(self, *args, **options):
        with transaction.atomic():
            n = kk_recheck(only_outdated=not options["all"])
        self.stdout.write(f"{n} spectra rechecked (lin-KK rule version {KK_VERSION}).")
