"""`manage.py conductivity FILE [FILE ...]`: ionic conductivity of a pellet from EIS files, one temperature each,
and the Arrhenius fit of the series (no database).

Prints {"points": [{file, temperature_c, r_bulk_ohm, r_total_ohm, sigma_bulk_s_cm, sigma_total_s_cm}],
"arrhenius": {ea_ev, ea_ev_se, sigma_25c_s_cm, form, n_points} or null below 3 temperatures}. The bulk values
are null where the spectrum cannot resolve the bulk arc; what was measured is said on stderr. Exit 2 for a
file that cannot give a conductivity (not an EIS file, no blocking-electrode spike)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from django.core.management.base import BaseCommand

from assb_lab.lib import jsonable

from ._common import refuse


def _temperatures(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        refuse(f"--temperatures-c: {text!r} is not a comma-separated list of numbers (e.g. 25,40,55)")
    if any(not math.isfinite(v) or v <= -273.15 for v in values):
        refuse(f"--temperatures-c: {text!r} holds a temperature at or below absolute zero")
    return values


class Command(BaseCommand):
    help = ("Ionic conductivity of a pellet between blocking electrodes from EIS files (one temperature per file) "
            "and the Arrhenius fit (sigma*T form) of the series, as JSON.")
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--thickness-mm", type=float, required=True, help="pellet thickness after pressing, mm")
        size = parser.add_mutually_exclusive_group(required=True)
        size.add_argument("--diameter-mm", type=float, help="pellet (electrode) diameter, mm")
        size.add_argument("--area-cm2", type=float, help="electrode area, cm2 (instead of --diameter-mm)")
        parser.add_argument("--temperatures-c", default=None,
                            help="one temperature per file in file order, e.g. 25,40,55 (optional when the files "
                                 "carry their temperature)")
        parser.add_argument("--lead-resistance-ohm", type=float, default=0.0,
                            help="lead/fixture resistance measured with the electrodes shorted; subtracted")
        parser.add_argument("--format", choices=("json",), default="json")

    def handle(self, *args, **opts):
        from impedance.parsers import ParseError, read_eis
        from solidstate.analysis import AnalysisError, disc_area_cm2, pellet_conductivity
        from solidstate.analysis.reports import conductivity_json

        thickness = opts["thickness_mm"]
        area = opts["area_cm2"] if opts["area_cm2"] is not None else (
            disc_area_cm2(opts["diameter_mm"]) if opts["diameter_mm"] and opts["diameter_mm"] > 0 else None)
        if not (thickness and thickness > 0) or not (area and area > 0):
            refuse("--thickness-mm and --diameter-mm (or --area-cm2) must be positive numbers")
        files = opts["files"]
        temps = _temperatures(opts["temperatures_c"])
        if temps is not None and len(temps) != len(files):
            refuse(f"--temperatures-c gives {len(temps)} temperature(s) for {len(files)} file(s); one per file")
        points = []
        for k, path in enumerate(files):
            name = Path(path).name
            try:
                spectrum = read_eis(path)
            except ParseError as exc:
                refuse(f"{path}: not an EIS spectrum: {exc}")
            sweeps = spectrum.sweeps()
            if len(sweeps) > 1:
                self.stderr.write(f"{name}: {len(sweeps)} sweeps; the last one is used")
            sweep = sweeps[-1]
            temperature = temps[k] if temps is not None else sweep.metadata.get("temperature_c")
            if temperature is None:
                refuse(f"{path}: the file does not say its temperature; give --temperatures-c (one per file)")
            try:
                result = pellet_conductivity(sweep.freq_hz, sweep.z_ohm, thickness_mm=thickness, area_cm2=area,
                                             lead_resistance_ohm=opts["lead_resistance_ohm"], name=str(path))
            except AnalysisError as exc:
                refuse(str(exc))
            self.stderr.write(f"{name} at {temperature:g} C: {result.statement}")
            points.append((str(path), float(temperature), result))
        self.stdout.write(json.dumps(jsonable(conductivity_json(points)), indent=2, allow_nan=False))
