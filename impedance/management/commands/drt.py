"""`manage.py drt FILE [--lambda X] --format json`: the distribution of relaxation times of one EIS sweep (no database).

Prints exactly ``tau_s``, ``gamma_ohm`` (gamma(ln tau) in ohm, its integral over ln tau is ``r_pol_ohm``),
``r_inf_ohm``, ``r_pol_ohm``, ``lambda``, ``peaks`` ([{tau_s, f_hz, resistance_ohm}]) and ``residual_rel``;
exits 2 with the reason on stderr when the file cannot be read or the sweep cannot give a DRT."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Compute the distribution of relaxation times (Tikhonov-regularised, non-negative, lambda by GCV unless "
            "--lambda is given) of one sweep of an EIS export and print it as JSON, without touching the database.")
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--lambda", dest="lambda_", type=float, default=None,
                            help="regularisation strength (dimensionless); default: chosen by GCV")
        parser.add_argument("--sweep", type=int, default=1, help="1-based sweep of a looped file (default 1)")
        parser.add_argument("--format", choices=("json",), default="json")

    def fail(self, message: str):
        sys.stderr.write(f"drt: {message}\n")
        sys.stderr.flush()
        raise SystemExit(2)

    def handle(self, *args, **opts):
        from impedance.drt import DrtError, drt_fit
        from impedance.parsers import ParseError, read_eis

        try:
            spectrum = read_eis(opts["file"])
        except (ParseError, OSError) as exc:
            self.fail(f"{opts['file']}: {exc}")
        sweeps = spectrum.sweeps()
        if not 1 <= opts["sweep"] <= len(sweeps):
            self.fail(f"{opts['file']}: --sweep {opts['sweep']} but the file holds {len(sweeps)} sweep(s)")
        try:
            result = drt_fit(sweeps[opts["sweep"] - 1], lambda_=opts["lambda_"])
        except DrtError as exc:
            self.fail(f"{opts['file']}: no DRT: {exc}")
        self.stdout.write(json.dumps(result.as_json(), allow_nan=False))


__all__ = ["Command"]
