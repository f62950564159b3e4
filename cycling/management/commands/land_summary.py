"""`manage.py land_summary FILE --active-mass-mg M`: print a LAND file's per-cycle table (no database)."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
from django.core.management.base import BaseCommand

from cycling.analysis import CellSpec, cross_check, run_metrics, summarize_cycles

JSON_CYCLE_FIELDS = ("cycle", "charge_mah", "discharge_mah", "charge_mah_g", "discharge_mah_g", "ce_percent",
                     "c_rate", "dqdv_peak_charge_v", "dqdv_peak_discharge_v")


def _plain(value):
    """JSON-safe value: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


class Command(BaseCommand):
    help = "Parse a LAND export and print its per-cycle summary (JSON or CSV) without touching the database."
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
        from cycling.parsers import ParseError, read_land

        try:
            export = read_land(opts["file"])
        except ParseError as exc:
            sys.stderr.write(f"{exc}\n")
            sys.stderr.flush()
            raise SystemExit(2) from None
        spec = CellSpec(opts["active_mass_mg"], opts["area_cm2"], opts["theoretical_mah_g"], opts["first_half"])
        cycles = summarize_cycles(export.records, spec)
        warnings = list(export.warnings) + cross_check(cycles, export.cycle_table)
        if opts["format"] == "csv":
            self.stdout.write(cycles.to_csv(index=False, float_format="%.6g"), ending="")
            for w in warnings:
                sys.stderr.write(f"warning: {w}\n")
            return
        payload = {
            "file": str(opts["file"]),
            "n_records": int(len(export.records)),
            "cycles": [_plain(row) for row in cycles[list(JSON_CYCLE_FIELDS)].to_dict(orient="records")],
            "run": _plain(run_metrics(cycles)),
            "warnings": warnings,
        }
        self.stdout.write(json.dumps(payload, indent=2, allow_nan=False))


__all__ = ["Command", "JSON_CYCLE_FIELDS"]
