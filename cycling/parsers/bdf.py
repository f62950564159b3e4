"""Battery Data Format (BDF, Battery Data Alliance): read BDF csv/parquet into the canonical records, write records as BDF.

The BDF names a quantity twice: a machine-readable column name that carries its unit
(``current_ampere``) and a human label with the unit after " / " (``Current / A``). Both spellings are
read; the writer emits either. Decisions:
- Current is positive while charging (as in LAND and in the BDF examples). A file that gives a step type
  but only positive currents (some simulators write |I|) gets its discharge currents negated, with a
  warning.
- BDF's charging/discharging capacity (and energy) columns are turned into LAND's convention
  (``capacity_mah``: an unsigned running total that restarts when the current changes direction), so
  every per-cycle number comes from the same analysis as a LAND file: per direction run, the value is
  taken relative to the record before the run, and a reset inside a run (per-step counters) is summed.
- Columns our records need but the BDF does not define (record number, step time, step type, CC/CV mode)
  are written as extra columns (``record_index``, ``step_time_second``, ``step_type``, ``step_mode``) so
  a BDF export read back gives the same per-cycle values; files without them get the derived values.
- Without a cycle column, cycles come from the lab's one cycle rule (cycling.analysis.cycles).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pandas as pd

from readers.errors import ParseError, display_name, reading

from ..analysis.cycles import channel_restarts, derive_cycles, kind_codes
from .batches import BLOCK_BYTES, NotStreamable, csv_batches, csv_names, gather, opened, read_bytes
from .canonical import repair_clock_glitches, running_totals
from .columns import UNITS
from .export import Export
from .land import RECORD_COLUMNS
from .probe import Reader

READER_VERSION = "1.0.0"
PARQUET_MAGIC = b"PAR1"
_MAX_FILE_BYTES = 4 * 1024**3
_TIME_JITTER_S = 1.0


@dataclass(frozen=True)
class BdfColumn:
    """One BDF quantity: machine name, human label and unit as the spec writes them, our column and the
    factor from the BDF unit to ours (None: not a number we scale)."""

    name: str
    label: str
    unit: str
    ours: str | None
    factor: float | None = 1.0
    standard: bool = True


# THE BDF column table (quantities from the BDF specification; the last four are our extensions).
BDF_COLUMNS: tuple[BdfColumn, ...] = (
    BdfColumn("test_time_second", "Test Time", "s", "test_time_s"),
    BdfColumn("voltage_volt", "Voltage", "V", "voltage_v"),
    BdfColumn("current_ampere", "Current", "A", "current_ma", 1e3),
    BdfColumn("unix_time_second", "Unix Time", "s", "sys_time", None),
    BdfColumn("cycle_count", "Cycle Count", "1", "cycle", None),
    BdfColumn("step_count", "Step Count", "1", "step", None),
    BdfColumn("step_index", "Step Index", "1", "_step_index", None),
    BdfColumn("charging_capacity_ah", "Charging Capacity", "Ah", "_charge_mah", 1e3),
    BdfColumn("discharging_capacity_ah", "Discharging Capacity", "Ah", "_discharge_mah", 1e3),
    BdfColumn("step_capacity_ah", "Step Capacity", "Ah", "_step_mah", 1e3),
    BdfColumn("charging_energy_wh", "Charging Energy", "Wh", "_charge_mwh", 1e3),
    BdfColumn("discharging_energy_wh", "Discharging Energy", "Wh", "_discharge_mwh", 1e3),
    BdfColumn("step_energy_wh", "Step Energy", "Wh", "_step_mwh", 1e3),
    BdfColumn("ambient_temperature_celsius", "Ambient Temperature", "degC", None, None),
    BdfColumn("record_index", "Record Index", "1", "record", None, standard=False),
    BdfColumn("step_time_second", "Step Time", "s", "step_time_s", standard=False),
    BdfColumn("step_type", "Step Type", "1", "_step_type", None, standard=False),
    BdfColumn("step_mode", "Step Mode", "1", "step_mode", None, standard=False),
)
_BY_NAME = {c.name: c for c in BDF_COLUMNS}
# Human labels (lower case, blanks collapsed) and the synonyms seen in the field's BDF-style files.
_BY_LABEL = {c.label.lower(): c for c in BDF_COLUMNS} | {
    "charge capacity": _BY_NAME["charging_capacity_ah"], "discharge capacity": _BY_NAME["discharging_capacity_ah"],
    "charge energy": _BY_NAME["charging_energy_wh"], "discharge energy": _BY_NAME["discharging_energy_wh"],
    "time": _BY_NAME["test_time_second"], "cycle index": _BY_NAME["cycle_count"],
    "cycle number": _BY_NAME["cycle_count"],
}
_REQUIRED = ("test_time_second", "voltage_volt", "current_ampere")
# The older BDF names (the first drafts of the spec, and files published with them): name -> (today's name,
# factor from the old unit to today's).
_LEGACY: dict[str, tuple[str, float]] = {
    "test_time_millisecond": ("test_time_second", 1e-3),
    "date_time_millisecond": ("unix_time_second", 1e-3),
    "unix_time_millisecond": ("unix_time_second", 1e-3),
    "step_time_millisecond": ("step_time_second", 1e-3),
    "current_milliampere": ("current_ampere", 1e-3),
    "voltage_millivolt": ("voltage_volt", 1e-3),
    "cycle_dimensionless": ("cycle_count", 1.0),
    "step_dimensionless": ("step_count", 1.0),
    "step_index_dimensionless": ("step_index", 1.0),
    "charging_capacity_ampere_hour": ("charging_capacity_ah", 1.0),
    "discharging_capacity_ampere_hour": ("discharging_capacity_ah", 1.0),
    "step_capacity_ampere_hour": ("step_capacity_ah", 1.0),
    "phase_capacity_ampere_hour": ("step_capacity_ah", 1.0),
    "charging_energy_watt_hour": ("charging_energy_wh", 1.0),
    "discharging_energy_watt_hour": ("discharging_energy_wh", 1.0),
    "step_energy_watt_hour": ("step_energy_wh", 1.0),
}
_STEP_TYPES = {"charge": "charge", "charging": "charge", "discharge": "discharge", "discharging": "discharge",
               "rest": "rest", "ocv": "rest", "pause": "rest"}


@dataclass
class BdfExport(Export):
    """A BDF file read into the canonical records (Export's fields, BDF as who read it)."""

    instrument: str = "BDF"
    reader: str = "bdf"
    reader_version: str = READER_VERSION


# --- sniffing --------------------------------------------------------------------------------------

def sniff(head: bytes, name: str = "") -> bool:
    """True when the first bytes of a file are a BDF table: a Parquet file, or text whose header row names
    BDF's three required quantities (machine names or human labels)."""
    if head.startswith(PARQUET_MAGIC):
        return True
    text = head.lstrip(b"\xef\xbb\xbf")[:4096].decode("utf-8", errors="ignore")
    first = text.splitlines()[0] if text.strip() else ""
    try:
        found = {c.name for c in (_resolve(h)[0] for h in _split_header(first)) if c is not None}
    except ParseError:
        return False
    return all(q in found for q in _REQUIRED)


def _split_header(line: str) -> list[str]:
    sep = "\t" if line.count("\t") > line.count(",") else ","
    return [h.strip().strip('"') for h in line.split(sep)]


def _resolve(header: str) -> tuple[BdfColumn | None, float]:
    """(BDF column, factor to our unit) of one header; (None, 1) for a column we do not use."""
    text = str(header).strip()
    if text in _BY_NAME:
        column = _BY_NAME[text]
        return column, column.factor or 1.0
    if text in _LEGACY:
        name, factor = _LEGACY[text]
        column = _BY_NAME[name]
        return column, factor * (column.factor or 1.0)
    label, sep, unit = text.partition(" / ")
    column = _BY_LABEL.get(" ".join(label.split()).lower())
    if column is None:
        return None, 1.0
    if column.factor is None or not sep:
        return column, 1.0
    # The label's unit may differ from the spec's (Test Time / h): convert with the one unit table.
    known = UNITS.get(unit.strip().lower())
    spec = UNITS[column.unit.lower()]
    if known is None or known[0] != spec[0]:
        raise ParseError(f"unit '{unit.strip()}' is not a unit of {spec[0]}", column=text)
    return column, known[1] * (column.factor / spec[1])


# --- reading ---------------------------------------------------------------------------------------

def read_bdf(
    source: str | os.PathLike | BinaryIO,
    *,
    name: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> BdfExport:
    """Read a BDF csv or parquet file (path or binary file object); raise ParseError for anything else."""
    display = name or display_name(source)
    report = progress or (lambda fraction: None)
    with reading(display, what=" as a BDF table", also=(OSError,)):
        export = _parse_streamed(source, display, report)
        if export is None:  # not a path or seekable file, or a table the batches cannot read: the whole file
            data = read_bytes(source, max_bytes=_MAX_FILE_BYTES)
            report(0.05)
            export = _parse(data, display, report)
    report(1.0)
    return export


# Rows per Parquet batch and bytes per CSV block of the streamed read: a few MB per column at a time.
_BATCH_ROWS = 1 << 20
_BLOCK_BYTES = BLOCK_BYTES


def _parse_streamed(source, display: str, report: Callable[[float], None]) -> BdfExport | None:
    """The records of a BDF file on disk read batch by batch, only the columns we use, each straight into
    its compact array (cycling.parsers.batches): the file's bytes and the whole table are never held (a
    10^7-record csv is 1.7 GB).

    None when the source is not a path or seekable file, or when the batches meet anything the whole-file
    read judges cell by cell (text among numbers, a header it refuses, a broken table): that read then runs
    and gives its error, so a file's errors are the same whichever way it is read."""
    import pyarrow as pa

    with opened(source, max_bytes=_MAX_FILE_BYTES) as found:
        if found is None:
            return None
        handle, start, size = found
        head = handle.read(4096)
        handle.seek(start)
        if not head.strip():
            return None
        try:
            if head.startswith(PARQUET_MAGIC):
                columns = _stream_parquet(handle, size, report)
                fmt, section, first_row = "bdf-parquet", "table", 0
            else:
                columns = _stream_csv(handle, head, size, report)
                fmt, section, first_row = "bdf-csv", None, 2
        except (pa.ArrowException, ParseError, NotStreamable, ValueError, OSError):
            columns = None
        if columns is None or not len(columns.get("test_time_s", ())):
            handle.seek(start)
            return None
        report(0.4)
        warnings: list[str] = []
        try:
            frame = _records(columns, warnings, section, first_row)
        except ParseError:
            handle.seek(start)
            return None
        del columns
        return _export(frame, warnings, fmt, display, report)


def _wanted(names: list[str]) -> dict[str, tuple[BdfColumn, float]]:
    """Header -> (BDF column, factor) of each column we read (the first of a repeated quantity), as _parse
    picks them; a repeated header name cannot be read by name: not streamable."""
    if len(set(names)) != len(names):
        raise NotStreamable
    wanted, seen = {}, set()
    for header in names:
        column, factor = _resolve(header)
        if column is None or column.ours is None or column.ours in seen:
            continue
        seen.add(column.ours)
        wanted[header] = (column, factor)
    if any(_BY_NAME[q].ours not in seen for q in _REQUIRED):
        raise NotStreamable
    return wanted


def _stream_csv(handle, head: bytes, size: int, report) -> dict[str, np.ndarray]:
    import pyarrow.csv as pacsv

    first = head.split(b"\n", 1)[0]
    parse = pacsv.ParseOptions(delimiter="\t" if first.count(b"\t") > first.count(b",") else ",")
    start = handle.tell()
    wanted = _wanted(csv_names(handle, parse_options=parse))
    reader = csv_batches(handle, parse_options=parse, block_bytes=_BLOCK_BYTES, convert_options=pacsv.ConvertOptions(
        strings_can_be_null=True, include_columns=list(wanted)))
    return _gather(reader, wanted, lambda: (handle.tell() - start) / size, report)


def _stream_parquet(handle, size: int, report) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle, pre_buffer=False, memory_map=False)
    wanted = _wanted(parquet.schema_arrow.names)
    total = max(1, parquet.metadata.num_rows)
    done = [0]

    def batches():
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=list(wanted), use_threads=False):
            done[0] += batch.num_rows
            yield batch

    return _gather(batches(), wanted, lambda: done[0] / total, report)


