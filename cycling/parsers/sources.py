"""Turn workbook sheets and text exports into blocks: (kind, header, data rows with their file row numbers)."""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from readers.errors import ParseError

from .columns import ALIASES, CANONICAL_DIMENSION, Header, is_unit_text, normalise_name, parse_header
from .recordsheets import RecordSheets, open_reader, table_kind, take
from .sniff import sniff_binary
from .values import only_numbers

_HEAD_ROWS = 200

_INFO_KEYS = {
    "instrument": "instrument", "device": "instrument", "equipment": "instrument", "设备": "instrument",
    "仪器": "instrument", "channel": "channel", "chl": "channel", "通道": "channel",
    "barcode": "barcode", "条码": "barcode", "条形码": "barcode",
    "starttime": "start_time", "开始时间": "start_time", "启动时间": "start_time",
}


@dataclass
class Block:
    """One table found in a sheet or text section, still as raw cell objects."""

    kind: str
    sheet: str
    headers: list[Header]
    data: pd.DataFrame  # object columns 0..len(headers)-1
    rows: np.ndarray  # 1-based row (Excel row / text line) of each data row
    order: int = 0


@dataclass
class Found:
    blocks: list[Block] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    sheets: list[str] = field(default_factory=list)


def _textual(values: pd.Series) -> np.ndarray:
    """Cells that could be a header or a title: non-empty text that is not a number."""
    if len(values) > _HEAD_ROWS and only_numbers(values.iloc[_HEAD_ROWS:]):
        # Headers sit at the top; below them a column of plain numbers (one C scan) has no text at all.
        out = np.zeros(len(values), dtype=bool)
        out[:_HEAD_ROWS] = _textual(values.iloc[:_HEAD_ROWS])
        return out
    is_str = values.map(type).eq(str).to_numpy().copy()
    if not is_str.any():
        return is_str
    text = values[is_str]
    numeric = pd.to_numeric(text, errors="coerce").notna().to_numpy()
    is_str[is_str] = ~numeric & text.str.strip().ne("").to_numpy()
    return is_str


def _key(value: object) -> str:
    return normalise_name(str(value).partition("/")[0]) if isinstance(value, str) else ""


def split_blocks(frame: pd.DataFrame, sheet: str, default_kind: str | None, found: Found, order: int) -> None:
    """Find header rows (and section titles) in one sheet/text and cut the rows into blocks."""
    if frame.empty:
        return
    width = frame.shape[1]
    # Only text cells in the first columns (any column near the top: columns come in any order) can
    # start a header or a title; numbers never do. This keeps the per-row work in pandas.
    candidate = np.zeros(len(frame), dtype=bool)
    for col in range(min(3, width)):
        candidate |= _textual(frame[col])
    for col in range(3, width):
        candidate[:200] |= _textual(frame[col].iloc[:200])
    header_rows, titles = [], []
    for i in np.flatnonzero(candidate):
        cells = frame.iloc[i].tolist()
        if sum(_key(v) in ALIASES for v in cells) >= 2:
            header_rows.append(int(i))
        elif not any(str(v).strip() for v in cells[1:] if v is not None) and table_kind(cells[0])[0]:
            titles.append(int(i))
    title_hit = np.zeros(len(frame), dtype=bool)
    title_hit[titles] = True
    boundaries = sorted(set(header_rows) | {int(i) for i in np.flatnonzero(title_hit)})
    if not header_rows:
        _read_info(frame, len(frame), found)
        return
    _read_info(frame, boundaries[0], found)

    kind = default_kind
    current: list | None = None  # [kind, headers, spans]
    for n, start in enumerate(boundaries):
        end = boundaries[n + 1] if n + 1 < len(boundaries) else len(frame)
        if title_hit[start]:
            _flush(frame, sheet, found, current, order)
            current = None
            kind = table_kind(frame.iat[start, 0])[0]
            continue
        headers = [parse_header("" if v is None else v) for v in frame.iloc[start].tolist()]
        while headers and headers[-1].raw == "":
            headers.pop()
        data_start = start + 1
        if data_start < end:
            unit_row = frame.iloc[data_start].tolist()
            if all(is_unit_text(v) for v in unit_row) and any(str(v).strip() for v in unit_row):
                headers = _merge_unit_row(headers, unit_row)
                data_start += 1
        block_kind = kind or _kind_from_headers(headers)
        if block_kind is None:
            _flush(frame, sheet, found, current, order)
            current = None
            continue
        if current is not None and current[0] == block_kind and [h.raw for h in headers] == [
            h.raw for h in current[1]
        ]:
            # A repeated header (LANHE stacks one block per step): the same table continues.
            current[2].append((data_start, end))
            continue
        _flush(frame, sheet, found, current, order)
        current = [block_kind, headers, [(data_start, end)]]
    _flush(frame, sheet, found, current, order)


