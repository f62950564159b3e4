"""THE text decoder of every text reader: byte-order mark, UTF-8, UTF-16, then Windows-1252/Latin-1 or GB18030
chosen by the evidence in the bytes.

Why by evidence and not by trying codecs in turn: GB18030 decodes almost any byte string, so "try GB18030 and
fall back" reads an EC-Lab header's 'cm²' or 'µA' (one high byte next to ASCII) as a Chinese character, and
Latin-1 decodes every byte string, so it cannot come first either. Chinese text in GB18030 is pairs of high
bytes (GB2312 lead and trail bytes are both >= 0xA1); European text in Windows-1252 has single high bytes
between ASCII letters. Those runs decide.
"""

from __future__ import annotations

import re

from .errors import ParseError

_SAMPLE = 4096
# Runs of high bytes: even runs are double-byte characters, odd runs single-byte ones.
_HIGH_RUNS = re.compile(rb"[\x80-\xff]+")
# A stray NUL or two in a description line (Maccor) is not a binary file; more than this share is.
_NUL_SHARE = 0.01
# Control bytes other than tab, line breaks and form feed: a few in a description line are text, more are not.
_CONTROLS = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13))
_CONTROL_SHARE = 0.01
# Bytes 0x80-0x9f: printable in Windows-1252 (€, ‰, curly quotes), control codes in Latin-1.
_C1 = re.compile(rb"[\x80-\x9f]")


def decode_text(data: bytes, *, binary_message: str = "it is binary data of an unknown format") -> tuple[str, str]:
    """(text, encoding) of a text export; ParseError for binary data (``binary_message`` says what to do)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode(data[3:], "utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode(data, "utf-16"), "utf-16"
    sample = data[:_SAMPLE]
    nuls = sample.count(b"\x00")
    if len(sample) >= 4 and nuls > len(sample) // 4:
        # UTF-16 without a BOM: every other byte of ASCII text is NUL.
        odd_nuls = sample[1::2].count(b"\x00")
        even_nuls = sample[0::2].count(b"\x00")
        encoding = "utf-16-le" if odd_nuls > even_nuls else "utf-16-be"
        return _decode(data, encoding), encoding
    head = data[:1 << 16]
    controls = len(head) - len(head.translate(None, _CONTROLS))  # NULs included
    all_nuls = data.count(b"\x00") if nuls or b"\x00" in data else 0
    if controls > _CONTROL_SHARE * len(head) + 2 or all_nuls > _NUL_SHARE * len(data) + 1:
        raise ParseError(binary_message)
    if all_nuls:
        data = data.replace(b"\x00", b"")  # a stray NUL in a free-text line (Maccor's description)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    encoding = guess_legacy_encoding(data)
    return _decode(data, encoding), encoding


def guess_legacy_encoding(data: bytes) -> str:
    """'gb18030', 'cp1252' or 'latin-1' for bytes that are not UTF-8, by their runs of high bytes."""
    runs = [len(run) for run in _HIGH_RUNS.findall(data[:1 << 20])]
    high = sum(runs)
    paired = sum(n for n in runs if n % 2 == 0)
    if high and paired >= 0.9 * high:
        try:
            data.decode("gb18030")
            return "gb18030"
        except UnicodeDecodeError:
            pass
    if not _C1.search(data):
        return "latin-1"  # the same text as Windows-1252 for these bytes; the older, wider name
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d are undefined in Windows-1252
        return "latin-1"


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(f"the text cannot be decoded as {encoding} (byte {exc.start}: {exc.reason})") from None