def _gather(batches, wanted: dict[str, tuple[BdfColumn, float]], fraction, report) -> dict[str, np.ndarray]:
    """Our columns from Arrow batches (batches.gather): numbers as float64 (scaled to our unit), step type and
    mode as codes."""
    return gather(batches, {column.ours: (header, _converter(column, factor))
                            for header, (column, factor) in wanted.items()}, fraction, report)


def _converter(column: BdfColumn, factor: float) -> Callable:
    import pyarrow as pa

    if column.ours in ("_step_type", "step_mode"):
        code = ((lambda word: _KIND_CODE.get(_STEP_TYPES.get(word.lower()), -1))
                if column.ours == "_step_type" else (lambda word: _MODE_CODE.get(word, 0)))
        return lambda values: _word_codes(values.to_pandas(), code)

    def numbers(values):
        kind = values.type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_boolean(kind)
                or pa.types.is_null(kind)):
            raise NotStreamable  # text among the numbers: the whole-file read names the cell
        out = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return out * factor if factor != 1.0 else out

    return numbers


def _parse(data: bytes, display: str, report: Callable[[float], None]) -> BdfExport:
    if not data or data.isspace():  # isspace stops at the first byte of content; strip copied the file
        raise ParseError("the file is empty")
    if data.startswith(PARQUET_MAGIC):
        import pyarrow.parquet as pq

        raw = pq.read_table(io.BytesIO(data)).to_pandas()
        fmt, section, first_row = "bdf-parquet", "table", 0  # parquet rows count from 0
    else:
        raw = _read_csv(data)
        fmt, section, first_row = "bdf-csv", None, 2  # line 1 is the header
    report(0.4)
    warnings: list[str] = []
    columns: dict[str, np.ndarray] = {}
    for header in raw.columns:
        column, factor = _resolve(header)
        if column is None or column.ours is None or column.ours in columns:
            continue
        values = raw[header]
        if column.ours == "_step_type":
            columns[column.ours] = _word_codes(values, lambda word: _KIND_CODE.get(_STEP_TYPES.get(word.lower()), -1))
        elif column.ours == "step_mode":
            columns[column.ours] = _word_codes(values, lambda word: _MODE_CODE.get(word, 0))
        else:
            numbers = _numbers(values, str(header), section, first_row)
            columns[column.ours] = numbers * factor if factor != 1.0 else numbers
    missing = [q for q in _REQUIRED if _BY_NAME[q].ours not in columns]
    if missing:
        raise ParseError(f"the table has no {', '.join(missing)} column, which the BDF requires "
                         f"(header: {', '.join(map(str, raw.columns))})", sheet=section)
    if not len(raw):
        raise ParseError("the table has a header but no data rows", sheet=section)
    frame = _records(columns, warnings, section, first_row)
    return _export(frame, warnings, fmt, display, report)


