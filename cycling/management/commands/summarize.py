"""`manage.py summarize FILE [build facts]`: `python -m cycling.cli summarize` under manage.py (no database).

The options, the output and the exit status are those of the pure core's command line (cycling.cli), which
does the work without setting up Django; this command only hands it Django's streams."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from cycling import cli
from cycling.cli import JSON_CYCLE_FIELDS


class Command(BaseCommand):
    help = cli.SUMMARIZE_HELP
    requires_system_checks: list = []

    def add_arguments(self, parser):
        cli.add_summarize_arguments(parser)

    def read(self, path):
        """Every run of the file (one per channel), by the reader registry; land_summary narrows it to LAND."""
        return cli.read_runs(path)

    def handle(self, *args, **opts):
        def warn(text):
            sys.stderr.write(text)
            sys.stderr.flush()

        try:
            status = cli.summarize(opts, lambda text: self.stdout.write(text, ending=""), warn, read=self.read)
        except cli.UsageError as exc:
            raise CommandError(str(exc)) from None
        if status:
            raise SystemExit(status)


__all__ = ["Command", "JSON_CYCLE_FIELDS"]
