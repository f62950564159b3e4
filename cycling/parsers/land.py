"""Read a LAND cycler export (xlsx, LAND .xls, CSV, TXT) into canonical, unit-converted tables.

Decisions that apply to every file:
- Only ``ParseError`` leaves ``read_land`` for bad input; its message names the file and, where it helps,
  the sheet, the row as Excel (or a text editor) numbers it, and the column.
- Current, capacity and energy must carry their unit in the header (or an old export's unit row):
  a guessed mA-versus-uA is a silent 1000x error. Time without a unit is seconds, voltage is volts.
- Rows where neither voltage nor current is a number (blank lines, footers, junk after the data) are
  dropped, with a warning when they held any text. A row with only one of them, text in a numeric
  column, or NaN/inf in a required column is an error, with one exception: a missing voltage (blank,
  '-', NaN or an Excel error cell such as #NUM!) among valid records keeps its record (capacity, energy
  and time do not depend on it) with ONE warning naming the file, sheet and rows; analysis leaves such
  records out of curves, dQ/dV and voltage statistics. An infinite voltage is still an error.
- Test time must not run backwards (by more than the 1 s resolution of text times) once Excel
  time-of-day cells have had their days restored: that is an error naming the row. A record number that appears twice is an error, except when the whole
  row is an exact copy (overlapping continuation sheets), which is dropped with a warning.
- A last cycle that lacks its second half (export taken while the test ran) is kept and flagged
  ``metadata['partial_last_cycle'] = True``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from readers.errors import ParseError, UnknownLayout, display_name, reading

from ..analysis.cycles import CHARGE, DISCHARGE, channel_restarts, derive_cycles, format_runs
from .columns import (
    CANONICAL_DIMENSION,
    DEFAULT_UNIT,
    STEP_STATES,
    STEP_TABLE_RENAMES,
    UNIT_REQUIRED,
    UNITS,
    Header,
    snake_name,
)
from .export import Export
from .signatures import text_tables_looked_for
from .sniff import (
    check_ole2,
    check_zip,
    decode_text,
    refuse_other_instrument_text,
    sniff_binary,
)
from .sources import Block, Found, read_text, read_workbook
from .values import missing_mask, to_datetime, to_float, to_seconds, unwrap_days

PARSER_VERSION = "1.0.0"

RECORD_COLUMNS = [
    "record", "test_time_s", "step_time_s", "current_ma", "voltage_v", "capacity_mah", "energy_mwh",
    "cycle", "step", "step_kind", "step_mode", "sys_time",
]
REQUIRED = ["voltage_v", "current_ma", "test_time_s", "capacity_mah"]
# Required columns whose single gaps keep the record (the value itself stays NaN).
GAPS_ALLOWED = ("voltage_v",)
_TIME_COLUMNS = {"test_time_s", "step_time_s", "duration_s"}
_INT_COLUMNS = {"record", "cycle", "step"}
_MAX_FILE_BYTES = 4 * 1024**3
_TIME_JITTER_S = 1.0


def read_land(
    source: str | os.PathLike | BinaryIO,
    *,
    name: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> Export:
    """Parse a LAND export from a path or a binary file object; raise ParseError for anything else."""
    display = name or display_name(source)
    report = progress or (lambda fraction: None)
    with reading(display):
        # No name bound to the bytes here: _parse may drop them (see there).
        path = _regular_file(source)
        export = _parse(_read_bytes(source, xlsx_path=path), display, report, path=path)
    report(1.0)
    return export


def _regular_file(source) -> str | None:
    """The path of a source that is a regular file on disk, which a reader may open again itself."""
    if isinstance(source, str | os.PathLike) and os.path.isfile(source):
        return os.fspath(source)
    return None


def _read_bytes(source, *, xlsx_path: str | None = None) -> bytes | None:
    """The file's bytes; None when ``xlsx_path`` (the source's own path) holds an xlsx workbook: the
    readers open that themselves and take only the parts they need, so the whole file is never read."""
    try:
        if isinstance(source, str | os.PathLike):
            if os.path.getsize(source) > _MAX_FILE_BYTES:
                raise ParseError("the file is larger than 4 GiB")
            with open(source, "rb") as handle:
                head = handle.read(64)
                if xlsx_path is not None and sniff_binary(head) == "xlsx":
                    return None
                handle.seek(0)  # one read of the whole file, not the head joined to the rest (a copy)
                return handle.read()
        data = source.read()
    except OSError as exc:
        raise ParseError(f"the file cannot be read ({exc.strerror or exc})") from None
    if isinstance(data, str):
        raise ParseError("a text stream was given; open the file in binary mode")
    return bytes(data)


def _parse(data: bytes | None, display: str, report: Callable[[float], None], *, path: str | None = None) -> Export:
    """``data`` None: the xlsx workbook at ``path``, opened by the readers themselves."""
    report(0.05)
    if data is not None and (not data or data.isspace()):  # data.strip() == b"", without a copy of the file
        raise ParseError("the file is empty")
    found = Found()
    warnings: list[str] = []
    meta: dict = {}
    kind = "xlsx" if data is None else sniff_binary(data[:64])
    if kind == "xlsx":
        check_zip(data if data is not None else path)
        if path is not None:
            # The readers open the file themselves: the bytes would only add to the memory peak of a big
            # record sheet (bench_parse --near-limit).
            del data
            read_workbook(None, found, report, fast=True, path=path)
        else:
            read_workbook(data, found, report, fast=True)
        meta["format"] = "xlsx"
    elif kind == "ole2":
        check_ole2(data)
        read_workbook(data, found, report)
        meta["format"] = "xls"
    else:
        text, encoding = decode_text(data)
        refuse_other_instrument_text(text)
        meta["format"] = read_text(text, found)
        meta["encoding"] = encoding
        report(0.5)
    meta["sheets"] = found.sheets or sorted({b.sheet for b in found.blocks})

    record_blocks = sorted((b for b in found.blocks if b.kind == "record"), key=lambda b: b.order)
    if not record_blocks:
        if kind != "text" or found.blocks:  # a LAND file (it has LAND's other tables) without records
            where = "section" if kind == "text" else "sheet"
            raise ParseError(f"no record table with data was found (a Record-Tab {where} with a header row "
                             "naming at least voltage and current)")
        # Text reaches this reader when no other reader recognised it: it may be no cycler's export at all.
        raise UnknownLayout("no record table with data was found: the text is not an export of a cycler this "
                         f"system reads. Looked for: {text_tables_looked_for()}")
    records = _records(record_blocks, warnings, file=display)
    report(0.85)
    cycle_table = _summary([b for b in found.blocks if b.kind == "cycle"], "cycle")
    step_table = _summary([b for b in found.blocks if b.kind == "step"], "step")

    meta.update(found.info)
    if "start_time" not in meta and records["sys_time"].notna().any():
        meta["start_time"] = records["sys_time"].dropna().iloc[0].isoformat()
    moving = (records["step_kind"] != "rest").to_numpy(dtype=bool)  # a mask, not a filtered copy of the text
    first_kind = records["step_kind"].iat[int(moving.argmax())] if moving.any() else "rest"
    meta["first_step_kind"] = first_kind
    meta["n_records"] = len(records)
    meta["n_cycles"] = int(records["cycle"].nunique())
    meta["partial_last_cycle"] = _partial_last_cycle(records, first_kind)
    meta["parser_version"] = PARSER_VERSION
    if cycle_table is not None:
        warnings.extend(_check_against_cycle_table(records, cycle_table))
    return Export(records=records, cycle_table=cycle_table, step_table=step_table, metadata=meta,
                  warnings=warnings, source_name=display, instrument="LAND", reader="assb-lab land",
                  reader_version=PARSER_VERSION)


# --- records ---------------------------------------------------------------------------------------

def _typed_columns(block: Block, table: str) -> dict[str, tuple[np.ndarray, object]]:
    """Canonical columns of one block: name -> (values, extra) with units applied.

    For time columns extra is the 'wrapped' mask; for others None.
    """
    out: dict[str, tuple[np.ndarray, object]] = {}
    for col, header in enumerate(block.headers):
        canonical = header.canonical
        if table == "step":
            canonical = STEP_TABLE_RENAMES.get(canonical, canonical)
        if canonical is None or canonical in out:
            continue
        values = block.data[col]
        try:
            out[canonical] = _convert(values, header, canonical, block.rows)
        except ParseError as exc:
            raise exc.located(sheet=block.sheet) from None
    return out


def _factor(header: Header, canonical: str) -> float:
    dimension = CANONICAL_DIMENSION[canonical]
    unit = header.unit or DEFAULT_UNIT.get(dimension)
    if unit is None:
        if dimension in UNIT_REQUIRED:
            raise ParseError(f"the header gives no unit; expected e.g. '{header.raw}/m{_unit_hint(dimension)}'",
                             column=header.raw)
        return 1.0
    known = UNITS.get(unit)
    if known is None or known[0] != dimension:
        raise ParseError(f"unit '{unit}' is not a unit of {dimension.replace('_', ' ')}", column=header.raw)
    return known[1]


def _unit_hint(dimension: str) -> str:
    return {"current": "A", "capacity": "Ah", "energy": "Wh"}[dimension]


def _convert(values: pd.Series, header: Header, canonical: str, rows: np.ndarray):
    dimension = CANONICAL_DIMENSION[canonical]
    if dimension == "text":
        return _text(values), None
    if dimension == "datetime":
        return to_datetime(values), None
    if canonical in _TIME_COLUMNS:
        factor = _factor(header, canonical)
        seconds, wraps = to_seconds(values, rows, header.raw, factor)
        return seconds, wraps
    if dimension == "count":
        return to_float(values, rows, header.raw), None
    return to_float(values, rows, header.raw) * _factor(header, canonical), None


def _text(values: pd.Series) -> np.ndarray:
    """Stripped text, gaps as ''. A text column holds a handful of distinct codes: clean those, not every cell."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    uniques = pd.Series(uniques, dtype=object)
    cleaned = uniques.where(~missing_mask(uniques), "").astype(str).str.strip().to_numpy(dtype=object)
    return np.append(cleaned, "")[codes]  # code -1 (None/NaN) takes the appended ''