def _export(frame: pd.DataFrame, warnings: list[str], fmt: str, display: str, report) -> BdfExport:
    report(0.85)
    non_rest = frame["step_kind"][frame["step_kind"] != "rest"]
    first_kind = non_rest.iloc[0] if len(non_rest) else "rest"
    meta = {
        "format": fmt, "n_records": len(frame), "n_cycles": int(frame["cycle"].nunique()),
        "first_step_kind": first_kind, "partial_last_cycle": _partial_last_cycle(frame, first_kind),
        "parser_version": READER_VERSION, "reader": "bdf", "reader_version": READER_VERSION,
        "instrument": "BDF",
    }
    if frame["sys_time"].notna().any():
        meta["start_time"] = frame["sys_time"].dropna().iloc[0].isoformat()
    return BdfExport(records=frame, cycle_table=None, step_table=None, metadata=meta, warnings=warnings,
                     source_name=display)


# Step kinds as small codes (the sign of the current + 1) and the modes kept: the per-record work is done on
# integers, and the words are made once per distinct value (_words).
_KINDS = ("discharge", "rest", "charge")
_KIND_CODE = {word: code for code, word in enumerate(_KINDS)}
_MODES = ("", "CC", "CV")
_MODE_CODE = {word: code for code, word in enumerate(_MODES) if word}
_DISCHARGE, _REST, _CHARGE = 0, 1, 2