def _flush(frame, sheet, found, current, order) -> None:
    if current is None:
        return
    kind, headers, spans = current
    index = np.concatenate([np.arange(a, b) for a, b in spans])
    width = len(headers)
    if len(spans) == 1:  # the usual single table: a view, not a copy of every column
        data = frame.iloc[spans[0][0]:spans[0][1], :width].reset_index(drop=True)
    else:
        data = frame.iloc[index, :width].reset_index(drop=True)
    if data.shape[1] < width:
        for extra in range(data.shape[1], width):
            data[extra] = ""
    data.columns = range(width)
    found.blocks.append(Block(kind=kind, sheet=sheet, headers=headers, data=data, rows=index + 1, order=order))


def _merge_unit_row(headers: list[Header], units: list) -> list[Header]:
    merged = []
    for i, header in enumerate(headers):
        unit = str(units[i]).strip().strip("()[]") if i < len(units) and units[i] is not None else ""
        if header.unit is None and unit:
            header = parse_header(f"{header.raw}/{unit}")
        merged.append(header)
    return merged


def _kind_from_headers(headers: list[Header]) -> str | None:
    names = {h.canonical for h in headers}
    if {"voltage_v", "current_ma"} <= names:
        return "record"
    if names & {"charge_mah", "discharge_mah", "ce_percent"}:
        return "cycle"
    if "step" in names and names & {"capacity_mah", "start_voltage_v", "end_voltage_v"}:
        return "step"
    return None


def _read_info(frame: pd.DataFrame, stop: int, found: Found) -> None:
    """Key/value lines above the first table (instrument, channel, barcode, start time)."""
    for i in range(min(stop, 50)):
        cells = [str(v).strip() for v in frame.iloc[i].tolist() if str(v).strip()]
        pairs = [(cells[0], cells[1])] if len(cells) >= 2 else []
        for cell in cells:
            key, sep, value = _split_pair(cell)
            if sep and value.strip():
                pairs.append((key, value))
        for key, value in pairs:
            canonical = _INFO_KEYS.get(normalise_name(key).rstrip(":："))
            if canonical and canonical not in found.info:
                found.info[canonical] = value.strip()


def _split_pair(cell: str) -> tuple[str, str, str]:
    match = re.match(r"^([^:：=]+)([:：=])(.*)$", cell)
    return match.groups() if match else (cell, "", "")


def read_workbook(data: bytes | None, found: Found, progress: Callable[[float], None], *, fast: bool = False,
                  path: str | None = None) -> None:
    """Read every LAND sheet of an xlsx (or LAND BIFF .xls).

    Two readers, both built on the Rust calamine crate, on purpose:
    - python-calamine hands back every cell as a Python object. That is what ``split_blocks`` needs to find
      headers, unit rows, info lines and stacked blocks anywhere in a sheet, and what the converters in
      values.py need to tell a '-' gap from junk text and a time-of-day cell from a number, with errors
      naming sheet, row and column. It reads every sheet of an .xls and every sheet that is not a plain
      record table, and it is the fallback for any record sheet the fast path declines.
    - fastexcel (``fast=True``, xlsx only) turns a record sheet straight into typed Arrow columns, with no
      Python object per cell (bench_parse, 300k records: read_land 3.7 -> 2.2 s CPU). Used only for the plain
      modern layout (see ``_fast_record_block``): header in row 1, every column one cell type, numbers
      in the numeric columns. Anything else is read again by python-calamine, so results, warnings and
      ParseError messages are the same whichever reader did the work.
    Give ``data`` (the file's bytes), or None and the ``path`` of the file on disk (nothing held in memory
    by the caller). fastexcel reads the record sheets first and is closed before python-calamine opens the
    workbook: calamine's cell grid of a big record sheet is the peak memory of the whole parse
    (bench_parse --near-limit), and neither a python-calamine workbook nor a copy of the bytes should sit
    on top of it.
    The caller has already run the zip-bomb and archive checks (sniff.check_zip) before either reader.
    """
    done = [0.0]

    def report(fraction: float) -> None:  # the fast pass may have reported further already
        if fraction > done[0]:
            done[0] = fraction
            progress(fraction)

    prepass = _fast_record_blocks(data if data is not None else path, report) if fast else None
    with contextlib.ExitStack() as stack:
        # from_path chooses the format by the file's extension: used only where that agrees with the content
        # (an xlsx named so). It reads just the zip members it needs; from_filelike first copies the whole
        # file into calamine, a big record sheet included (0.2 s of CPU for a 40 MB workbook).
        if data is not None:
            source = io.BytesIO(data)
        elif path.lower().endswith((".xlsx", ".xlsm")) and sniff_binary(_head(path)) == "xlsx":
            source = path
        else:
            source = stack.enter_context(open(path, "rb"))
        _read_sheets(source, found, report, fast_blocks=prepass)


