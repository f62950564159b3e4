"""The record sheets of an xlsx workbook as fastexcel loads them: where the LAND reader's fast path starts.

No pandas or numpy here, on purpose. Building a big record sheet's cell grid (calamine, inside fastexcel's
load) is the peak memory of reading a LAND workbook, and whatever the process already holds adds to it:
pandas and pyarrow alone hold about 110 MB. So a command that reads one workbook from disk
(`python -m cycling.cli summarize`) loads its record sheets here first, before pandas is imported
(``preloaded``), and the fast path (sources._fast_record_blocks) takes them instead of loading them again:
on the 448k-record workbook the whole command then peaks where the bare fastexcel read does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator

from .columns import parse_header

_KIND_PATTERNS = [
    ("record", re.compile(r"^(record|records|recordtab|rec|记录|记录表|数据|详细数据)(\d*)$")),
    ("cycle", re.compile(r"^(cycle|cycles|cycletab|循环|循环表)$")),
    ("step", re.compile(r"^(step|steps|steptab|工步|工步表)(\d*)$")),
]


def table_kind(name: object) -> tuple[str | None, int]:
    """'Record-Tab2' -> ('record', 2); anything that is not a LAND table name -> (None, 0)."""
    key = re.sub(r"[\s\-_\[\]()]+", "", str(name or "")).lower()
    for kind, pattern in _KIND_PATTERNS:
        match = pattern.match(key)
        if match:
            digits = match.group(2) if pattern.groups >= 2 else ""
            return kind, int(digits) if digits else 0
    return None, 0


class _QuietEmptyColumns(logging.Filter):
    """fastexcel logs a warning for every all-empty column (LAND's unnamed spacer column): expected here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Could not determine dtype")


def open_reader(source: bytes | str):
    """A fastexcel reader of the bytes (or of the xlsx file at that path), or None (fastexcel not installed,
    or it cannot open them: python-calamine then decides)."""
    try:
        import fastexcel

        dtype_log = logging.getLogger("fastexcel.types.dtype")
        if not any(isinstance(f, _QuietEmptyColumns) for f in dtype_log.filters):
            dtype_log.addFilter(_QuietEmptyColumns())

        return fastexcel.read_excel(source)
    except BaseException as exc:  # ImportError, fastexcel's own errors, pyo3 panics: python-calamine decides
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return None


class RecordSheets:
    """A fastexcel reader's sheet names and its record sheets, each loaded once: on demand, or all up front
    (``load_all``, what ``preloaded`` does). Dropping it releases the reader and every cell grid."""

    def __init__(self, reader):
        self.reader = reader
        self.names = list(reader.sheet_names)
        self._loaded: dict[str, tuple | None] = {}

    def record_sheets(self) -> list[tuple[str, int]]:
        """(name, number) of each record sheet ('Record-Tab2' -> 2), in the workbook's order."""
        return [(name, number) for name in self.names for kind, number in [table_kind(name)] if kind == "record"]

    def load_all(self) -> None:
        for name, _number in self.record_sheets():
            self._loaded[name] = _load(self.reader, name)

    def load(self, name: str) -> tuple | None:
        """(fastexcel sheet, every column's info, typed or not) of a record sheet, handed over once, or None
        when fastexcel refuses it (strict typing of a mixed column, odd input): python-calamine reads it."""
        if name in self._loaded:
            return self._loaded.pop(name)
        return _load(self.reader, name)


def _load(reader, name: str) -> tuple | None:
    """Only the columns a record field can come from (a canonical header), the first three (split_blocks
    looks for titles and headers down the whole of them) and header-less ones are typed: every cell of
    those is checked (a full-column strict type scan), the others are never turned into Arrow."""
    seen: list = []

    def wanted(info) -> bool:  # called by fastexcel once per column, left to right, before it types any
        seen.append(info)
        return info.index < 3 or info.name.startswith("__UNNAMED__") or parse_header(info.name).canonical is not None

    try:
        sheet = reader.load_sheet(name, header_row=0, skip_rows=0, schema_sample_rows=None,
                                  dtype_coercion="strict", use_columns=wanted)
    except BaseException as exc:  # strict typing refuses mixed columns; panics and odd input: fall back
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return None
    return sheet, seen


_PRELOADED: dict[str, tuple[tuple[int, int], RecordSheets]] = {}


def _identity(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


@contextlib.contextmanager
def preloaded(path: str | os.PathLike) -> Iterator[None]:
    """While the block runs, a LAND read of the xlsx workbook at ``path`` takes its record sheets as loaded
    here, on entry. Only a workbook the fast path would read from its path is loaded (an .xlsx/.xlsm name,
    xlsx content, the zip checks passed, no other cycler's sheets); anything else is left to the reader, as
    are sheets fastexcel refuses. Sheets no reader took (another cycler's workbook with a record sheet) are
    released when the block ends."""
    key = os.path.abspath(os.fspath(path))
    book = _preload(key)
    if book is not None:
        _PRELOADED[key] = (_identity(key), book)
    try:
        yield
    finally:
        _PRELOADED.pop(key, None)


def _preload(path: str) -> RecordSheets | None:
    from .sniff import check_zip, refuse_other_instrument_sheets, sniff_binary

    try:
        if not (os.path.isfile(path) and path.lower().endswith((".xlsx", ".xlsm"))):
            return None
        with open(path, "rb") as handle:
            if sniff_binary(handle.read(64)) != "xlsx":
                return None
        check_zip(path)  # before fastexcel opens it: the zip-bomb and archive checks
        reader = open_reader(path)
        if reader is None:
            return None
        book = RecordSheets(reader)
        refuse_other_instrument_sheets(book.names)
    except Exception:  # the reader itself refuses the file, in its own words
        return None
    book.load_all()
    return book


def take(path: str) -> RecordSheets | None:
    """The record sheets preloaded from the file at ``path`` (unchanged since), handed over once; or None."""
    key = os.path.abspath(path)
    entry = _PRELOADED.get(key)
    if entry is None:
        return None
    try:
        unchanged = entry[0] == _identity(key)
    except OSError:
        unchanged = False
    del _PRELOADED[key]
    return entry[1] if unchanged else None
