"""Decide from the first bytes whether an upload can be a supported export at all (before storing it)."""

from .parsers.signatures import identify, text_kind, zip_kind, zip_members

_WHAT = "a cycler or EIS export"


def refuse_reason(head: bytes) -> str | None:
    """Why `head` (the first KiB of an upload) is clearly not a supported export, or None if it may be one.

    Every format a reader of cycling.parsers reads passes (LAND, Neware .nda/.ndax/xlsx/csv, Arbin, BioLogic
    .mpt, Maccor, BDF); the readers judge the rest of the file at ingest."""
    if not head:
        return "the file is empty"
    signature = identify(head)
    if signature is not None:
        if signature.refusal:
            return f"the file is {signature.what}, not {_WHAT}: {signature.refusal}"
        if signature.fmt == "zip":
            kind = zip_kind(zip_members(head))
            if kind not in (None, "workbook", "ndax"):
                return f"the file is {kind}, not {_WHAT} (a zip archive that is neither an Excel workbook nor a Neware .ndax)"
        return None
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    found = text_kind(text[:1024].decode("utf-8", "replace"))
    if found is not None and found[1] == "html":
        return f"the file is an HTML page, not {_WHAT}"
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")) and not _looks_utf16(head):
        return f"the file is binary data of an unknown format, not {_WHAT}"
    return None


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 text without BOM: NULs in (nearly) every other byte, on one side only."""
    half = max(len(head) // 2, 1)
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return max(even, odd) > 0.4 * half and min(even, odd) < 0.05 * half
