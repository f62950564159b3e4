"""Read impedance (EIS) spectra from instrument text exports into one tidy form; no Django here.

Sign convention: Z = Z' + jZ''. ``z_imag_ohm`` is SIGNED, so a capacitive arc has Z'' < 0 and an inductive
high-frequency tail has Z'' > 0. Files that store -Z'' (BioLogic ``-Im(Z)/Ohm``, NOVA ``-Z''``, any header
with a leading '-') are negated on reading. Frequencies are in Hz and > 0; impedances in ohm.

Formats are recognised by content, never by file name:
- BioLogic EC-Lab ``.mpt`` text (``EC-Lab ASCII FILE`` / ``Nb header lines : N``, latin-1, decimal commas,
  looped sweeps split on ``cycle number`` or on the frequency jumping back);
- Gamry ``.DTA`` (the ``ZCURVE TABLE``, units row, ``EXPERIMENTABORTED``);
- Scribner ZPlot/ZView ``.z`` (a declared point count that disagrees with the rows is a warning);
- CH Instruments ``A.C. Impedance`` text, Autolab NOVA semicolon ASCII, and generic CSV/TXT whose headers
  match the one alias table in ``_core.ALIASES`` (or no header: f, Z', Z'').

BioLogic binary ``.mpr`` files are refused with a request for the EC-Lab text export: the open readers for
``.mpr`` (galvani, yadg, pyimpspec) are GPL, which this project does not take on, and galvani fails on files
from EC-Lab 11.50 onwards anyway.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from . import formats
from ._core import ALIASES, MIN_POINTS, EisSpectrum, ParseError, normalise_header, to_spectrum

__all__ = [
    "ALIASES",
    "MIN_POINTS",
    "EisSpectrum",
    "ParseError",
    "normalise_header",
    "read_eis",
    "sniff_format",
]

MAX_BYTES = 20 * 1024 * 1024  # EIS exports are kilobytes; refuse anything absurd before parsing it

_MPR_MAGIC = b"BIO-LOGIC MODULAR FILE"


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
            raise ParseError(f"{name}: cannot be opened ({exc.strerror or exc})") from None
    else:
        name = name or Path(str(getattr(source, "name", "") or "upload")).name
        raw = source.read(MAX_BYTES + 1)
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
    if len(raw) > MAX_BYTES:
        raise ParseError(f"{name}: larger than {MAX_BYTES // 1024 // 1024} MB; not an EIS export")
    text, encoding = _decode(raw, name)
    lines = text.splitlines()
    fmt = sniff_format(lines)
    table = {
        "biologic-mpt": formats.biologic,
        "gamry-dta": formats.gamry,
        "zplot-z": formats.zplot,
    }.get(fmt, formats.delimited)(lines, name)
    spectrum = to_spectrum(table, name)
    spectrum.metadata.setdefault("encoding", encoding)
    return spectrum


def sniff_format(lines: list[str]) -> str:
    """Format name from the first lines of a decoded file."""
    first = lines[0].strip().lstrip("\ufeff") if lines else ""
    if first.startswith("EC-Lab ASCII FILE"):
        return "biologic-mpt"
    if first == "EXPLAIN" or any(line.startswith("ZCURVE\t") for line in lines[:2000]):
        return "gamry-dta"
    if first.startswith("ZPLOT2 ASCII") or first.strip('"').startswith("ZPlotW Data File"):
        return "zplot-z"
    return "delimited"


def _decode(raw: bytes, name: str) -> tuple[str, str]:
    if not raw.strip():
        raise ParseError(f"{name}: the file is empty")
    if raw.startswith(_MPR_MAGIC):
        raise ParseError(
            f"{name}: this is a BioLogic binary .mpr file; export it as text from EC-Lab "
            "(File > Export as Text, .mpt) and upload the .mpt"
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text, encoding = raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise ParseError(f"{name}: UTF-16 byte-order mark but undecodable content") from None
    else:
        if b"\x00" in raw[:65536]:
            raise ParseError(f"{name}: binary content (NUL bytes); expected an EIS text export")
        try:
            text, encoding = raw.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError:
            # EC-Lab and Gamry write ISO-8859-1 (µ, ², °)
            text, encoding = raw.decode("latin-1"), "latin-1"
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\r\n\f\v")
    if controls > 0.01 * min(len(text), 65536) + 2:
        raise ParseError(f"{name}: binary content (control bytes); expected an EIS text export")
    return text, encoding
