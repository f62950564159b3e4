"""Decide from the first bytes whether an upload can be a supported export at all (before storing it)."""

import re

from .parsers.columns import parse_header
from .parsers.signatures import identify, text_kind, text_tables_looked_for, zip_kind, zip_members

_WHAT = "a cycler or EIS export"
# How much of an upload the pre-check reads: a text export's header row sits well within it.
HEAD_BYTES = 64 * 1024
_CELL_SPLIT = re.compile(r"\t|;|,|\s{2,}")


def refuse_reason(head: bytes, *, kind: str = "cycling") -> str | None:
    """Why `head` (the first HEAD_BYTES of an upload) is clearly not a supported export, or None if it may be one.

    Every format a reader of cycling.parsers reads passes (LAND, Neware .nda/.ndax/xlsx/csv, Arbin, BioLogic
    .mpt, Maccor, BDF); the readers judge the rest of the file at ingest. Text declared as cycling data must look
    like a cycler's table (a text signature of a reader, or a header row naming two cycler columns): a
    notes .txt or a room logger's .csv is refused here, not failed at ingest. EIS text is left to its readers."""
    if not head:
        return "the file is empty"
    signature = identify(head)
    if signature is not None:
        if signature.refusal and signature.native:
            return f"the file is {signature.what}, which this system does not read: {signature.refusal}"
        if signature.refusal:
            return f"the file is {signature.what}, not {_WHAT}: {signature.refusal}"
        if signature.fmt == "zip":
            archive = zip_kind(zip_members(head))
            if archive not in (None, "workbook", "ndax"):
                return f"the file is {archive}, not {_WHAT} (a zip archive that is neither an Excel workbook nor a Neware .ndax)"
        return None
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    found = text_kind(text[:1024].decode("utf-8", "replace"))
    if found is not None and found[1] == "html":
        return f"the file is an HTML page, not {_WHAT}"
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")) and not _looks_utf16(head):
        return f"the file is binary data of an unknown format, not {_WHAT}"
    if kind == "cycling" and found is None and not _has_cycler_header(head) and not _numeric_table(head):
        return ("the file is text with no record table of a cycler (no reader recognises it: a note or a log?). "
                f"Looked for: {text_tables_looked_for()}")
    return None


def _has_cycler_header(head: bytes) -> bool:
    """A line of `head` whose cells name two columns of the header-alias table (LAND's record or cycle table:
    Voltage/V, Current/mA, Cycle, CapD/mAh ...; other cyclers' text is recognised by its signature), loosely."""
    text = _decode(head)
    if text_kind(text[:65536]) is not None:
        return True
    for line in text.splitlines()[:400]:
        canonical = {parse_header(cell).canonical for cell in _CELL_SPLIT.split(line) if cell.strip()}
        canonical.discard(None)
        if len(canonical) >= 2:
            return True
    return False


_EIS_HEADER = re.compile(r"freq|z'|z\"|z_?re|z_?im|phase|ohm", re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def _numeric_table(head: bytes, *, min_lines: int = 5, min_fields: int = 3) -> bool:
    """A run of lines that split (by ; , or tab) into the same number (3 or more) of numbers: a cycler's
    record table in a layout no reader knows. It is stored, and its ingest refusal links to the format-profile
    form where a lab admin maps it once; a note (prose) or a logger's timestamp/value csv is no such table."""
    lines = [line.strip() for line in _decode(head).splitlines()[:400]]
    for delimiter in (";", "\t", ","):
        run, width, header = 0, None, ""
        for line in lines:
            cells = [c.strip().strip('"') for c in line.split(delimiter)]
            if len(cells) >= min_fields and all(_NUMBER.match(c) for c in cells):
                run = run + 1 if len(cells) == width else 1
                width = len(cells)
                if run >= min_lines:
                    return not _EIS_HEADER.search(header)  # an impedance table is no cycler's records
            else:
                run, width = 0, None
                header = line or header
    return False


def _decode(head: bytes) -> str:
    """The text as the readers decode it (their Probe: BOMs, UTF-16, GBK); plain UTF-8 if that ever fails."""
    try:
        from .parsers.probe import Probe

        return Probe(data=head, name="upload").text
    except Exception:  # the readers' internals move; the pre-check must not turn that into a refusal
        return head.decode("utf-8", "replace")


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 text without BOM: NULs in (nearly) every other byte, on one side only."""
    half = max(len(head) // 2, 1)
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return max(even, odd) > 0.4 * half and min(even, odd) < 0.05 * half
