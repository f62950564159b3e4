"""THE file-signature table: what a file is from its first bytes, for the upload pre-check and the readers.

Each signature names the format in words a researcher knows, whether a reader of this project reads it,
and, for what is refused, what to do instead. ``identify`` looks only at the first few KiB, so the upload
API can answer before storing anything; the readers then look deeper (sheet names, header lines).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Signature:
    """One kind of file. ``fmt`` is the id readers sniff for; ``refusal`` is set for what nobody reads;
    ``native`` marks a cycler's own binary format (an export, but not one this system reads)."""

    fmt: str
    what: str
    magic: bytes = b""
    offset: int = 0
    refusal: str | None = None
    native: bool = False


# Binary signatures, checked in order at their offset.
BINARY: list[Signature] = [
    Signature("zip", "a zip archive (Excel workbook or Neware .ndax)", ZIP_MAGIC),
    Signature("ole2", "an OLE2 container (legacy Excel .xls)", OLE2_MAGIC),
    Signature("nda", "a Neware .nda binary file", b"NEWARE"),
    Signature("parquet", "a Parquet file", b"PAR1"),
    # Every open reader of .mpr is GPL or derived from one (docs/architecture.md, "Native binary files").
    Signature("mpr", "a BioLogic .mpr file (EC-Lab's binary format)", b"BIO-LOGIC MODULAR FILE", native=True,
              refusal="no reader of it under a licence this project can ship exists (galvani, yadg and "
                      "eclabfiles are GPL). In EC-Lab, export the data as text (Export as Text, .mpt) and upload "
                      "that"),
    # read by access-parser (Apache-2.0, pure Python): no ODBC driver or mdbtools on the server
    Signature("res", "an Arbin .res file (Microsoft Access database)", b"Standard Jet DB", offset=4),
    Signature("res", "an Arbin .res file (Microsoft Access database)", b"Standard ACE DB", offset=4),
    Signature("sqlite", "an SQLite database", b"SQLite format 3",
              refusal="export the test from the cycler software as xlsx or csv"),
    Signature("pdf", "a PDF document", b"%PDF", refusal="upload the cycler's data export instead"),
    Signature("png", "a PNG image", b"\x89PNG", refusal="upload the cycler's data export instead"),
    Signature("jpeg", "a JPEG image", b"\xff\xd8\xff", refusal="upload the cycler's data export instead"),
    Signature("gif", "a GIF image", b"GIF8", refusal="upload the cycler's data export instead"),
    Signature("elf", "a Linux executable", b"\x7fELF", refusal="upload the cycler's data export instead"),
    Signature("exe", "a Windows executable", b"MZ", refusal="upload the cycler's data export instead"),
    Signature("rar", "a RAR archive", b"Rar!", refusal="unpack it and upload the exports inside"),
    Signature("7z", "a 7-Zip archive", b"7z\xbc\xaf", refusal="unpack it and upload the exports inside"),
    Signature("gzip", "a gzip archive", b"\x1f\x8b", refusal="unpack it and upload the export inside"),
    Signature("emptyzip", "an empty zip archive", b"PK\x05\x06", refusal="the archive holds no file"),
]

# What the members of a zip say it is (names seen in its local file headers).
ZIP_WORKBOOK_PREFIX = "xl/"
NDAX_MEMBERS = {"data.ndc", "step.xml", "testinfo.xml", "versioninfo.xml", "data_log.ndc", "data_runinfo.ndc"}
ZIP_OTHER_PREFIXES = {"word/": "a Word document (.docx)", "ppt/": "a PowerPoint file (.pptx)",
                      "content.xml": "an OpenDocument file", "mimetype": "an OpenDocument file"}

