"""Decide from the first bytes whether an upload can be a supported export at all (before storing it)."""

# Signatures of formats that are never an instrument export.
_REFUSED = [
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x7fELF", "a Linux executable"),
    (b"MZ", "a Windows executable"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
]
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PARQUET = b"PAR1"  # Battery Data Format tables (cycling.parsers.bdf)


def refuse_reason(head: bytes) -> str | None:
    """Why `head` (the first KiB of an upload) is clearly not a supported export, or None if it may be one."""
    if not head:
        return "the file is empty"
    for signature, what in _REFUSED:
        if head.startswith(signature):
            return f"the file is {what}, not a LAND or EIS export"
    if head.startswith((_ZIP, _OLE2, _PARQUET)):
        return None
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "the file is an HTML page, not a LAND or EIS export"
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")) and not _looks_utf16(head):
        return "the file is binary data of an unknown format, not a LAND or EIS export"
    return None


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 text without BOM: NULs in (nearly) every other byte, on one side only."""
    half = max(len(head) // 2, 1)
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return max(even, odd) > 0.4 * half and min(even, odd) < 0.05 * half
