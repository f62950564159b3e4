"""`manage.py ccd FILE --area-cm2 A`: critical current density of a symmetric Li | SE | Li cell from its cycling
export (any cycler the reader registry reads; no database).

Prints {"steps": [{current_density_ma_cm2, overpotential_mv}], "ccd_ma_cm2" (null when not reached),
"short_time_s" (null likewise), "definition"}. Exit 2 for a file that cannot give a CCD (not a cycler export, a
full cell, one current density only)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from assb_lab.lib import jsonable

from ._common import refuse


class Command(BaseCommand):
    help = "Critical current density of a symmetric Li | SE | Li cell from its cycling export, as JSON."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--area-cm2", type=float, required=True, help="electrode area, cm2")
        parser.add_argument("--format", choices=("json",), default="json")

    def handle(self, *args, **opts):
        from cycling.parsers import ParseError, read_export
        from solidstate.analysis import AnalysisError, critical_current_density
        from solidstate.analysis.reports import ccd_json

        if not (opts["area_cm2"] and opts["area_cm2"] > 0):
            refuse("--area-cm2 must be a positive number")
        try:
            export = read_export(opts["file"])
        except ParseError as exc:
            refuse(f"{opts['file']}: not a cycler export: {exc}")
        r = export.records
        try:
            result = critical_current_density(r["test_time_s"], r["current_ma"], r["voltage_v"],
                                              area_cm2=opts["area_cm2"], name=str(opts["file"]))
        except AnalysisError as exc:
            refuse(str(exc))
        self.stdout.write(json.dumps(jsonable(ccd_json(result)), indent=2, allow_nan=False))
