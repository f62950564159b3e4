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
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from ..cycles import channel_restarts, derive_cycles, format_runs, kind_codes
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
from .errors import ParseError
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


@dataclass
class LandExport:
    """One LAND export: the record time series plus LAND's own cycle and step summaries."""

    records: pd.DataFrame
    cycle_table: pd.DataFrame | None
    step_table: pd.DataFrame | None
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    source_name: str = ""


def read_land(
    source: str | os.PathLike | BinaryIO,
    *,
    name: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> LandExport:
    """Parse a LAND export from a path or a binary file object; raise ParseError for anything else."""
    display = name or _display_name(source)
    report = progress or (lambda fraction: None)
    try:
        data = _read_bytes(source)
        report(0.05)
        export = _parse(data, display, report)
    except ParseError as exc:
        raise exc.located(file=display) from None
    except MemoryError:
        raise ParseError("the file is too large to read in memory", file=display) from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, AttributeError, UnicodeError) as exc:
        # Last line of defence: bad input must never surface as a bare traceback to the uploader.
        raise ParseError(f"the file's content could not be understood ({type(exc).__name__}: {exc})",
                         file=display) from None
    report(1.0)
    return export


def _display_name(source) -> str:
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return Path(getattr(source, "name", "") or "upload").name


def _read_bytes(source) -> bytes:
    try:
        if isinstance(source, str | os.PathLike):
            if os.path.getsize(source) > _MAX_FILE_BYTES:
                raise ParseError("the file is larger than 4 GiB")
            with open(source, "rb") as handle:
                return handle.read()
        data = source.read()
    except OSError as exc:
        raise ParseError(f"the file cannot be read ({exc.strerror or exc})") from None
    if isinstance(data, str):
        raise ParseError("a text stream was given; open the file in binary mode")
    return bytes(data)


def _parse(data: bytes, display: str, report: Callable[[float], None]) -> LandExport:
    if not data.strip():
        raise ParseError("the file is empty")
    found = Found()
    warnings: list[str] = []
    meta: dict = {}
    kind = sniff_binary(data[:64])
    if kind == "xlsx":
        check_zip(data)
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
        where = "sheet" if kind != "text" else "section"
        raise ParseError(f"no record table with data was found (a Record-Tab {where} with a header row "
                         "naming at least voltage and current)")
    records = _records(record_blocks, warnings, file=display)
    report(0.85)
    cycle_table = _summary([b for b in found.blocks if b.kind == "cycle"], "cycle")
    step_table = _summary([b for b in found.blocks if b.kind == "step"], "step")

    meta.update(found.info)
    if "start_time" not in meta and records["sys_time"].notna().any():
        meta["start_time"] = records["sys_time"].dropna().iloc[0].isoformat()
    non_rest = records["step_kind"][records["step_kind"] != "rest"]
    first_kind = non_rest.iloc[0] if len(non_rest) else "rest"
    meta["first_step_kind"] = first_kind
    meta["n_records"] = len(records)
    meta["n_cycles"] = int(records["cycle"].nunique())
    meta["partial_last_cycle"] = _partial_last_cycle(records, first_kind)
    meta["parser_version"] = PARSER_VERSION
    if cycle_table is not None:
        warnings.extend(_check_against_cycle_table(records, cycle_table))
    return LandExport(records=records, cycle_table=cycle_table, step_table=step_table, metadata=meta,
                      warnings=warnings, source_name=display)


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
        frame["_sheet"] = pd.Series(np.full(len(frame), block.sheet, dtype=object), dtype=object)
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
    frame["test_time_s"] = np.maximum.accumulate(test_time)

    kind, mode, code = _step_kinds(frame)
    frame["step_kind"] = _column(kind)
    frame["step_mode"] = _column(mode)
    frame["step"] = _int_column(frame, "step", fallback=lambda: _derive_steps(kind, mode, code))
    frame["step_mode"] = _column(_split_cccv(frame))
    if "step_time_s" in frame:
        wraps = _mask(frame, "step_time_s")
        step_time = unwrap_days(frame["step_time_s"].to_numpy(), wraps, frame["step"].to_numpy())
        frame["step_time_s"] = np.where(np.isnan(step_time), _derive_step_time(frame), step_time)
    else:
        frame["step_time_s"] = _derive_step_time(frame)
    frame["record"] = _int_column(frame, "record", fallback=lambda: np.arange(1, len(frame) + 1))
    had_cycle = "cycle" in frame
    frame["cycle"] = _int_column(frame, "cycle", fallback=lambda: _derived_cycles(frame))
    if had_cycle:
        _warn_cycle_jumps(frame, warnings)
    if "energy_mwh" not in frame:
        frame["energy_mwh"] = np.nan
    if "sys_time" not in frame:
        frame["sys_time"] = pd.NaT
    frame["sys_time"] = frame["sys_time"].astype("datetime64[ns]")

    out = frame[RECORD_COLUMNS].copy()
    for name in ("test_time_s", "step_time_s", "current_ma", "voltage_v", "capacity_mah", "energy_mwh"):
        out[name] = out[name].astype(np.float64)
    for name in _INT_COLUMNS:
        out[name] = out[name].astype(np.int64)
    out["step_kind"] = out["step_kind"].astype("str")
    out["step_mode"] = out["step_mode"].astype("str")
    if not out["record"].is_monotonic_increasing:
        out = out.sort_values("record", kind="stable")
    return out.reset_index(drop=True)


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