def _column(values: np.ndarray) -> np.ndarray | pd.Series:
    """Text stays object while the records are worked on: one conversion to pandas' str dtype at the end,
    not one per intermediate step."""
    if values.dtype == object:
        return pd.Series(values, dtype=object, copy=False)
    return values


def _records(blocks: list[Block], warnings: list[str], *, file: str | None = None) -> pd.DataFrame:
    parts = []
    sheets = list(dict.fromkeys(b.sheet for b in blocks))
    for block in blocks:
        block = _without_blank_rows(block, warnings)
        cols = _typed_columns(block, "record")
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            names = ", ".join(m.rsplit("_", 1)[0].replace("_", " ") for m in missing)
            raise ParseError(
                f"the record table has no {names} column (header: {', '.join(h.raw for h in block.headers if h.raw)})",
                sheet=block.sheet,
            )
        frame = pd.DataFrame({name: _column(value) for name, (value, _) in cols.items()}, copy=False)
        for name, (_, extra) in cols.items():
            if name in _TIME_COLUMNS:
                frame[f"_{name}_wraps"] = extra
        frame["_row"] = block.rows
        # Only error messages read it: a category code per row, not a Python string per row.
        frame["_sheet"] = pd.Categorical.from_codes(np.full(len(frame), sheets.index(block.sheet), dtype=np.int16),
                                                    categories=sheets)
        parts.append(frame)
    frame = pd.concat(parts, ignore_index=True, sort=False)
    if frame.empty:
        raise ParseError("the record table has a header but no data rows", sheet=blocks[0].sheet)
    _require_finite(frame)
    _warn_missing_voltage(frame, warnings, file)

    frame = _dedupe(frame, warnings)
    test_time = unwrap_days(frame["test_time_s"].to_numpy(), _mask(frame, "test_time_s"))
    back = np.flatnonzero(np.diff(test_time) < -_TIME_JITTER_S)
    if back.size:
        i = back[0] + 1
        raise ParseError(
            f"test time goes backwards ({test_time[i - 1]:.3f} s -> {test_time[i]:.3f} s); the records are "
            "out of order or two tests were merged",
            sheet=frame["_sheet"].iat[i], row=int(frame["_row"].iat[i]), column="test time",
        )
    # Text times have whole-second resolution; mixed with exact cells they may dip by under a second.
    test_time = np.maximum.accumulate(test_time)

    kind, mode, code = _step_kinds(frame)
    current = frame["current_ma"].to_numpy(dtype=np.float64)
    step = _int_column(frame, "step", fallback=lambda: _derive_steps(kind, code))
    mode = _split_cccv(mode, current, step)
    if "step_time_s" in frame:
        wraps = _mask(frame, "step_time_s")
        step_time = unwrap_days(frame["step_time_s"].to_numpy(), wraps, step)
        gaps = np.isnan(step_time)
        if gaps.any():
            step_time = np.where(gaps, _derive_step_time(test_time, step), step_time)
    else:
        step_time = _derive_step_time(test_time, step)
    record = _int_column(frame, "record", fallback=lambda: np.arange(1, len(frame) + 1))
    had_cycle = "cycle" in frame
    cycle = _int_column(frame, "cycle", fallback=lambda: _derived_cycles(kind, record, test_time))
    if had_cycle:
        _warn_cycle_jumps(cycle, frame, warnings)
    n = len(frame)
    columns = {
        "record": record, "test_time_s": test_time, "step_time_s": step_time, "current_ma": current,
        "voltage_v": frame["voltage_v"].to_numpy(dtype=np.float64),
        "capacity_mah": frame["capacity_mah"].to_numpy(dtype=np.float64),
        "energy_mwh": frame["energy_mwh"].to_numpy(dtype=np.float64) if "energy_mwh" in frame else np.full(n, np.nan),
        "cycle": cycle, "step": step, "step_kind": kind, "step_mode": mode,
        "sys_time": frame["sys_time"].to_numpy(dtype="datetime64[ns]") if "sys_time" in frame else (
            np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")),
    }
    for name in ("test_time_s", "step_time_s"):
        columns[name] = np.asarray(columns[name], dtype=np.float64)
    for name in _INT_COLUMNS:
        columns[name] = np.asarray(columns[name], dtype=np.int64)
    if (np.diff(columns["record"]) < 0).any():
        order = np.argsort(columns["record"], kind="stable")
        # The rows are in time order (checked above): a record whose number puts it before an earlier time is an
        # edited number, not a row out of place; the records are not reordered into a clock that runs backwards.
        back = np.flatnonzero(np.diff(columns["test_time_s"][order]) < -_TIME_JITTER_S)
        if back.size:
            record = columns["record"]
            k = int(np.flatnonzero(np.diff(record) < 0)[0])  # record[k] > record[k + 1]: one of the two is wrong
            bad = k if k and record[k] - record[k - 1] != 1 else k + 1  # the one that leaves its neighbours' run
            raise ParseError(
                f"record number {columns['record'][bad]} does not fit its place: the rows run in time order, but "
                "in the order of the record numbers the test time would go backwards; the record column was "
                "edited or two exports were merged", sheet=frame["_sheet"].iat[bad], row=int(frame["_row"].iat[bad]),
                column="record")
        columns = {name: values[order] for name, values in columns.items()}
    columns["step_kind"] = _str_column(columns["step_kind"], _KINDS)
    columns["step_mode"] = _str_column(columns["step_mode"], _MODES)
    # Built from finished arrays (no frame copy, no per-column astype): the columns are the output.
    return pd.DataFrame({name: columns[name] for name in RECORD_COLUMNS}, copy=False)


def _str_column(codes: np.ndarray, words: list[str]):
    """pandas' str column from small integer codes: one Arrow take, no Python object per row."""
    import pyarrow as pa

    return pd.array(pa.array(words, type=pa.large_string()).take(pa.array(codes)), dtype="str")


def _without_blank_rows(block: Block, warnings: list[str]) -> Block:
    """Drop rows where neither voltage nor current is a number (blank lines, footers, junk after the
    data) before any other cell is judged; a row with one of them is data and must be complete."""
    where = {h.canonical: i for i, h in reversed(list(enumerate(block.headers)))}
    if "voltage_v" not in where or "current_ma" not in where:
        return block
    blank = ~_numeric(block.data[where["voltage_v"]]) & ~_numeric(block.data[where["current_ma"]])
    if not blank.any():
        return block
    content = ~block.data[blank].apply(missing_mask).to_numpy().all(axis=1)
    if content.any():
        warnings.append(f"{block.sheet}: ignored {int(content.sum())} row(s) without voltage and current "
                        f"(first at row {int(block.rows[blank][content][0])})")
    keep = ~blank
    return Block(kind=block.kind, sheet=block.sheet, headers=block.headers,
                 data=block.data[keep].reset_index(drop=True), rows=block.rows[keep], order=block.order)


def _numeric(values: pd.Series) -> np.ndarray:
    if values.dtype.kind in "fiu" or infer_dtype(values, skipna=False) in ("floating", "integer",
                                                                           "mixed-integer-float"):
        return values.notna().to_numpy()
    plain = values.where(values.map(type).isin([float, int, str]), None)
    return pd.to_numeric(plain, errors="coerce").notna().to_numpy()


def _mask(frame: pd.DataFrame, name: str) -> np.ndarray:
    column = f"_{name}_wraps"
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].fillna(False).to_numpy(dtype=bool)


