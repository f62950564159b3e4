"""Read impedance (EIS) spectra from instrument text exports into one tidy form; no Django here.

Sign convention: Z = Z' + jZ''. ``z_imag_ohm`` is SIGNED, so a capacitive arc has Z'' < 0 and an inductive
high-frequency tail has Z'' > 0. Files that store -Z'' (BioLogic ``-Im(Z)/Ohm``, NOVA ``-Z''``, any header
with a leading '-') are negated on reading. Frequencies are in Hz and > 0; impedances in ohm.

Formats are recognised by content, never by file name, through the reader framework's registry (readers):
- BioLogic EC-Lab ``.mpt`` text (``EC-Lab ASCII FILE`` / ``Nb header lines : N``, Windows-1252, decimal commas,
  looped sweeps split on ``cycle number`` or on the frequency jumping back);
- Gamry ``.DTA`` (the ``ZCURVE TABLE``, units row, ``EXPERIMENTABORTED``);
- Scribner ZPlot/ZView ``.z`` (a declared point count that disagrees with the rows is a warning);
- CH Instruments ``A.C. Impedance`` text, Autolab NOVA semicolon ASCII, and generic CSV/TXT whose headers
  match the EIS alias table in ``_core.ALIASES`` (or no header: f, Z', Z'').
Text is decoded by the framework's one decoder (readers.text: BOM, UTF-8, UTF-16, then Windows-1252/Latin-1 or
GB18030 by evidence).

BioLogic binary ``.mpr`` files are refused with a request for the EC-Lab text export: the open readers for
``.mpr`` (galvani, yadg, pyimpspec) are GPL, which this project does not take on, and galvani fails on files
from EC-Lab 11.50 onwards anyway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cycling.parsers.signatures import identify
from readers import Reader, Registry, decode_text
from readers.errors import ParseError

from . import formats
from ._core import ALIASES, MIN_POINTS, EisSpectrum, Table, normalise_header, to_spectrum

__all__ = [
    "ALIASES",
    "MIN_POINTS",
    "READERS",
    "EisSpectrum",
    "ParseError",
    "normalise_header",
    "read_eis",
    "sniff_format",
]

MAX_BYTES = 20 * 1024 * 1024  # EIS exports are kilobytes; refuse anything absurd before parsing it



@dataclass(frozen=True)
class EisProbe:
    """What an EIS reader's sniff sees: the decoded lines and the file's name (for messages only)."""

    lines: list[str]
    name: str

    @property
    def first(self) -> str:
        return self.lines[0].strip().lstrip("\ufeff") if self.lines else ""


def _locate(locator):
    return lambda probe: locator(probe.lines, probe.name)


# The EIS readers, asked in this order; the generic delimited reader is the catch-all. Each has its own
# version (shown in the spectrum's metadata).
READERS: Registry[EisProbe, Table] = Registry()
READERS.register(Reader("assb-lab eis biologic-mpt", "BioLogic",
                        lambda p: p.first.startswith("EC-Lab ASCII FILE"), _locate(formats.biologic), "1.1.0"))
READERS.register(Reader("assb-lab eis gamry-dta", "Gamry",
                        lambda p: p.first == "EXPLAIN" or any(line.startswith("ZCURVE\t") for line in p.lines[:2000]),
                        _locate(formats.gamry), "1.0.0"))
READERS.register(Reader("assb-lab eis zplot-z", "Scribner ZPlot",
                        lambda p: p.first.startswith("ZPLOT2 ASCII") or p.first.strip('"').startswith("ZPlotW Data File"),
                        _locate(formats.zplot), "1.0.0"))
READERS.register(Reader("assb-lab eis delimited", "generic", lambda p: True, _locate(formats.delimited), "1.0.0"))

_FORMAT_OF = {"assb-lab eis biologic-mpt": "biologic-mpt", "assb-lab eis gamry-dta": "gamry-dta",
              "assb-lab eis zplot-z": "zplot-z", "assb-lab eis delimited": "delimited"}


def read_eis(source: str | os.PathLike | BinaryIO, *, name: str | None = None) -> EisSpectrum:
    """Read one EIS file (a path or a binary file object) into an :class:`EisSpectrum`.

    Raises :class:`ParseError` (a ``ValueError``) naming the file, and where possible the line and column,
    for anything that is not a usable spectrum.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = name or path.name
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise ParseError(f"cannot be opened ({exc.strerror or exc})", file=name) from None
    else:
        name = name or Path(str(getattr(source, "name", "") or "upload")).name
        raw = source.read(MAX_BYTES + 1)
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
    if len(raw) > MAX_BYTES:
        raise ParseError(f"larger than {MAX_BYTES // 1024 // 1024} MB; not an EIS export", file=name)
    text, encoding = _decode(raw, name)
    probe = EisProbe(text.splitlines(), name)
    reader = READERS.pick(probe)
    spectrum = to_spectrum(reader.read(probe), name)
    spectrum.metadata.setdefault("encoding", encoding)
    spectrum.metadata["reader"] = reader.name
    spectrum.metadata["reader_version"] = reader.version
    return spectrum


def sniff_format(lines: list[str]) -> str:
    """Format name from the first lines of a decoded file."""
    return _FORMAT_OF[READERS.pick(EisProbe(lines, "")).name]


def _decode(raw: bytes, name: str) -> tuple[str, str]:
    if not raw.strip():
        raise ParseError("the file is empty", file=name)
    native = identify(raw[:64])
    if native is not None and native.fmt == "mpr":  # the one signature table says what it is and what to do
        raise ParseError(f"this is {native.what}, which this system does not read: {native.refusal}", file=name)
    try:
        return decode_text(raw, binary_message="binary content (NUL or control bytes); expected an EIS text export")
    except ParseError as exc:
        raise exc.located(file=name) from None
