"""`manage.py summarize FILE [build facts]`: run the ingest's analysis on one cycler export and print it (no database).

Any supported cycler (the reader registry recognises the format from the content); the JSON holds the
reader (instrument, reader, reader_version), the cycles, run metrics, warnings and findings of the ingest."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from assb_lab.lib import jsonable

JSON_CYCLE_FIELDS = ("cycle", "charge_mah", "discharge_mah", "charge_mah_g", "discharge_mah_g", "ce_percent",
                     "c_rate", "dqdv_peak_charge_v", "dqdv_peak_discharge_v")


class Command(BaseCommand):
    help = ("Parse a cycler export and print what the ingest would store: per-cycle table, run metrics, warnings "
            "and findings (JSON or CSV), without touching the database. Give the cell's build facts: without an "
            "active mass the capacities are in mAh only, as in the ingest (no mass is ever assumed).")
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("file")
        mass = parser.add_argument_group("build facts (as on the cell's build sheet)")
        mass.add_argument("--active-mass-mg", type=float, default=None, help="active (cathode) material mass in mg")
        mass.add_argument("--active-loading-mg-cm2", type=float, default=None,
                          help="active material loading in mg/cm² (with --area-cm2 instead of --active-mass-mg)")
        mass.add_argument("--area-cm2", type=float, default=None, help="electrode area in cm² (per-area columns)")
        mass.add_argument("--theoretical-mah-g", type=float, default=None,
                          help="theoretical capacity in mAh/g, defines the C-rates (e.g. 160 for NMC532)")
        mass.add_argument("--first-half", choices=("charge", "discharge"), default=None,
                          help="first half-cycle of the cell; default: detected from the first non-rest record")
        mass.add_argument("--voltage-window-v", type=float, nargs=2, metavar=("MIN_V", "MAX_V"), default=None,
                          help="the cell's voltage window as the cycler sees it (cell voltage), for the window check")
        parser.add_argument("--format", choices=("json", "csv"), default="json")

    def read(self, path):
        """Every run of the file (one per channel; one for almost every file), by the reader registry (the
        format recognised from the content)."""
        from cycling.parsers import read_runs

        return read_runs(path)

    def spec(self, opts):
        from cycling.analysis import CellSpec

        mass, loading, area = opts["active_mass_mg"], opts["active_loading_mg_cm2"], opts["area_cm2"]
        if mass is not None and loading is not None:
            raise CommandError("give either --active-mass-mg or --active-loading-mg-cm2 with --area-cm2, not both")
        if loading is not None:
            if area is None:
                raise CommandError("--active-loading-mg-cm2 needs --area-cm2 to give the active mass")
            mass = loading * area
        for name, value in (("--active-mass-mg", mass), ("--area-cm2", area),
                            ("--theoretical-mah-g", opts["theoretical_mah_g"])):
            if value is not None and not value > 0:
                raise CommandError(f"{name} must be a positive number, not {value:g}")
        window = tuple(opts["voltage_window_v"]) if opts["voltage_window_v"] else None
        if window and not window[0] < window[1]:
            raise CommandError("--voltage-window-v: MIN_V must be below MAX_V")
        return CellSpec(active_mass_mg=mass, area_cm2=area, theoretical_mah_g=opts["theoretical_mah_g"],
                        first_half=opts["first_half"], voltage_window_v=window)

    def handle(self, *args, **opts):
        from cycling.parsers import ParseError

        spec = self.spec(opts)
        try:
            runs = self.read(opts["file"])
        except ParseError as exc:
            sys.stderr.write(f"{exc}\n")
            sys.stderr.flush()
            raise SystemExit(2) from None
        # The analysis (scipy) is imported after the read: the reader's peak memory does not stack on it.
        from cycling.analysis import analyse

        several = len(runs) > 1
        payloads = []
        for export in runs:
            channel = export.metadata.get("channel")
            result = analyse(export, spec)
            cycles = result.cycles
            if opts["format"] == "csv":
                if several:  # one table, each row saying which channel it came from
                    cycles = cycles.assign(channel=str(channel))[["channel", *cycles.columns]]
                self.stdout.write(cycles.to_csv(index=False, float_format="%.6g", header=not payloads), ending="")
                for w in result.warnings:
                    sys.stderr.write(f"warning: {f'channel {channel}: ' if several else ''}{w}\n")
                payloads.append(None)
                continue
            payloads.append(self.payload(opts, export, result))
        if opts["format"] == "json":
            if several:
                body = {"file": str(opts["file"]), "channels": [{"channel": str(r.metadata.get("channel")), **p}
                                                              for r, p in zip(runs, payloads, strict=True)]}
            else:
                body = payloads[0]
            self.stdout.write(json.dumps(body, indent=2, allow_nan=False))

    def payload(self, opts, export, result) -> dict:
        cycles = result.cycles
        provenance = {"parser": export.metadata.get("parser", export.reader),
                      "parser_version": export.metadata.get("parser_version", export.reader_version),
                      "instrument": export.instrument, "reader": export.reader,
                      "reader_version": export.reader_version,
                      **result.provenance(), "parser_warnings": list(export.warnings)}
        return {
            "file": str(opts["file"]),
            "instrument": provenance["instrument"], "reader": provenance["reader"],
            "reader_version": provenance["reader_version"],
            "n_records": int(len(export.records)),
            "n_cycles": int(len(cycles)),
            "capacity_unit": result.run.get("capacity_unit"),
            "cycles": jsonable(cycles[list(JSON_CYCLE_FIELDS)].to_dict(orient="records")),
            "run": jsonable(result.run),
            "warnings": result.warnings,
            "findings": provenance["findings"],
            "provenance": jsonable(provenance),
        }


__all__ = ["Command", "JSON_CYCLE_FIELDS"]
