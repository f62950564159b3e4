"""Shared plumbing of the non-LAND readers: a found table, its columns by alias, numbers with units."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype
from pandas.tseries.api import guess_datetime_format

from readers.errors import ParseError

from .canonical import split_header, unit_factor
from .columns import normalise_name
from .values import MISSING_TEXT, arrow_pool, to_datetime, to_seconds, unwrap_days


@dataclass
class Table:
    """One table of a file: cells by column, the file's row number of each data row, where it sits."""

    frame: pd.DataFrame
    rows: np.ndarray
    sheet: str | None = None
    units: dict = field(default_factory=dict)

    def __post_init__(self):
        self._by_name = {}
        for position, raw in enumerate(self.frame.columns):
            name, unit = split_header(raw)
            self._by_name.setdefault(normalise_name(name), (position, str(raw).strip(), unit))
            self._by_name.setdefault(normalise_name(str(raw)), (position, str(raw).strip(), unit))

    def find(self, *aliases: str) -> tuple[pd.Series, str, str | None] | None:
        """The first column whose name (unit stripped, or whole header) matches one of ``aliases``."""
        for alias in aliases:
            hit = self._by_name.get(normalise_name(alias))
            if hit is not None:
                position, raw, unit = hit
                return self.frame.iloc[:, position], raw, unit
        return None

    def require(self, what: str, *aliases: str) -> tuple[pd.Series, str, str | None]:
        hit = self.find(*aliases)
        if hit is None:
            shown = ", ".join(str(c) for c in self.frame.columns[:30])
            raise ParseError(f"the record table has no {what} column (expected one of {', '.join(aliases)}; "
                             f"header: {shown})", sheet=self.sheet)
        return hit

    def numbers(self, hit, dimension: str | None = None, *, default_unit: str | None = None) -> np.ndarray:
        """Float values of a column (gaps NaN) in the canonical unit of ``dimension``; junk text is an error
        naming its row and column."""
        values, raw, unit = hit
        out = _floats(values, self.rows, raw, self.sheet)
        if dimension is None:
            return out
        factor = unit_factor(unit, dimension, column=raw, default=default_unit)
        self.units[raw] = unit or f"{default_unit} (instrument default)"
        return out * factor

    def seconds(self, hit, *, default_unit: str = "s", group: np.ndarray | None = None) -> np.ndarray:
        """Seconds from numbers in the header's unit, 'HH:MM:SS(.fff)', 'D-HH:MM:SS', '0d 00:00:00.00' text
        or time cells."""
        values, raw, unit = hit
        clock = unit is not None and ":" in unit  # 'h:min:s.ms': clock text, read as such
        factor = unit_factor(None if clock else unit, "time", column=raw, default=default_unit)
        if values.dtype.kind not in "fiu" and (values.dtype == object or pd.api.types.is_string_dtype(values)):
            fast = _clock_seconds(values)
            if fast is not None:
                return fast
            text = values.map(lambda v: v.replace("d ", "-").strip() if isinstance(v, str) else v)
        else:
            text = values
        try:
            seconds, wraps = to_seconds(text, self.rows, raw, factor)
        except ParseError as exc:
            raise exc.located(sheet=self.sheet) from None
        # Excel time-of-day cells lost their whole days: give them back (as LAND's reader does).
        return unwrap_days(seconds, wraps, group)

    def stamps(self, hit, test_time_s: np.ndarray | None = None) -> np.ndarray:
        """Wall-clock time of each record. Text stamps that keep pace with the test time (checked on 257
        rows spread over the file, within 1 s) are the first stamp plus the test time: parsing a million
        date strings costs more than reading the rest of the file."""
        values = hit[0]
        if values.dtype.kind in "fiu":
            # Unix seconds (Arbin csv DateTime, Neware .nda)
            return pd.to_datetime(values.to_numpy(dtype=np.float64), unit="s", errors="coerce").to_numpy(
                dtype="datetime64[ns]")
        if values.dtype == object and infer_dtype(values, skipna=True) not in ("string", "empty"):
            # Excel date cells (Arbin's Date_Time saved as real dates), alone or among text stamps
            return to_datetime(values)
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            if test_time_s is not None and len(values) > 1000:
                sample = np.unique(np.linspace(0, len(values) - 1, 257).astype(np.int64))
                # Cell by cell (257 of them): a take over the Arrow column would first join all its chunks.
                stamps = self._text_stamps(pd.Series([values.iat[i] for i in sample], dtype=values.dtype))
                if not np.isnat(stamps).any():
                    elapsed = (stamps - stamps[0]) / np.timedelta64(1, "s")
                    if np.abs(elapsed - (test_time_s[sample] - test_time_s[0])).max() <= 1.0:
                        offsets = ((test_time_s - test_time_s[0]) * 1e9).astype("timedelta64[ns]")
                        return stamps[0] + offsets
            return self._text_stamps(values)
        return to_datetime(values)

    @staticmethod
    def _text_stamps(values: pd.Series) -> np.ndarray:
        text = pd.Series(values.astype(object).where(values.notna(), None), dtype=object).str.strip()
        first = text.dropna()
        fmt = guess_datetime_format(first.iat[0]) if len(first) and isinstance(first.iat[0], str) else None
        if fmt is not None:
            # One format for the whole column (C speed); a column that does not fit takes the careful path.
            stamps = pd.to_datetime(text, format=fmt, errors="coerce")
            if not (stamps.isna().to_numpy() & text.notna().to_numpy()).any():
                return stamps.to_numpy(dtype="datetime64[ns]")
        return to_datetime(text)