# Text fingerprints over the first lines: (instrument, format id, pattern).
TEXT: list[tuple[str, str, re.Pattern]] = [
    ("HTML", "html", re.compile(r"<!doctype html|<html|<head>|<body", re.I)),
    ("XML", "xml", re.compile(r"^\s*<\?xml", re.I)),
    ("BioLogic", "mpt", re.compile(r"EC-Lab ASCII FILE|BT-Lab ASCII FILE|Nb header lines", re.I)),
    ("BioLogic", "mpt", re.compile(r"^mode\tox/red\t|\tox/red\t.*\b(?:Ewe|Ecell)/V|(?:^|\t)time/s\t.*(?:Ewe|Ecell)/V",
                                   re.I | re.M)),
    ("Maccor", "maccor", re.compile(r"Today'?s Date|Date of Test|^\s*Rec#?\s*[\t,]\s*(?:Cyc#|Cycle [PC]\b)"
                                    r"|Amp-hr|Watt-hr", re.I | re.M)),
    ("Arbin", "arbin-csv", re.compile(r"Data[_ ]Point.*Cycle[_ ]Index|Test[_ ]Time\s*\(s\).*Cycle[_ ]Index"
                                      r"|Data_Point.*Test_Time", re.I)),
    ("Neware", "neware-csv", re.compile(r"DataPoint\s*,.*Cycle Index|Record ID|CapaCity\(mAh\)|Chg\.? Cap"
                                        r"|Relative Time\(h:min:s", re.I)),
    ("BDF", "bdf-csv", re.compile(r"test_time_second.*(?:voltage_volt|current_ampere)|(?:Voltage|Current|Test Time) / \S+.*(?:Voltage|Current) / [mµu]?[AV]\b", re.I)),
]

# What each cycler's text record table looks like, for the refusal of a text file no reader recognised
# (LAND's reader is the catch-all, so its refusal must name every table it was looked for, not LAND's only).
TEXT_TABLES: dict[str, str] = {
    "LAND": "a record section whose header row names at least voltage and current",
    "Arbin": "Data_Point / Test_Time / Cycle_Index columns",
    "Maccor": "Rec# / Cyc# columns with Amp-hr, or Rec / Cycle P / Cycle C with Cap. [Ah]",
    "Neware": "DataPoint / Cycle Index or Record ID columns",
    "BioLogic": "an EC-Lab or BT-Lab ASCII file with time/s and Ewe/V",
    "BDF": "test_time_second with voltage_volt / current_ampere",
}


def text_tables_looked_for() -> str:
    """'LAND (…), Arbin (…), …': the cyclers' text tables a text file was searched for."""
    return "; ".join(f"{instrument} ({what})" for instrument, what in TEXT_TABLES.items())


def identify(head: bytes) -> Signature | None:
    """The binary signature ``head`` starts with (at its offset), or None for text and unknown data."""
    for signature in BINARY:
        if head[signature.offset:signature.offset + len(signature.magic)] == signature.magic:
            return signature
    return None


def zip_members(head: bytes) -> list[str]:
    """Member names of the local file headers found in the first bytes of a zip (the central directory at
    the end is out of reach of an upload pre-check)."""
    names, at = [], 0
    while True:
        at = head.find(ZIP_MAGIC, at)
        if at < 0 or at + 30 > len(head):
            return names
        name_len, extra_len = struct.unpack("<HH", head[at + 26:at + 30])
        name = head[at + 30:at + 30 + name_len].decode("utf-8", "replace")
        if name:
            names.append(name)
        at += 30 + name_len + extra_len


def zip_kind(names: list[str]) -> str | None:
    """'workbook', 'ndax', a description of another zip-based document, or None when undecided."""
    lowered = [n.lower() for n in names]
    if any(n.startswith(ZIP_WORKBOOK_PREFIX) for n in lowered):
        return "workbook"
    if any(n in NDAX_MEMBERS for n in lowered):
        return "ndax"
    for prefix, what in ZIP_OTHER_PREFIXES.items():
        if any(n.startswith(prefix) for n in lowered):
            return what
    return None


def text_kind(text: str) -> tuple[str, str] | None:
    """(instrument, format id) a text export's first lines point to, or None (LAND or unknown)."""
    for instrument, fmt, pattern in TEXT:
        if pattern.search(text):
            return instrument, fmt
    return None
