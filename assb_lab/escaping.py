"""User text escaped for the medium it lands in: spreadsheets (CSV/XLSX) and Markdown. JSON needs nothing:
json.dumps writes text as data. Pure functions, no Django."""
from __future__ import annotations

import re

# OWASP "CSV Injection": a cell starting with one of these is run as a formula by Excel, LibreOffice and
# Google Sheets; a leading ' makes it text. Tab and carriage return are on OWASP's list too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Characters with a Markdown or HTML meaning anywhere in a line (CommonMark lets any ASCII punctuation be
# backslash-escaped, and an escaped character always renders as itself).
_INLINE = re.compile(r"([\\`*_{}\[\]()<>#!|~&\"])")
_LINE_START = re.compile(r"^([-+=>])")            # list item, setext heading, block quote
_ORDERED = re.compile(r"^(\d{1,9})([.)])")         # "1." or "1)" starts an ordered list


def spreadsheet_text(value):
    """`value` with a leading ' when it is text a spreadsheet would read as a formula; anything else (numbers,
    None, plain text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def markdown_text(value) -> str:
    """`value` as Markdown that renders as exactly this text on one line: no HTML, link, emphasis or list."""
    text = re.sub(r"\s*[\r\n]+\s*", " ", str(value)).strip()
    text = _INLINE.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\\\1", text)
    return _ORDERED.sub(r"\1\\\2", text)