def _warn_cycle_jumps(frame: pd.DataFrame, warnings: list[str]) -> None:
    """Cycle-Index should count up by one; a gap or a step back means records are missing or runs were merged."""
    cycle = frame["cycle"].to_numpy()
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


def _step_kinds(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    current = frame["current_ma"].to_numpy(dtype=np.float64)
    by_sign = np.where(current > 0, "charge", np.where(current < 0, "discharge", "rest")).astype(object)
    if "state" not in frame:
        return by_sign, np.full(len(frame), "", dtype=object), by_sign
    # A few distinct codes over many rows: map the distinct ones, then spread them with one take.
    ids, uniques = pd.factorize(frame["state"].to_numpy(dtype=object), use_na_sentinel=True)
    uniques = np.append(pd.Series(uniques, dtype=object).astype(str).str.strip().str.upper().to_numpy(dtype=object),
                        "")
    table = pd.DataFrame.from_dict(STEP_STATES, orient="index", columns=["kind", "mode"])
    table.index = table.index.str.upper()
    code = uniques[ids]  # id -1 (None/NaN) takes the appended ''
    kind = pd.Series(uniques).map(table["kind"]).to_numpy(dtype=object)[ids]
    mode = pd.Series(uniques).map(table["mode"]).to_numpy(dtype=object)[ids]
    unknown = pd.isna(kind)
    kind[unknown] = by_sign[unknown]
    mode[unknown] = ""
    return kind, mode, code


def _derive_steps(kind: np.ndarray, mode: np.ndarray, code: np.ndarray) -> np.ndarray:
    """A new step wherever the (Step-State code, step kind) pair changes."""
    code_id = pd.factorize(np.asarray(code, dtype=object))[0]
    kind_id = pd.factorize(np.asarray(kind, dtype=object))[0]
    change = np.ones(len(code_id), dtype=bool)
    change[1:] = (code_id[1:] != code_id[:-1]) | (kind_id[1:] != kind_id[:-1])
    return np.cumsum(change).astype(np.int64)


def _split_cccv(frame: pd.DataFrame) -> np.ndarray:
    """A combined CCCV step: CC while the current holds its starting value, CV once it tapers."""
    mode = frame["step_mode"].to_numpy(dtype=object).copy()
    cccv = mode == "CCCV"
    if cccv.any():
        current = frame["current_ma"].abs()
        start = current.groupby(frame["step"].to_numpy()).transform("first").to_numpy()
        tapered = current.to_numpy() < 0.99 * start
        mode[cccv] = np.where(tapered[cccv], "CV", "CC")
    return mode


def _derive_step_time(frame: pd.DataFrame) -> np.ndarray:
    test_time = frame["test_time_s"]
    return (test_time - test_time.groupby(frame["step"].to_numpy()).transform("first")).to_numpy()


def _derived_cycles(frame: pd.DataFrame) -> np.ndarray:
    """No Cycle-Index: the lab's one cycle rule (cycling.cycles, also behind cycling.checks.derive_cycles)."""
    kind = kind_codes(frame["step_kind"].to_numpy(dtype=object), frame["current_ma"].to_numpy(dtype=np.float64))
    restart = channel_restarts(frame["record"].to_numpy(), frame["test_time_s"].to_numpy(dtype=np.float64))
    return derive_cycles(kind, restart)


def _partial_last_cycle(records: pd.DataFrame, first_kind: str) -> bool:
    if first_kind == "rest" or records.empty:
        return False
    last = records[records["cycle"] == records["cycle"].iat[-1]]
    second = "discharge" if first_kind == "charge" else "charge"
    return not (last["step_kind"] == second).any()


def _check_against_cycle_table(records: pd.DataFrame, table: pd.DataFrame) -> list[str]:
    """LAND's Cycle-Tab is its own answer; say so on the file when the records disagree with it."""
    if "cycle" not in table:
        return []
    ours = records[records["step_kind"] != "rest"].pivot_table(
        index="cycle", columns="step_kind", values="capacity_mah", aggfunc="max"
    )
    warnings = []
    for kind, column in (("charge", "charge_mah"), ("discharge", "discharge_mah")):
        if column not in table or kind not in ours:
            continue
        theirs = table.set_index("cycle")[column]
        both = pd.concat([ours[kind], theirs], axis=1, join="inner").dropna()
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
