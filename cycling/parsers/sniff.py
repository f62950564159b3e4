"""Decide what a file is from its bytes (never its name) and refuse what is not a LAND export."""

from __future__ import annotations

import io
import zipfile

from readers.errors import ParseError
from readers.text import decode_text as _decode_text

from .signatures import OLE2_MAGIC, ZIP_MAGIC, identify, text_kind

MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
# A real xlsx compresses 5-30x; thousands-to-one is a zip bomb, not a cycler export.
MAX_COMPRESSION_RATIO = 1000
_RATIO_CHECK_ABOVE_BYTES = 16 * 1024**2
# LAND's reader is the catch-all of the registry: what it refuses, no reader of this system reads.
NOT_READ = "not an export of a cycler this system reads (LAND, Neware, Arbin, BioLogic .mpt, Maccor, LANHE, BDF)"
BINARY_TEXT = f"it is binary data of an unknown format, {NOT_READ}"


def sniff_binary(head: bytes) -> str:
    """'xlsx' (zip), 'ole2' (legacy .xls or an encrypted workbook), 'text', or raise ParseError."""
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLE2_MAGIC):
        return "ole2"
    signature = identify(head)
    if signature is not None:
        raise ParseError(f"it is {signature.what}, {NOT_READ}")
    return "text"


def check_zip(data: bytes | str) -> None:
    """Refuse corrupt, non-workbook and zip-bomb archives before calamine sees them (the archive's bytes, or
    the path of the file: zipfile then reads only its directory)."""
    try:
        with zipfile.ZipFile(data if isinstance(data, str) else io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise ParseError(f"it is a damaged or truncated Excel/zip file ({exc})") from None
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names and not any(n.endswith("workbook.xml") for n in names):
        raise ParseError("it is a zip archive but not an Excel workbook (no xl/workbook.xml inside)")
    uncompressed = sum(info.file_size for info in infos)
    compressed = sum(info.compress_size for info in infos) or 1
    if uncompressed > MAX_UNCOMPRESSED_BYTES:
        raise ParseError(
            f"it would unpack to {uncompressed / 1024**3:.1f} GiB, above the "
            f"{MAX_UNCOMPRESSED_BYTES / 1024**3:.1f} GiB limit; split the export into several files"
        )
    if uncompressed > _RATIO_CHECK_ABOVE_BYTES and uncompressed / compressed > MAX_COMPRESSION_RATIO:
        raise ParseError(
            f"its compression ratio ({uncompressed / compressed:.0f}:1) is not that of a real workbook "
            "(zip bomb?)"
        )


def check_ole2(data: bytes) -> None:
    """An OLE2 container holding 'EncryptedPackage' is a password-protected xlsx."""
    if "EncryptedPackage".encode("utf-16-le") in data or b"EncryptionInfo" in data[:1 << 20]:
        raise ParseError("the workbook is password-protected; remove the password in Excel and export again")


def decode_text(data: bytes) -> tuple[str, str]:
    """The one text decoder (readers.text), refusing binary data in the words of the cycling readers."""
    return _decode_text(data, binary_message=BINARY_TEXT)


def refuse_other_instrument_text(text: str) -> None:
    head = text[:4096]
    if "\x00" in head:
        raise ParseError(f"it is binary data of an unknown format, {NOT_READ}")
    found = text_kind(head)
    if found is not None:
        instrument, fmt = found
        what = {"html": "an HTML page", "xml": "an XML document"}.get(fmt, f"a {instrument} export")
        raise ParseError(f"it looks like {what}, {NOT_READ}")


def refuse_other_instrument_sheets(sheet_names: list[str]) -> None:
    lowered = [s.lower() for s in sheet_names]
    if any(s.startswith(("detail_", "statis_", "cycle_")) for s in lowered) or "info" in lowered and any(
        s.startswith("detail") for s in lowered
    ):
        raise ParseError(f"it looks like a Neware BTS export (sheets: {', '.join(sheet_names)}), not a LAND export")
    if any(s.startswith(("channel_", "global_info", "statistics_")) for s in lowered):
        raise ParseError(f"it looks like an Arbin export (sheets: {', '.join(sheet_names)}), not a LAND export")