def _word_codes(values: pd.Series, code: Callable[[str], int]) -> np.ndarray:
    """Per record the code of a text column's stripped word (a gap: code of 'nan'), judged once per distinct
    value: pandas factorises the Arrow-backed column in C."""
    ids, uniques = pd.factorize(values, use_na_sentinel=True)
    table = [code(str(word).strip()) for word in uniques] + [code("nan")]
    return np.array(table, dtype=np.int8)[ids]


def _words(codes: np.ndarray, words: tuple[str, ...]) -> pd.Series:
    """A text column (pandas' str) of a few words from their codes, built in Arrow: no Python string per record."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .values import arrow_pool

    return pd.Series(pc.take(pa.array(list(words), pa.string()), pa.array(codes), memory_pool=arrow_pool()).to_pandas())


def _read_csv(data: bytes) -> pd.DataFrame:
    """Arrow's typed CSV reader (fast); a column with text among numbers comes back as text and is then
    located cell by cell in _numbers."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from .values import arrow_pool

    first = data[:4096].split(b"\n", 1)[0]
    delimiter = "\t" if first.count(b"\t") > first.count(b",") else ","
    try:
        # One thread and the C allocator (values.arrow_pool): the threads' arenas and mimalloc's returned
        # pages cost more system time than the parse on a shared VM; the bytes are viewed, not copied.
        table = pacsv.read_csv(pa.BufferReader(pa.py_buffer(data)), memory_pool=arrow_pool(),
                               read_options=pacsv.ReadOptions(use_threads=False),  # Arrow's default blocks: same types
                               parse_options=pacsv.ParseOptions(delimiter=delimiter),
                               convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    except pa.ArrowInvalid as exc:
        raise ParseError(f"the file is not a readable CSV table ({exc})") from None
    # Column by column, each Arrow buffer freed once converted: the table is never held twice.
    return table.to_pandas(split_blocks=True, self_destruct=True, use_threads=False, memory_pool=arrow_pool())


def _numbers(values: pd.Series, header: str, section: str | None, first_row: int) -> np.ndarray:
    """Float values of one column; text that is not a number is an error naming its row and column."""
    if values.dtype.kind in "fiub":
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
    bad = numbers.isna().to_numpy() & (text != "").to_numpy() & ~text.str.lower().isin(["nan", "none", "null"]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParseError(f"'{text.iat[i]}' is not a number", sheet=section, row=i + first_row, column=header)
    return numbers.to_numpy(dtype=np.float64)


def _records(cols: dict[str, np.ndarray], warnings: list[str], section: str | None, first_row: int) -> pd.DataFrame:
    """The canonical records of the file's columns (our names, our units). Each input column is taken out of
    ``cols`` as it is used, so that inputs and records are not all held at once (10^7 records)."""
    n = len(cols["test_time_s"])
    for name in ("test_time_s", "voltage_v", "current_ma"):
        bad = ~np.isfinite(cols[name])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParseError(f"the {name.rsplit('_', 1)[0].replace('_', ' ')} value is missing or not finite",
                             sheet=section, row=i + first_row, column=_column_of(name))
    test_time, finding = repair_clock_glitches(cols.pop("test_time_s"), np.arange(n) + first_row)
    if finding:
        warnings.append(finding)
    back = np.flatnonzero(np.diff(test_time) < -_TIME_JITTER_S)
    if back.size:
        i = int(back[0]) + 1
        raise ParseError(f"test time goes backwards ({test_time[i - 1]:.3f} s -> {test_time[i]:.3f} s); the "
                         "records are out of order or two tests were merged", sheet=section, row=i + first_row,
                         column=_column_of("test_time_s"))
    current = cols.pop("current_ma")
    by_sign = (np.sign(current) + 1).astype(np.int8)  # _KINDS codes; the current is finite (checked above)
    kind = by_sign
    if "_step_type" in cols:
        given = cols.pop("_step_type")
        kind = np.where(given >= 0, given, by_sign).astype(np.int8)
        current = _signed_current(current, kind, warnings)
    mode = cols.pop("step_mode", None)
    mode = np.zeros(n, dtype=np.int8) if mode is None else mode
    record = _whole(cols.pop("record", None), lambda: np.arange(1, n + 1), "record", section, first_row)
    step = _whole(cols.pop("step", None), lambda: _derive_steps(kind, cols.get("_step_index")), "step", section,
                  first_row)
    cols.pop("_step_index", None)
    step_time = cols.pop("step_time_s", None)
    if step_time is None or np.isnan(step_time).all():
        step_time = test_time - pd.Series(test_time).groupby(step).transform("first").to_numpy()
    direction = _direction(kind)
    capacity = _running_total(direction, cols.pop("_charge_mah", None), cols.pop("_discharge_mah", None),
                              cols.pop("_step_mah", None))
    if capacity is None:
        # The first BDF drafts required no capacity: the current says how much flowed.
        capacity = _integrated(kind, current, test_time)
        warnings.append("the file has no capacity column: capacity was integrated from the current over the test "
                        "time (trapezoids within each charge or discharge)")
    energy = _running_total(direction, cols.pop("_charge_mwh", None), cols.pop("_discharge_mwh", None),
                            cols.pop("_step_mwh", None))
    if energy is None:
        energy = np.full(n, np.nan)
    test_time = np.maximum.accumulate(test_time)
    cycle = _whole(cols.pop("cycle", None), lambda: _derived_cycles(kind, current, record, test_time), "cycle", section,
                   first_row)
    unix = cols.pop("sys_time", None)
    # Unix time is an instant: keep it as UTC (the ingest converts only naive wall-clock times).
    sys_time = (pd.Series(pd.to_datetime(unix, unit="s", utc=True)) if unix is not None
                else pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]"))
    columns = {
        "record": record, "test_time_s": test_time, "step_time_s": step_time, "current_ma": current,
        "voltage_v": cols["voltage_v"], "capacity_mah": capacity, "energy_mwh": energy, "cycle": cycle,
        "step": step, "step_kind": _words(kind, _KINDS), "step_mode": _words(mode, _MODES), "sys_time": sys_time,
    }
    floats = ("test_time_s", "step_time_s", "current_ma", "voltage_v", "capacity_mah", "energy_mwh")
    # Each column once, in its final type and place (no frame of everything and then a copy of it).
    return pd.DataFrame({name: np.asarray(columns[name], dtype=np.float64) if name in floats else columns[name]
                         for name in RECORD_COLUMNS}, copy=False)


def _signed_current(current: np.ndarray, kind: np.ndarray, warnings: list[str]) -> np.ndarray:
    """Current positive while charging. Files that state the step type but use the other sign convention
    (discharge positive) or write |I| are brought to it, and say so. ``kind``: _KINDS codes."""
    expected = (kind.astype(np.float64) - 1.0)  # the sign the kind calls for: -1 discharge, 0 rest, +1 charge
    moving = (expected != 0) & (current != 0)
    if not moving.any():
        return current
    if not (current < 0).any() and (kind == _DISCHARGE).any():
        warnings.append("the step type marks discharge steps but every current is positive: discharge "
                        "currents were taken as negative (charge positive, as the BDF has it)")
        return np.where(kind == _DISCHARGE, -np.abs(current), current)
    agree = float(np.mean(np.sign(current[moving]) == expected[moving]))
    if agree < 0.5:
        warnings.append(f"the current's sign is opposite to the step type in {100 * (1 - agree):.0f} % of the "
                        "records (discharge positive): the current was negated so that charge is positive")
        return -current
    return current


def _column_of(ours: str) -> str:
    return next(c.name for c in BDF_COLUMNS if c.ours == ours)


def _whole(values, fallback, name, section, first_row) -> np.ndarray:
    if values is None or np.isnan(values).all():
        return np.asarray(fallback(), dtype=np.int64)
    if np.isnan(values).any():  # gaps take their neighbours' number (no copy of a column without gaps)
        values = pd.Series(values).ffill().bfill().to_numpy()
    odd = values != np.round(values)
    if odd.any():
        i = int(np.flatnonzero(odd)[0])
        raise ParseError(f"'{values[i]}' is not a whole number", sheet=section, row=i + first_row,
                         column=_column_of(name))
    return values.astype(np.int64)


def _derive_steps(kind: np.ndarray, step_index) -> np.ndarray:
    """A new step wherever the step kind or the program's step index changes (that index repeats every
    cycle, our step number counts on)."""
    change = np.ones(len(kind), dtype=bool)
    change[1:] = kind[1:] != kind[:-1]
    if step_index is not None:
        change[1:] |= step_index[1:] != step_index[:-1]
    return np.cumsum(change).astype(np.int64)


def _direction(kind: np.ndarray) -> np.ndarray:
    """Per record the direction the cell last moved in (rests take the one before them, leading rests the
    first one; a file of rests only, charge): the direction whose running total a record carries, as
    _KINDS codes."""
    moving = pd.Series(np.where(kind == _REST, np.nan, kind))
    return moving.ffill().bfill().fillna(_CHARGE).to_numpy().astype(np.int8)


def _running_total(direction: np.ndarray, charge, discharge, step) -> np.ndarray | None:
    """LAND's running total from BDF's per-direction (or per-step) counters, in our unit."""
    if charge is not None and discharge is not None:
        charging = direction == _CHARGE
        value = np.where(charging, charge, discharge)
        other_prev = np.where(charging, np.roll(charge, 1), np.roll(discharge, 1))
    elif step is not None:
        value = np.abs(step)
        other_prev = np.roll(value, 1)
    else:
        return None
    value = np.nan_to_num(value.astype(np.float64))
    other_prev = np.nan_to_num(other_prev.astype(np.float64))
    run = np.cumsum(np.concatenate([[True], direction[1:] != direction[:-1]]))
    start = np.concatenate([[True], run[1:] != run[:-1]])
    # The counter's value just before the run starts is its baseline (0 when it restarts, the previous
    # total when it counts on over the cycle).
    baseline = np.where(start, other_prev, np.nan)
    baseline[0] = 0.0
    baseline = pd.Series(baseline).ffill().to_numpy()
    # A counter that restarts inside a run (per step: CC then CV) adds up what it had reached.
    prev = np.roll(value, 1)
    reset = ~start & (value < prev - 1e-9)
    offset = pd.Series(np.where(reset, prev, 0.0)).groupby(run).cumsum().to_numpy()
    return np.maximum(value + offset - baseline, 0.0)


def _integrated(kind: np.ndarray, current: np.ndarray, test_time: np.ndarray) -> np.ndarray:
    """LAND's running capacity (mAh) from the current (mA) alone: trapezoids between neighbouring records of
    one direction, restarting when the direction changes (rests keep the total). ``kind``: _KINDS codes."""
    codes = np.select([kind == _CHARGE, kind == _DISCHARGE], [1, 2], 0).astype(np.int8)
    amps = np.abs(np.asarray(current, dtype=np.float64))
    flow = np.r_[0.0, 0.5 * (amps[1:] + amps[:-1]) * np.diff(test_time) / 3600.0]
    flow[1:] *= codes[1:] == codes[:-1]
    return running_totals(flow, codes)


def _derived_cycles(kind: np.ndarray, current: np.ndarray, record: np.ndarray, test_time: np.ndarray) -> np.ndarray:
    codes = kind_codes(np.array(_KINDS, dtype=object)[kind], np.asarray(current, dtype=np.float64))
    return derive_cycles(codes, channel_restarts(record, np.asarray(test_time, dtype=np.float64)))


def _partial_last_cycle(records: pd.DataFrame, first_kind: str) -> bool:
    if first_kind == "rest" or records.empty:
        return False
    last = records[records["cycle"] == records["cycle"].iat[-1]]
    second = "discharge" if first_kind == "charge" else "charge"
    return not (last["step_kind"] == second).any()


# --- writing ---------------------------------------------------------------------------------------

def bdf_header(column: BdfColumn, *, labels: bool) -> str:
    return f"{column.label} / {column.unit}" if labels else column.name


WRITTEN = ("test_time_second", "voltage_volt", "current_ampere", "unix_time_second", "cycle_count", "step_count",
           "charging_capacity_ah", "discharging_capacity_ah", "charging_energy_wh", "discharging_energy_wh",
           "record_index", "step_time_second", "step_type", "step_mode")


class BdfWriter:
    """Records (any number of batches, in order) -> BDF frames; carries the direction across batches."""

    def __init__(self, *, labels: bool = False):
        self.labels = labels
        self._last_direction: str | None = None

    def frame(self, records: pd.DataFrame) -> pd.DataFrame:
        kind = records["step_kind"].to_numpy(dtype=object)
        moving = pd.Series(np.where(kind == "rest", None, kind), dtype=object).ffill()
        if self._last_direction is not None:
            moving = moving.fillna(self._last_direction)
        direction = moving.bfill().fillna("charge").to_numpy(dtype=object)
        if len(direction):
            self._last_direction = direction[-1]
        charging = direction == "charge"
        capacity_ah = records["capacity_mah"].to_numpy(dtype=np.float64) / 1e3
        energy_wh = records["energy_mwh"].to_numpy(dtype=np.float64) / 1e3
        sys_time = pd.to_datetime(records["sys_time"])
        if sys_time.dt.tz is None:
            sys_time = sys_time.dt.tz_localize("UTC")  # stored records hold UTC
        unix_s = (sys_time - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
        values = {
            "test_time_second": records["test_time_s"].to_numpy(dtype=np.float64),
            "voltage_volt": records["voltage_v"].to_numpy(dtype=np.float64),
            "current_ampere": records["current_ma"].to_numpy(dtype=np.float64) / 1e3,
            "unix_time_second": unix_s.to_numpy(dtype=np.float64),
            "cycle_count": records["cycle"].to_numpy(dtype=np.int64),
            "step_count": records["step"].to_numpy(dtype=np.int64),
            "charging_capacity_ah": np.where(charging, capacity_ah, 0.0),
            "discharging_capacity_ah": np.where(charging, 0.0, capacity_ah),
            "charging_energy_wh": np.where(charging, energy_wh, 0.0),
            "discharging_energy_wh": np.where(charging, 0.0, energy_wh),
            "record_index": records["record"].to_numpy(dtype=np.int64),
            "step_time_second": records["step_time_s"].to_numpy(dtype=np.float64),
            "step_type": records["step_kind"].astype(str).to_numpy(dtype=object),
            "step_mode": records["step_mode"].astype(str).to_numpy(dtype=object),
        }
        return pd.DataFrame({bdf_header(_BY_NAME[k], labels=self.labels): v for k, v in values.items()})


def write_bdf(records: pd.DataFrame, target: str | os.PathLike | BinaryIO, *, fmt: str = "csv",
              labels: bool = False) -> None:
    """Write canonical records as a BDF csv or parquet file (machine-readable names unless ``labels``)."""
    frame = BdfWriter(labels=labels).frame(records)
    if fmt == "parquet":
        frame.to_parquet(target, index=False, compression="zstd")
    elif fmt == "csv":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # Arrow's writer is ~5x faster than pandas'; it writes floats exactly (shortest round-trip form).
        table = pa.Table.from_pandas(frame, preserve_index=False)
        header = (",".join(table.schema.names) + "\n").encode()
        body = io.BytesIO()
        pacsv.write_csv(table, body, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        if isinstance(target, str | os.PathLike):
            with open(target, "wb") as handle:
                handle.write(header + body.getvalue())
        else:
            target.write(header + body.getvalue())
    else:
        raise ValueError(f"unknown BDF format {fmt!r}: use 'csv' or 'parquet'")


# The reader registry's entry (cycling.parsers.registry, when it lands): how to recognise and read a BDF table.
READER = Reader(
    "assb-lab bdf", "BDF", lambda probe: sniff(probe.head[:4096], probe.name),
    lambda probe: read_bdf(io.BytesIO(probe.data), name=probe.name, progress=probe.progress), READER_VERSION,
)