# 'H:MM:SS(.fff)', 'D-HH:MM:SS', '0d 00:00:00.000', '1 02:03:04' (RE2 syntax for Arrow).
_CLOCK_PLAIN = r"^(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d*)?)$"
_CLOCK = r"^\s*(?:(?P<d>\d+)\s*(?:-|d|\s)\s*)?(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d*)?)\s*$"


def _clock_seconds(values: pd.Series) -> np.ndarray | None:
    """Clock-text times to seconds in Arrow's C++ (one regex pass, no Python per cell); None when any
    non-empty cell is something else (numbers, Excel time cells, junk: values.to_seconds judges those)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if values.dtype != object and pd.api.types.is_string_dtype(values):
            array = pa.array(values.array)  # Arrow-backed already: no Python string per cell
            chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
            fast = _fixed_clock(chunks, pa)  # on the chunks as they are: no copy of the column
            if fast is not None:
                return fast
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks()
            array = array.cast(pa.string())
        else:
            array = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    fast = _fixed_clock([array], pa) if values.dtype == object else None
    if fast is None:
        fast = _split_clock(array, pa, pc)
    if fast is not None:
        return fast
    first = next((v for v in array.slice(0, 64).to_pylist() if v), "")
    # The common 'H:MM:SS.fff' matches twice as fast without the optional day part.
    parts = pc.extract_regex(array, _CLOCK_PLAIN if re.match(_CLOCK_PLAIN, first) else _CLOCK)
    if parts.null_count != array.null_count and "d" not in parts.type.names:
        parts = pc.extract_regex(array, _CLOCK)
        if parts.null_count != array.null_count:
            return None
    if "d" not in parts.type.names:
        return field_seconds(parts, pa, pc)

    days = pc.struct_field(parts, "d")
    days = pc.if_else(pc.equal(days, ""), pa.scalar(None, pa.string()), days)
    return np.nan_to_num(pc.cast(days, pa.float64()).to_numpy(zero_copy_only=False)) * 86400.0 + field_seconds(
        parts, pa, pc)


# The layouts _fixed_clock reads: optional days and their separator, hours, then ':MM:SS' and an optional
# '.fff' tail whose width is the same in every cell (the cycler prints a fixed format).
_FIXED_CLOCK = re.compile(r"^(?:(?P<d>\d+)(?P<sep>d |-| ))?(?P<h>\d+):\d\d:\d\d(?P<dot>\.(?P<f>\d*))?$")
_DIGITS = 15  # int64 holds any 15-digit field; wider fields take the split path


def _fixed_clock(chunks: list, pa) -> np.ndarray | None:
    """The commonest clean case of _clock_seconds at a fraction of the split path's cost: every cell laid out
    like the first ('H:MM:SS.ffffff', '0d H:MM:SS.ff', 'D-HH:MM:SS'; no gaps), read digit by digit straight
    from Arrow's string buffers with numpy (one gather per character position, never a Python string per
    cell nor the split path's list arrays). The fields are the floats the split path's cast gives (the
    decimal 'SS.ffffff' is the exact integer SSffffff over 10**F, whose IEEE quotient is the correctly
    rounded value a decimal-to-float cast returns) and are weighted by the same product over the whole
    column, so the seconds are bit for bit the split path's. None when any cell differs from the first's
    layout."""
    chunks = [chunk for chunk in chunks if len(chunk)]
    if not chunks or any(c.null_count or c.type not in (pa.string(), pa.large_string()) for c in chunks):
        return None
    layout = _FIXED_CLOCK.match(chunks[0][0].as_py())
    if layout is None:
        return None
    width = len(layout.group("f") or "")
    if width > 12:  # SS plus the fraction as one int64 stays exact below 2**53
        return None
    dot, sep = layout.group("dot") is not None, (layout.group("sep") or "").encode()
    fields = np.empty((sum(len(c) for c in chunks), 4 if sep else 3))
    at = 0
    for chunk in chunks:
        _, offsets, buffer = chunk.buffers()
        offsets = np.frombuffer(offsets, dtype=np.int32 if chunk.type == pa.string() else np.int64)
        offsets = offsets[chunk.offset:chunk.offset + len(chunk) + 1]
        data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
        # Blocks of cells: every temporary stays small (in cache, and off the page-fault path of big arrays).
        for first in range(0, len(chunk), _CLOCK_BLOCK):
            block = offsets[first:first + _CLOCK_BLOCK + 1].astype(np.int64)
            if not _clock_block(data, block[:-1], block[1:], width, dot, sep, fields[at:at + len(block) - 1]):
                return None
            at += len(block) - 1
    return fields @ _CLOCK_WEIGHTS[fields.shape[1]]


_CLOCK_BLOCK = 1 << 15


def _clock_block(data, start, end, width, dot, sep, out) -> bool:
    """One block of _fixed_clock: fields into ``out`` ([days,] hours, minutes, seconds); False when a cell
    is laid out otherwise."""
    tail = 6 + (width + 1 if dot else 0)  # ':MM:SS' + '.fff'
    head = end - tail - start  # characters before ':MM:SS': hours, or days + separator + hours
    if head.min() < (len(sep) + 2 if sep else 1):
        return False
    stop = end - tail

    def digit(position: np.ndarray) -> np.ndarray | None:
        value = data[position] - np.uint8(48)  # wraps below '0': one test catches both sides
        return None if (value > 9).any() else value.astype(np.int64)

    colon = ord(":")
    if not ((data[stop] == colon).all() and (data[stop + 3] == colon).all()):
        return False
    parts = [digit(stop + k) for k in (1, 2, 4, 5)]
    if any(part is None for part in parts):
        return False
    seconds = parts[2] * 10 + parts[3]
    if dot:
        if not (data[end - width - 1] == ord(".")).all():
            return False
        for k in range(width):
            part = digit(end - width + k)
            if part is None:
                return False
            seconds = seconds * 10 + part
    hours, count = _trailing_number(data, stop, head)
    if hours is None:
        return False
    if sep:
        rest = head - count - len(sep)
        if count.min() < 1 or rest.min() < 1:
            return False
        for k, byte in enumerate(sep):
            if not (data[stop - count - len(sep) + k] == byte).all():
                return False
        days, day_count = _trailing_number(data, stop - count - len(sep), rest)
        if days is None or (day_count != rest).any():
            return False
        out[:, 0] = days
    elif (count != head).any():
        return False
    out[:, -3] = hours
    out[:, -2] = parts[0] * 10 + parts[1]
    out[:, -1] = seconds / 10.0**width if dot else seconds
    return True


def _trailing_number(data: np.ndarray, stop: np.ndarray, room: np.ndarray):
    """(value, length) of the run of digits that ends before ``stop`` in each cell (at most ``room``
    characters); (None, None) for a run longer than int64 holds exactly. A loop over character positions,
    each one vectorised over the cells."""
    value = np.zeros(len(stop), dtype=np.int64)
    count = np.zeros(len(stop), dtype=np.int64)
    running = room > 0
    scale = 1
    for k in range(int(room.max()) + 1):
        running &= k < room
        if not running.any():
            return value, count
        if k == _DIGITS:
            return None, None
        digit = data[np.where(running, stop - 1 - k, 0)] - np.uint8(48)
        running &= digit <= 9
        value += np.where(running, digit.astype(np.int64) * scale, 0)
        scale *= 10
        count += running
    return value, count


_CLOCK_WEIGHTS = {3: np.array([3600.0, 60.0, 1.0]), 4: np.array([86400.0, 3600.0, 60.0, 1.0])}


def _split_clock(array, pa, pc) -> np.ndarray | None:
    """The clean case of _clock_seconds (no gaps, every cell 'H:MM:SS.f' or every cell '0d H:MM:SS.f' /
    'D-HH:MM:SS') at a third of the regex's cost: split at the separators, cast the pieces to numbers in
    one go. None for anything else (gaps, blanks, mixed layouts, junk), which the regex then judges."""
    if array.null_count or not len(array):
        return None
    first = array[0].as_py()
    days = "d " if "d " in first else "-" if "-" in first else None
    pool = arrow_pool()
    text = pc.replace_substring(array, days, ":", memory_pool=pool) if days else array
    parts = pc.split_pattern(text, ":", memory_pool=pool)
    width = 4 if days else 3
    counts = pc.list_value_length(parts, memory_pool=pool)
    if pc.min_max(counts).as_py() != {"min": width, "max": width}:
        return None
    try:
        fields = pc.cast(pc.list_flatten(parts, memory_pool=pool), pa.float64(), memory_pool=pool).to_numpy(
            zero_copy_only=False).reshape(-1, width)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # What the regex would refuse: signs, fractions of whole fields, minutes or seconds of 3 digits.
    whole = fields[:, :-1]
    if (fields < 0).any() or (whole != np.floor(whole)).any() or (fields[:, -2:] >= 100).any():
        return None
    return fields @ _CLOCK_WEIGHTS[width]


def field_seconds(parts, pa, pc) -> np.ndarray:
    def field(name: str) -> np.ndarray:
        return pc.cast(pc.struct_field(parts, name), pa.float64()).to_numpy(zero_copy_only=False)

    return field("h") * 3600.0 + field("m") * 60.0 + field("s")


def _floats(values: pd.Series, rows: np.ndarray, column: str, sheet: str | None) -> np.ndarray:
    if values.dtype.kind in "fiub":
        return values.to_numpy(dtype=np.float64)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(numbers)
    if bad.any():
        text = values[bad].astype(str).str.strip().str.lower()
        missing = values[bad].isna().to_numpy() | text.isin(MISSING_TEXT).to_numpy()
        really = np.flatnonzero(bad)[~missing]
        if really.size:
            i = int(really[0])
            raise ParseError(f"'{str(values.iat[i])[:40]}' is not a number", sheet=sheet, row=int(rows[i]),
                             column=column)
    return numbers


def read_delimited(text: str | None, *, header_line: int, sep: str, decimal: str = ".", sheet: str | None = None,
                   data: bytes | None = None, encoding: str | None = None) -> Table:
    """A delimited table whose header is on line ``header_line`` (0-based); pandas' C parser, fed the raw
    bytes when they are UTF-8 (it decodes faster, and no second copy of the file is made as a str)."""
    raw = data is not None and encoding in ("utf-8", "utf-8-sig")
    if raw:
        fast = _arrow_table(data, header_line=header_line, sep=sep, decimal=decimal, sheet=sheet)
        if fast is not None:
            return fast
    source = io.BytesIO(data) if raw else io.StringIO(text)
    try:
        # Blank lines are kept (and dropped below) so that row numbers stay those of a text editor.
        frame = pd.read_csv(source, sep=sep, skiprows=header_line, decimal=decimal, skip_blank_lines=False,
                            encoding=encoding if raw else None, index_col=False)
    except UnicodeDecodeError:
        if not raw:
            raise
        from .sniff import decode_text

        return read_delimited(decode_text(data)[0], header_line=header_line, sep=sep, decimal=decimal, sheet=sheet)
    except (pd.errors.ParserError, ValueError) as exc:
        raise ParseError(f"the table cannot be split into columns ({str(exc).splitlines()[0][:200]})",
                         sheet=sheet) from None
    keep = [not str(c).startswith("Unnamed:") or frame[c].notna().any() for c in frame.columns]
    if not all(keep):  # selecting columns copies every one of them: only when one is dropped
        frame = frame.loc[:, keep]
    rows = np.arange(len(frame)) + header_line + 2
    blank = frame.isna().all(axis=1).to_numpy()
    if blank.any():
        frame, rows = frame[~blank].reset_index(drop=True), rows[~blank]
    return Table(frame=frame, rows=rows, sheet=sheet)


# pandas' default gap spellings (pandas.io.parsers STR_NA_VALUES), for Arrow to read the same gaps.
NA_TEXT = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
            "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def _arrow_table(data: bytes, *, header_line: int, sep: str, decimal: str, sheet: str | None) -> Table | None:
    """The same table through Arrow's CSV reader (about a third less CPU than pandas' C parser, and its
    columns go to pandas without a copy of each text cell); None whenever the file is anything but plain
    (blank lines, which must keep their row numbers; duplicate names; ragged rows; text in a number
    column after the first block; bytes that are not UTF-8): pandas then reads it and reports exactly
    what it reports today."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    for _ in range(header_line):
        start = data.find(b"\n", start) + 1
        if start == 0:
            return None
    if len(sep) != 1:
        return None
    try:
        arrow = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(data)[start:]),  # a view of the bytes: no copy of the file
            memory_pool=arrow_pool(),
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 22),
            # A blank line is then a one-cell row, a ragged-row error: pandas keeps the row numbers right.
            parse_options=pacsv.ParseOptions(delimiter=sep, ignore_empty_lines=False),
            # Like pandas: an empty cell is a gap in text columns too; ISO stamps stay text (Table.stamps).
            convert_options=pacsv.ConvertOptions(decimal_point=decimal, strings_can_be_null=True,
                                                 null_values=NA_TEXT, timestamp_parsers=["%no-such-format"]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    # pandas' names for what a trailing separator leaves (EC-Lab ends each line with a tab), dropped below
    names = [name if name.strip() else f"Unnamed: {i}" for i, name in enumerate(arrow.column_names)]
    if len(set(names)) != len(names):
        return None  # pandas renames duplicates ('Current.1'); let it
    # Column by column, each Arrow buffer freed once converted: the table is never held twice.
    frame = arrow.rename_columns(names).to_pandas(split_blocks=True, self_destruct=True, use_threads=False,
                                                 memory_pool=arrow_pool())
    del arrow
    keep = [not c.startswith("Unnamed:") or frame[c].notna().any() for c in frame.columns]
    if not all(keep):  # selecting columns copies every one of them: only when one is dropped
        frame = frame.loc[:, keep]
    rows = np.arange(len(frame)) + header_line + 2
    blank = frame.isna().all(axis=1).to_numpy()  # a line of separators only: pandas drops it below too
    if blank.any():
        frame, rows = frame[~blank].reset_index(drop=True), rows[~blank]
    return Table(frame=frame, rows=rows, sheet=sheet)


def text_head(data: bytes) -> tuple[list[str], str | None, str]:
    """(first lines, whole text or None, encoding) of a text export. UTF-8 files are not decoded whole here:
    read_delimited hands their bytes to pandas (and falls back to the careful decode if they are not UTF-8)."""
    from .sniff import decode_text

    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif b"\x00" in data[:4096] or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, encoding = decode_text(data)
        return text[:65536].splitlines(), text, encoding
    else:
        encoding = "utf-8"
    head = data[:65536]
    try:
        lines = head.decode(encoding, errors="strict").splitlines()
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 64 KiB boundary
            text, encoding = decode_text(data)
            return text[:65536].splitlines(), text, encoding
        lines = head[:exc.start].decode(encoding).splitlines()
    return lines, None, encoding


def sheet_table(cells: pd.DataFrame, *, header_row: int, sheet: str) -> Table:
    """A table of a workbook sheet (cells as python-calamine gives them) with its header on ``header_row``."""
    header = [str(v).strip() if v is not None else "" for v in cells.iloc[header_row].tolist()]
    body = cells.iloc[header_row + 1:].reset_index(drop=True)
    body.columns = [h or f"column {i + 1}" for i, h in enumerate(header)]
    rows = np.arange(len(body)) + header_row + 2
    empty = body.map(lambda v: v is None or (isinstance(v, str) and v.strip() == "")).all(axis=1).to_numpy()
    if empty.any():
        body, rows = body[~empty].reset_index(drop=True), rows[~empty]
    body = body.replace({"": None})
    return Table(frame=body.infer_objects(), rows=rows, sheet=sheet)
