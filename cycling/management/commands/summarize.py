"""`manage.py summarize FILE --active-mass-mg M`: any cycler's export -> per-cycle table (no database).

The JSON contract is land_summary's (file, n_records, cycles, run, warnings) plus the instrument, the reader
and its version; the file's format is recognised from its content (LAND, Neware, Arbin, BioLogic, Maccor,
BDF where its reader is installed)."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from cycling.analysis import CellSpec, run_metrics, summarize_cycles
from cycling.management.commands.land_summary import JSON_CYCLE_FIELDS, _plain


class Command(BaseCommand):
    help = ("Read any supported cycler export (LAND, Neware, Arbin, BioLogic, Maccor, BDF) and print its "
            "per-cycle summary (JSON or CSV) without touching the database.")
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--active-mass-mg", type=float, required=True)
        parser.add_argument("--area-cm2", type=float, default=None)
        parser.add_argument("--theoretical-mah-g", type=float, default=160.0)
        parser.add_argument("--first-half", choices=("charge", "discharge"), default=None,
                            help="default: detected from the first non-rest record")
        parser.add_argument("--format", choices=("json", "csv"), default="json")

    def handle(self, *args, **opts):
        from cycling.parsers import ParseError, read_export
        from cycling.parsers.crosscheck import cross_check

        try:
            export = read_export(opts["file"])
        except ParseError as exc:
            sys.stderr.write(f"{exc}\n")
            sys.stderr.flush()
            raise SystemExit(2) from None
        spec = CellSpec(opts["active_mass_mg"], opts["area_cm2"], opts["theoretical_mah_g"], opts["first_half"])
        cycles = summarize_cycles(export.records, spec)
        warnings = list(export.warnings)
        if export.reader != "assb-lab land":  # read_land checks LAND's Cycle-Tab itself
            warnings += cross_check(export.records, export.cycle_table, instrument=export.instrument)
        if opts["format"] == "csv":
            self.stdout.write(cycles.to_csv(index=False, float_format="%.6g"), ending="")
            for w in warnings:
                sys.stderr.write(f"warning: {w}\n")
            return
        payload = {
            "file": str(opts["file"]),
            "instrument": export.instrument,
            "reader": export.reader,
            "reader_version": export.reader_version,
            "n_records": int(len(export.records)),
            "cycles": [_plain(row) for row in cycles[list(JSON_CYCLE_FIELDS)].to_dict(orient="records")],
            "run": _plain(run_metrics(cycles)),
            "warnings": warnings,
        }
        self.stdout.write(json.dumps(payload, indent=2, allow_nan=False))