def _require_finite(frame: pd.DataFrame) -> None:
    for name in REQUIRED:
        values = frame[name].to_numpy(dtype=np.float64)
        # A missing voltage does not touch capacity, energy or time: kept (see _warn_missing_voltage).
        bad = np.isinf(values) if name in GAPS_ALLOWED else ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            what = "missing" if np.isnan(values[i]) else "infinite"
            raise ParseError(f"the {name.rsplit('_', 1)[0].replace('_', ' ')} value is {what}",
                             sheet=frame["_sheet"].iat[i], row=int(frame["_row"].iat[i]), column=name)


def _row_ranges(rows: np.ndarray, shown: int = 10) -> str:
    """'row 6' / 'rows 6, 120–122, 4,001': runs of consecutive rows, at most `shown` runs spelled out."""
    return f"row{'s' if len(np.unique(rows)) > 1 else ''} {format_runs(rows, shown=shown, thousands=True)}"


def _warn_missing_voltage(frame: pd.DataFrame, warnings: list[str], file: str | None) -> None:
    """ONE warning for all records without a voltage, naming the file, each sheet and its rows."""
    gap = np.isnan(frame["voltage_v"].to_numpy(dtype=np.float64))
    if not gap.any():
        return
    sheets = frame["_sheet"].to_numpy(dtype=object)[gap]
    rows = frame["_row"].to_numpy()[gap]
    where = "; ".join(f"sheet '{sheet}' {_row_ranges(rows[sheets == sheet])}" for sheet in pd.unique(sheets))
    prefix = f"file '{file}', " if file else ""
    warnings.append(
        f"{prefix}{where}: {int(gap.sum()):,} record(s) without a voltage (blank, NaN or an Excel error such "
        f"as #NUM!). They are kept for capacity, energy and time, but left out of the voltage curves, dQ/dV, "
        f"mean/median voltages and the voltage-window check.")


