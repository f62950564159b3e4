"""Command line of the pure cycling core: `python -m cycling.cli summarize FILE [build facts]`, no Django.

What `manage.py summarize` prints (it delegates here), without paying Django's start-up: the reader registry
recognises the format from the content, the ingest's analysis runs, and the JSON holds the reader
(instrument, reader, reader_version), the cycles, run metrics, warnings and findings (or the cycles as CSV).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from cycling.analysis.columns import SUMMARIZE, names_for, rounded_row
from readers.errors import ParseError

# The per-cycle fields of the JSON: the column contract's SUMMARIZE face, rounded to each column's precision.
JSON_CYCLE_FIELDS = tuple(names_for(SUMMARIZE))

SUMMARIZE_HELP = ("Parse a cycler export and print what the ingest would store: per-cycle table, run metrics, "
                  "warnings and findings (JSON or CSV), without touching the database. Give the cell's build facts: "
                  "without an active mass the capacities are in mAh only, as in the ingest (no mass is ever assumed).")


class UsageError(ValueError):
    """Options that do not go together or are out of range; the message names them."""


def add_summarize_arguments(parser) -> None:
    """The options of `summarize` (argparse; Django's command parser is one too)."""
    parser.add_argument("file")
    mass = parser.add_argument_group("build facts (as on the cell's build sheet)")
    mass.add_argument("--active-mass-mg", type=float, default=None, help="active (cathode) material mass in mg")
    mass.add_argument("--active-loading-mg-cm2", type=float, default=None,
                      help="active material loading in mg/cm²: the active material alone, not the composite "
                           "(composite loading × active fraction, e.g. 12.0 × 0.70 = 8.4), as the cell list's "
                           "'Active loading' column; with --area-cm2, instead of --active-mass-mg")
    mass.add_argument("--area-cm2", type=float, default=None, help="electrode area in cm² (per-area columns)")
    mass.add_argument("--theoretical-mah-g", type=float, default=None,
                      help="theoretical capacity in mAh/g, defines the C-rates (e.g. 160 for NMC532)")
    mass.add_argument("--first-half", choices=("charge", "discharge"), default=None,
                      help="first half-cycle of the cell; default: detected from the first non-rest record")
    mass.add_argument("--voltage-window-v", type=float, nargs=2, metavar=("MIN_V", "MAX_V"), default=None,
                      help="the cell's voltage window as the cycler sees it (cell voltage), for the window check")
    refs = parser.add_argument_group("reference cycles of the metrics (as a project sets them)")
    refs.add_argument("--reference-cycle", type=int, default=None,
                      help="cycle retention and cycles to 80/70 %% are measured against; default: the first "
                           "long-term cycle, else the first cycle")
    refs.add_argument("--decay-reference-cycle", type=int, default=None,
                      help="cycle the decay per cycle is measured from; default: the first complete cycle")
    parser.add_argument("--format", choices=("json", "csv"), default="json")


def build_facts(opts: dict) -> dict:
    """The build facts given, checked (CellSpec's fields); UsageError names a bad or conflicting option.
    No import of the analysis here: the options are refused before the file is read, and the read starts
    without pandas (see summarize)."""
    mass, loading, area = opts["active_mass_mg"], opts["active_loading_mg_cm2"], opts["area_cm2"]
    if mass is not None and loading is not None:
        raise UsageError("give either --active-mass-mg or --active-loading-mg-cm2 with --area-cm2, not both")
    if loading is not None:
        if area is None:
            raise UsageError("--active-loading-mg-cm2 needs --area-cm2 to give the active mass")
        mass = loading * area
    for name, value in (("--active-mass-mg", mass), ("--area-cm2", area),
                        ("--theoretical-mah-g", opts["theoretical_mah_g"])):
        if value is not None and not value > 0:
            raise UsageError(f"{name} must be a positive number, not {value:g}")
    window = tuple(opts["voltage_window_v"]) if opts["voltage_window_v"] else None
    if window and not window[0] < window[1]:
        raise UsageError("--voltage-window-v: MIN_V must be below MAX_V")
    for name in ("reference_cycle", "decay_reference_cycle"):
        if opts.get(name) is not None and opts[name] < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be a cycle number (1 or more), not {opts[name]}")
    return {"active_mass_mg": mass, "area_cm2": area, "theoretical_mah_g": opts["theoretical_mah_g"],
            "first_half": opts["first_half"], "voltage_window_v": window}


def read_runs(path):
    """Every run of the file (one per channel; one for almost every file), the format recognised from the content."""
    from cycling.parsers import read_runs as read

    return read(path)


def summarize(opts: dict, write: Callable[[str], None], warn: Callable[[str], None], *, read=read_runs) -> int:
    """Print the summary of opts["file"] with `write` (stdout) and `warn` (stderr); the exit status (2: unreadable)."""
    from cycling.parsers.recordsheets import preloaded

    facts = build_facts(opts)
    try:
        # The peak memory of the whole command is the cell grid of a big workbook's record sheet: it is built
        # first, before pandas, the readers and the analysis are imported (about 110 MB that would stack on it).
        with preloaded(opts["file"]):
            runs = read(opts["file"])
    except ParseError as exc:
        warn(f"{exc}\n")
        return 2
    import pandas as pd

    from cycling.analysis import analyse
    from cycling.analysis.common import CellSpec

    spec = CellSpec(**facts)
    several = len(runs) > 1
    payloads = []
    for export in runs:
        channel = export.metadata.get("channel")
        result = analyse(export, spec, reference_cycle=opts.get("reference_cycle"),
                         decay_reference_cycle=opts.get("decay_reference_cycle"))
        cycles = result.cycles
        if opts["format"] == "csv":
            # Each column rounded to the column contract's precision.
            cycles = pd.DataFrame([rounded_row(row) for row in cycles.to_dict(orient="records")],
                                  columns=list(cycles.columns))
            if several:  # one table, each row saying which channel it came from
                cycles = cycles.assign(channel=str(channel))[["channel", *cycles.columns]]
            write(cycles.to_csv(index=False, header=not payloads))
            for w in result.warnings:
                warn(f"warning: {f'channel {channel}: ' if several else ''}{w}\n")
            payloads.append(None)
            continue
        payloads.append(payload(opts, export, result))
    if opts["format"] == "json":
        if several:
            body = {"file": str(opts["file"]), "channels": [{"channel": str(r.metadata.get("channel")), **p}
                                                          for r, p in zip(runs, payloads, strict=True)]}
        else:
            body = payloads[0]
        write(json.dumps(body, indent=2, allow_nan=False) + "\n")
    return 0


def payload(opts: dict, export, result) -> dict:
    from readers.jsonsafe import jsonable

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
        "cycles": jsonable([rounded_row(row) for row in cycles[list(JSON_CYCLE_FIELDS)].to_dict(orient="records")]),
        "run": jsonable(result.run),
        "warnings": result.warnings,
        "findings": provenance["findings"],
        "provenance": jsonable(provenance),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cycling.cli", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("summarize", help=SUMMARIZE_HELP, description=SUMMARIZE_HELP)
    add_summarize_arguments(sub)
    opts = vars(parser.parse_args(argv))
    try:
        return summarize(opts, sys.stdout.write, sys.stderr.write)
    except UsageError as exc:
        sub.error(str(exc))  # exits 2 with the usage line, as argparse does for any bad option
    return 2


if __name__ == "__main__":
    sys.exit(main())