def _head(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(64)


def _read_sheets(handle, found: Found, report: Callable[[float], None], *, fast_blocks) -> None:
    """python-calamine's pass over the workbook (a binary file object, or the path of an xlsx file): every
    LAND sheet the fast pass did not already read."""
    import python_calamine

    from .sniff import refuse_other_instrument_sheets

    try:
        if isinstance(handle, str):
            workbook = python_calamine.CalamineWorkbook.from_path(handle)
        else:
            workbook = python_calamine.CalamineWorkbook.from_filelike(handle)
        names = list(workbook.sheet_names)
    except BaseException as exc:  # calamine raises its own errors and, on broken input, pyo3 panics
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ParseError(f"the workbook cannot be opened ({_short(exc)})") from None
    found.sheets = names
    refuse_other_instrument_sheets(names)
    wanted = [(name, *table_kind(name)) for name in names]
    land = [w for w in wanted if w[1] is not None]
    if not land:
        raise ParseError(
            "no LAND table found: expected sheets such as Record-Tab, Cycle-Tab, Step-Tab "
            f"(or 记录/循环/工步); this workbook has {', '.join(repr(n) for n in names) or 'no sheets'}"
        )
    fast_blocks = fast_blocks[1] if fast_blocks is not None and fast_blocks[0] == names else {}
    for n, (name, kind, number) in enumerate(land):
        block = fast_blocks.get(name) if kind == "record" else None
        if block is not None:
            found.blocks.append(block)
            report(0.1 + 0.5 * (n + 1) / len(land))
            continue
        try:
            with _no_gc():
                frame = _cells(workbook.get_sheet_by_name(name).to_python(skip_empty_area=False))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise ParseError(f"the sheet cannot be read ({_short(exc)})", sheet=name) from None
        split_blocks(frame, name, kind, found, order=number)
        report(0.1 + 0.5 * (n + 1) / len(land))


def _fast_record_blocks(source: bytes | str, report: Callable[[float], None]):
    """(sheet names, {record sheet: Block or None}) as fastexcel reads them, or None when fastexcel cannot
    open the workbook or it is not a LAND one (python-calamine then words the refusal). The reader is
    released on return, before python-calamine opens the workbook. Record sheets a command preloaded from
    this file (recordsheets.preloaded) are taken, not loaded again."""
    from .sniff import refuse_other_instrument_sheets

    book = take(source) if isinstance(source, str) else None
    if book is None:
        if isinstance(source, str) and not source.lower().endswith((".xlsx", ".xlsm")):
            # fastexcel picks the format of a path by its extension; an xlsx saved under another name is
            # read from its bytes.
            with open(source, "rb") as handle:
                source = handle.read()
        reader = _fast_reader(source)
        if reader is None:
            return None
    try:
        book = book or RecordSheets(reader)
        refuse_other_instrument_sheets(book.names)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return None
    records = book.record_sheets()
    blocks: dict[str, Block | None] = {}
    for k, (name, number) in enumerate(records):
        blocks[name] = _fast_record_block(book, name, number)
        report(0.1 + 0.45 * (k + 1) / len(records))
    return book.names, blocks


def _fast_reader(source: bytes | str):
    """A fastexcel reader on the same bytes (or the file they were read from), or None (not installed, or it
    cannot open them)."""
    return open_reader(source)


# Arrow types a canonical record column may have on the fast path, by dimension (all-empty columns aside).
_FAST_NUMERIC = {"double", "int64"}
_FAST_TYPES = {"text": {"string", "large_string"}, "datetime": {"timestamp[ms]", "timestamp[us]", "timestamp[ns]"}}
# calamine hands back Excel time-of-day cells as times; fastexcel as datetimes on Excel's day 0/1.
_FIRST_REAL_DATE = np.datetime64("1900-03-01")


def _fast_record_block(book: RecordSheets, name: str, order: int) -> Block | None:
    """A record sheet in the plain modern layout as one Block of typed columns, or None to let
    python-calamine read it (mixed cell types, text in a numeric column, time-of-day or duration cells,
    a header anywhere but row 1, unit rows, info lines, stacked blocks, blank rows, no data).

    Only the columns a record field can come from are typed (recordsheets._load says which); the cells of
    the others cannot change the records (the calamine path skips a column without a canonical header too);
    what the fast path no longer sees is a second table whose header sits only in such columns among the
    first rows."""
    loaded = book.load(name)
    if loaded is None:
        return None
    sheet, seen = loaded
    del loaded
    try:
        block = _fast_block(sheet, seen, name, order)
        del sheet
        return block
    except BaseException as exc:  # panics and odd input: fall back
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return None


def _fast_block(sheet, columns: list, name: str, order: int) -> Block | None:
    """``columns``: fastexcel's (name, index, absolute_index) of every column of the sheet, typed or not."""
    typed = {info.index: info for info in sheet.selected_columns}
    if not columns or any(info.absolute_index != i for i, info in enumerate(columns)):
        return None  # column A empty: let calamine keep its column positions
    raw = ["" if j in typed and typed[j].column_name_from == "generated" else info.name
           for j, info in enumerate(columns)]
    if any(re.search(r"_\d+$", r) and r.rsplit("_", 1)[0] in raw for r in raw):
        return None  # fastexcel renames a repeated header 'X' to 'X_1': the raw header is not known
    if sum(_key(r) in ALIASES for r in raw) < 2:
        return None  # row 1 is not a header (title, info lines, blank rows above the table)
    headers = [parse_header(r) for r in raw]
    while headers and headers[-1].raw == "":
        headers.pop()
    batch = sheet.to_arrow()
    n = batch.num_rows
    if n == 0 or not headers:
        return None
    canonical = {h.canonical for h in headers}
    if not {"voltage_v", "current_ma", "test_time_s", "capacity_mah"} <= canonical:
        return None  # the calamine path words the error
    position = {j: k for k, j in enumerate(typed)}  # sheet column -> column of the Arrow batch
    data: dict[int, pd.Series] = {}
    blank = np.full(n, "", dtype=object)  # shared by the unread columns; nothing writes into Block data
    for j, header in enumerate(headers):
        if j not in position:  # not read (see _fast_record_block): blank, so the Block keeps columns 0..width-1
            data[j] = pd.Series(blank, dtype=object, copy=False)
            continue
        column = batch.column(position[j])
        type_name = str(column.type)
        all_empty = column.null_count == n
        if header.canonical is not None and not all_empty:
            dimension = CANONICAL_DIMENSION[header.canonical]
            if type_name not in _FAST_TYPES.get(dimension, _FAST_NUMERIC):
                return None
        values = _fast_values(column, type_name, all_empty)
        if values is None:
            return None
        if header.canonical == "sys_time" and values.dtype.kind == "M":
            real = values[~np.isnat(values)]
            if real.size and real.min() < _FIRST_REAL_DATE:
                return None  # time-of-day cells in SysTime: calamine's objects tell them apart
        data[j] = pd.Series(values, dtype=object if values.dtype == object else None, copy=False)
    frame = pd.DataFrame(data, copy=False)
    if (frame[_first(headers, "voltage_v")].isna() & frame[_first(headers, "current_ma")].isna()).any():
        return None  # blank or junk rows: the calamine path warns about them with their row numbers
    for j in range(min(3, len(headers))):
        # Below the first rows split_blocks looks for headers and section titles only in the first three
        # columns, and only text cells start one: typed (non-text) columns there cannot hide a second table.
        if frame[j].dtype == object and _textual(frame[j].iloc[_HEAD_ROWS:]).any():
            return None
    rows = np.arange(2, n + 2)  # header in Excel row 1 (skip_rows=0 keeps leading blank rows)
    if not _same_layout(frame, raw[:len(headers)], headers, name, order):
        return None
    return Block(kind="record", sheet=name, headers=headers, data=frame, rows=rows, order=order)


def _first(headers: list[Header], canonical: str) -> int:
    return next(j for j, h in enumerate(headers) if h.canonical == canonical)


def _fast_values(column, type_name: str, all_empty: bool) -> np.ndarray | None:
    """One Arrow column as calamine's cells would be after conversion: floats with NaN gaps, datetime64,
    or object text with '' for an empty cell (what python-calamine returns for one)."""
    if all_empty:
        return np.full(len(column), "", dtype=object)
    if type_name in _FAST_NUMERIC:
        return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    if type_name.startswith("timestamp"):
        return column.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    if type_name in _FAST_TYPES["text"]:
        # A text column holds a few distinct values: build each Python str once, then spread them.
        encoded = column.dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        words = np.array([*encoded.dictionary.to_pylist(), ""], dtype=object)
        return words[codes]
    return None  # durations, booleans, anything else: calamine path


def _same_layout(frame: pd.DataFrame, raw: list[str], headers: list[Header], name: str, order: int) -> bool:
    """split_blocks on the header and the first rows must see exactly one table starting in row 2 (no unit
    row, no second header or title among the first rows, where it also looks beyond column C)."""
    head = frame.iloc[:_HEAD_ROWS].astype(object)
    head = pd.concat([pd.DataFrame([raw], columns=head.columns, dtype=object), head], ignore_index=True)
    probe = Found()
    split_blocks(head, name, "record", probe, order=order)
    if len(probe.blocks) != 1 or probe.info:
        return False
    block = probe.blocks[0]
    return [h.raw for h in block.headers] == [h.raw for h in headers] and (
        block.rows.tolist() == list(range(2, len(head) + 1)))


@contextlib.contextmanager
def _no_gc():
    """Millions of cell objects in lists without reference cycles: the cycle collector would rescan them
    again and again while they are made (about half the cost of to_python) and find nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _cells(rows: list[list]) -> pd.DataFrame:
    """calamine's rows (a rectangle) as object columns 0..width-1, each a view into one 2-D array."""
    try:
        grid = np.array(rows, dtype=object)
    except ValueError:  # ragged rows: let pandas pad them
        return pd.DataFrame(rows, dtype=object)
    if grid.ndim != 2:
        return pd.DataFrame(rows, dtype=object)
    return pd.DataFrame({j: grid[:, j] for j in range(grid.shape[1])}, dtype=object, copy=False)


def read_text(text: str, found: Found) -> str:
    """Read a LAND CSV/TXT export (one or several sections). Returns 'csv' or 'txt'."""
    lines = text.splitlines()
    probe = "\n".join(lines[:200])
    if "\t" in probe:
        delimiter, fmt = "\t", "txt"
    elif probe.count(";") > probe.count(","):
        delimiter, fmt = ";", "csv"
    else:
        delimiter, fmt = ",", "csv"
    try:
        rows = list(csv.reader(lines, delimiter=delimiter))
    except csv.Error as exc:
        raise ParseError(f"the text cannot be split into columns ({exc})") from None
    # Text rows differ in length; transpose with padding (in C) instead of padding row by row.
    columns = list(itertools.zip_longest(*rows, fillvalue=None))
    frame = pd.DataFrame({i: pd.Series(col, dtype=object) for i, col in enumerate(columns)})
    split_blocks(frame, "text", None, found, order=0)
    for block in found.blocks:
        block.sheet = {"record": "Record-Tab", "cycle": "Cycle-Tab", "step": "Step-Tab"}[block.kind] + " section"
    return fmt


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