def _dedupe(frame: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    if "record" not in frame:
        return frame
    record = frame["record"]
    if (np.diff(record.to_numpy(dtype=np.float64)) > 0).all():
        return frame  # strictly increasing (the usual export): no number can appear twice
    dup = record.duplicated(keep="first") & record.notna()
    if not dup.any():
        return frame
    data_cols = [c for c in frame.columns if not c.startswith("_")]
    exact = frame.duplicated(subset=data_cols, keep="first")
    conflicting = dup & ~exact
    if conflicting.any():
        i = int(np.flatnonzero(conflicting.to_numpy())[0])
        raise ParseError(f"record number {record.iat[i]:.0f} appears twice with different values",
                         sheet=frame["_sheet"].iat[i], row=int(frame["_row"].iat[i]), column="record")
    warnings.append(f"dropped {int(dup.sum())} exact duplicate record row(s) (overlapping sheets)")
    return frame[~dup].reset_index(drop=True)


def _warn_cycle_jumps(cycle: np.ndarray, frame: pd.DataFrame, warnings: list[str]) -> None:
    """Cycle-Index should count up by one; a gap or a step back means records are missing or runs were merged."""
    step = np.diff(cycle)
    odd = np.flatnonzero((step > 1) | (step < 0))
    if len(odd):
        i = int(odd[0]) + 1
        warnings.append(
            f"{frame['_sheet'].iat[i]}, row {int(frame['_row'].iat[i])}: Cycle-Index jumps from {cycle[i - 1]} to "
            f"{cycle[i]} ({len(odd)} jump(s) in all); records of the cycles in between are missing"
        )


def _int_column(frame: pd.DataFrame, name: str, fallback: Callable[[], np.ndarray]) -> np.ndarray:
    """A whole-number column; ``fallback()`` (only computed when needed) where the file has none."""
    if name not in frame:
        return np.asarray(fallback(), dtype=np.int64)
    values = frame[name].to_numpy(dtype=np.float64)
    gaps = np.isnan(values)
    if gaps.all():
        return np.asarray(fallback(), dtype=np.int64)
    if gaps.any():
        values = pd.Series(values).ffill().bfill().to_numpy()
    if (values != np.round(values)).any() or np.abs(values).max() > 2**53:
        i = int(np.flatnonzero((values != np.round(values)) | (np.abs(values) > 2**53))[0])
        raise ParseError(f"'{values[i]}' is not a whole number", sheet=frame["_sheet"].iat[i],
                         row=int(frame["_row"].iat[i]), column=name)
    return values.astype(np.int64)


# Step kinds and modes travel as small codes into these words (kind codes are cycling.analysis.cycles' own:
# 0 rest, CHARGE, DISCHARGE); they become text once, in the output frame.
_KINDS = ["rest", "charge", "discharge"]
_MODES = ["", "CC", "CV", "CCCV", "CP", "CR"]
_KIND_CODE = {"rest": 0, "charge": CHARGE, "discharge": DISCHARGE}
_MODE_CODE = {word: i for i, word in enumerate(_MODES)}
_CC, _CV, _CCCV = _MODE_CODE["CC"], _MODE_CODE["CV"], _MODE_CODE["CCCV"]


def _step_kinds(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kind codes, mode codes, id of the cleaned Step-State code) per record; an unknown or missing state
    takes its kind from the sign of the current and no mode."""
    current = frame["current_ma"].to_numpy(dtype=np.float64)
    by_sign = np.where(current > 0, CHARGE, np.where(current < 0, DISCHARGE, 0)).astype(np.int8)
    if "state" not in frame:
        return by_sign, np.zeros(len(frame), dtype=np.int8), by_sign
    # A few distinct codes over many rows: map the distinct ones, then spread them with one take.
    ids, uniques = pd.factorize(frame["state"].to_numpy(dtype=object), use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype=object).astype(str).str.strip().str.upper().to_numpy(dtype=object)
    cleaned = np.append(cleaned, "")  # id -1 (None/NaN) takes the appended ''
    table = {code.upper(): states for code, states in STEP_STATES.items()}
    kind_of = np.array([_KIND_CODE[table[c][0]] if c in table else -1 for c in cleaned], dtype=np.int8)
    mode_of = np.array([_MODE_CODE[table[c][1]] if c in table else 0 for c in cleaned], dtype=np.int8)
    code = pd.factorize(cleaned)[0][ids]  # equal cleaned codes share an id
    kind = kind_of[ids]
    unknown = kind < 0
    kind[unknown] = by_sign[unknown]
    return kind, mode_of[ids], code


def _derive_steps(kind: np.ndarray, code: np.ndarray) -> np.ndarray:
    """A new step wherever the (Step-State code, step kind) pair changes."""
    change = np.ones(len(code), dtype=bool)
    change[1:] = (code[1:] != code[:-1]) | (kind[1:] != kind[:-1])
    return np.cumsum(change).astype(np.int64)


def _split_cccv(mode: np.ndarray, current: np.ndarray, step: np.ndarray) -> np.ndarray:
    """A combined CCCV step: CC while the current holds its starting value, CV once it tapers."""
    cccv = mode == _CCCV
    if not cccv.any():
        return mode
    magnitude = np.abs(current)
    start = pd.Series(magnitude).groupby(step).transform("first").to_numpy()
    mode = mode.copy()
    mode[cccv] = np.where(magnitude[cccv] < 0.99 * start[cccv], _CV, _CC)
    return mode


def _derive_step_time(test_time: np.ndarray, step: np.ndarray) -> np.ndarray:
    series = pd.Series(test_time)
    return (series - series.groupby(step).transform("first")).to_numpy()


def _derived_cycles(kind: np.ndarray, record: np.ndarray, test_time: np.ndarray) -> np.ndarray:
    """No Cycle-Index: the lab's one cycle rule (cycling.analysis.cycles, also behind cycling.analysis.checks.derive_cycles)."""
    return derive_cycles(kind, channel_restarts(record, test_time))


def _partial_last_cycle(records: pd.DataFrame, first_kind: str) -> bool:
    if first_kind == "rest" or records.empty:
        return False
    cycle = records["cycle"].to_numpy()
    second = "discharge" if first_kind == "charge" else "charge"
    return not ((cycle == cycle[-1]) & (records["step_kind"] == second).to_numpy(dtype=bool)).any()


def _check_against_cycle_table(records: pd.DataFrame, table: pd.DataFrame) -> list[str]:
    """LAND's Cycle-Tab is its own answer; say so on the file when the records disagree with it."""
    if "cycle" not in table:
        return []
    cycle = records["cycle"].to_numpy()
    capacity = pd.Series(records["capacity_mah"].to_numpy(dtype=np.float64))
    warnings = []
    for kind, column in (("charge", "charge_mah"), ("discharge", "discharge_mah")):
        rows = (records["step_kind"] == kind).to_numpy(dtype=bool)
        if column not in table or not rows.any():
            continue
        ours = capacity[rows].groupby(cycle[rows]).max()  # the cycle's capacity at the end of this half
        theirs = table.set_index("cycle")[column]
        both = pd.concat([ours, theirs], axis=1, join="inner").dropna()
        if both.empty:
            continue
        diff = (both.iloc[:, 0] - both.iloc[:, 1]).abs() > 0.01 * both.iloc[:, 1].abs() + 1e-9
        if diff.any():
            cycles = ", ".join(str(c) for c in both.index[diff][:10])
            warnings.append(f"{kind} capacity from the records differs from LAND's Cycle-Tab by more than "
                            f"1 % in cycle(s) {cycles}")
    return warnings


# --- Cycle-Tab / Step-Tab --------------------------------------------------------------------------

def _summary(blocks: list[Block], table: str) -> pd.DataFrame | None:
    if not blocks:
        return None
    parts = []
    for block in blocks:
        columns: dict[str, np.ndarray] = {}
        for name, (values, _) in _typed_columns(block, table).items():
            if name == "state":
                continue
            columns[name] = values
        for col, header in enumerate(block.headers):
            canonical = STEP_TABLE_RENAMES.get(header.canonical, header.canonical) if table == "step" else (
                header.canonical)
            if canonical is not None or not header.raw:
                continue
            name = snake_name(header)
            if name in columns:
                continue
            raw = block.data[col]
            numbers = pd.to_numeric(raw.where(~missing_mask(raw), None), errors="coerce")
            if numbers.isna().sum() == missing_mask(raw).sum():
                unit = UNITS.get(header.unit or "")
                columns[name] = numbers.to_numpy(dtype=np.float64) * (unit[1] if unit else 1.0)
            else:
                columns[name] = raw.astype(str).to_numpy(dtype=object)
        frame = pd.DataFrame(columns)
        if table == "step" and "state" in _typed_columns_names(block):
            state = _typed_columns(block, table)["state"][0]
            code = pd.Series(state).str.upper()
            states = pd.DataFrame.from_dict(STEP_STATES, orient="index", columns=["kind", "mode"])
            frame["step_kind"] = code.map(states["kind"]).fillna("").to_numpy(dtype=object)
            frame["step_mode"] = code.map(states["mode"]).fillna("").replace({"CCCV": "CC"}).to_numpy(dtype=object)
        parts.append(frame)
    frame = pd.concat(parts, ignore_index=True, sort=False)
    keep = frame.drop(columns=[c for c in ("cycle", "step") if c in frame]).notna().any(axis=1)
    if "cycle" in frame:
        keep &= frame["cycle"].notna()
    frame = frame[keep].reset_index(drop=True)
    for name in ("cycle", "step"):
        if name in frame and frame[name].notna().all():
            frame[name] = frame[name].astype(np.int64)
    return frame if not frame.empty else None


def _typed_columns_names(block: Block) -> set[str]:
    return {h.canonical for h in block.headers}
