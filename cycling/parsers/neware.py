"""Neware readers: binary .nda/.ndax (fastnda, NewareNDA as fallback) and BTS xlsx/xls/csv exports."""

from __future__ import annotations

import csv
import io
import os
import tempfile

import numpy as np
import pandas as pd

from readers.errors import ParseError, display_name
from readers.text import decode_text

from .batches import NotStreamable, csv_batches, csv_names, gather, opened, read_bytes
from .canonical import Counter, build_records, kinds_from_codes, summarise, unit_factor
from .crosscheck import cross_check
from .export import Export
from .probe import Probe, Reader
from .sniff import check_ole2, check_zip
from .tables import Table, read_delimited, sheet_table, text_head

# 1.1.0: each of two direction counters (Chg./DChg. Cap., NewareNDA's charge/discharge) counts only on
# records of its direction: a stray tick of the idle counter at a step's start is not charge that flowed.
# 1.2.0: the layered 'general report' csv (cycle, step and record layers in one file) is read.
VERSION = "1.2.0"


# --- .nda / .ndax --------------------------------------------------------------------------------

def _is_binary(probe: Probe) -> bool:
    return probe.fmt == "nda" or probe.zip_kind == "ndax"


def read_binary(probe: Probe) -> Export:
    """fastnda (Rust-backed, BSD-3) first; NewareNDA (BSD-3) when fastnda cannot read the file version."""
    suffix = ".ndax" if probe.fmt == "zip" else ".nda"
    with tempfile.TemporaryDirectory(prefix="assb-nda-") as folder:
        # Both libraries take a path only.
        path = os.path.join(folder, f"upload{suffix}")
        with open(path, "wb") as handle:
            handle.write(probe.data)
        probe.progress(0.1)
        try:
            frame, reader, version, meta = _fastnda(path)
        except Exception as first:  # noqa: BLE001 - any failure of the first library: try the second
            try:
                frame, reader, version, meta = _newarenda(path)
            except Exception as second:  # noqa: BLE001
                raise ParseError(f"this Neware {suffix} file cannot be read (fastnda: {_short(first)}; "
                                 f"NewareNDA: {_short(second)})") from None
    probe.progress(0.7)
    # ``frame``: the library's columns as numpy arrays (no pandas frame in between: on a file of a few
    # thousand records its set-up cost more than the read).
    rows = np.arange(1, len(frame["record"]) + 1)
    kind, mode = kinds_from_codes(frame["step_type"], frame["current_ma"])
    stamps = pd.to_datetime(frame["unix_time_s"], unit="s", errors="coerce")
    if meta.get("start_time") is None and len(stamps):
        meta["start_time"] = stamps[0].isoformat()
    meta.update(format=suffix.lstrip("."), units={"current": "mA", "capacity": "mAh", "energy": "mWh"})
    records = build_records(
        sheet=None, rows=rows, test_time_s=frame["total_time_s"], step_time_s=frame["step_time_s"],
        current_ma=frame["current_ma"], voltage_v=frame["voltage_v"],
        capacity=_counters(frame, "capacity_mah"), energy=_counters(frame, "energy_mwh"),
        kind=kind, mode=mode, record=frame["record"], cycle=frame["cycle"], step=frame["step"],
        sys_time=stamps.to_numpy(dtype="datetime64[ns]"), metadata=meta)
    summarise(records, meta)
    return Export(records=records, cycle_table=None, step_table=None, metadata=meta, instrument="Neware",
                  reader=reader, reader_version=version)


def _counters(frame: dict, name: str) -> list[Counter]:
    """fastnda's one counter per step, or NewareNDA's two (charge, discharge), each counting on its own
    direction's records only."""
    if name in frame:
        return [Counter(frame[name], frame["step"])]
    return [Counter(frame[f"charge_{name}"], frame["step"], direction="charge"),
            Counter(frame[f"discharge_{name}"], frame["step"], direction="discharge")]


# fastnda's column -> ours (numbers as float64; counters as they come)
_FASTNDA = {"record": "index", "voltage_v": "voltage_V", "current_ma": "current_mA", "unix_time_s": "unix_time_s",
            "step_time_s": "step_time_s", "total_time_s": "total_time_s", "cycle": "cycle_count",
            "step": "step_count", "capacity_mah": "capacity_mAh", "energy_mwh": "energy_mWh"}
_FLOATS = ("voltage_v", "current_ma", "unix_time_s", "step_time_s", "total_time_s", "capacity_mah", "energy_mwh")


def _fastnda(path: str):
    import fastnda

    raw = fastnda.read(path, cycle_mode="auto")
    # Column by column from polars to numpy (no pandas frame of the whole table).
    frame = {ours: raw[theirs].to_numpy() for ours, theirs in _FASTNDA.items()}
    frame.update({name: frame[name].astype(np.float64) for name in _FLOATS})
    frame["step_type"] = _polars_codes(raw["step_type"])
    meta = {}
    try:
        info = _ndax_metadata(path) if path.endswith(".ndax") else fastnda.read_metadata(path) or {}
        test = (info.get("TestInfo") or {}).get("TestInfo") or {}
        meta = {"software": (info.get("VersionInfo") or {}).get("SortVersion"),
                "channel": "-".join(str(test[k]) for k in ("DevID", "UnitID", "ChlID") if k in test) or None,
                "start_time": test.get("StartTime"), "schedule": test.get("StepName")}
    except Exception:  # noqa: BLE001 - the metadata is a nicety; the records are what counts
        meta = {}
    return frame, "fastnda", fastnda.version if isinstance(fastnda.version, str) else "1.3.1", meta


def _polars_codes(column):
    """A polars categorical as (codes from 0, words) for kinds_from_codes: its physical codes mapped through a
    small table (converting the column to pandas costs more than the rest of a small file's kinds)."""
    import polars as pl

    if column.dtype != pl.Categorical or column.null_count():
        return column.to_pandas()
    physical = column.to_physical().to_numpy()
    distinct = column.unique(maintain_order=True)
    codes = distinct.to_physical().to_numpy()
    table = np.zeros(int(codes.max()) + 1 if len(codes) else 1, dtype=np.int64)
    table[codes] = np.arange(len(codes))
    return table[physical], distinct.cast(pl.String).to_list()


def _ndax_metadata(path: str) -> dict:
    """What fastnda.read_metadata gives of an .ndax that this reader uses: the attributes of VersionInfo.xml's
    and TestInfo.xml's config (and of its TestInfo element), read with ElementTree alone. fastnda turns
    every XML file of the archive into a dict through xmltodict, which cost more than reading the records."""
    import zipfile
    from xml.etree import ElementTree

    info = {}
    with zipfile.ZipFile(path) as archive:
        names = {name.rsplit("/", 1)[-1]: name for name in archive.namelist()}
        for part in ("VersionInfo", "TestInfo"):
            if f"{part}.xml" not in names:
                continue
            config = ElementTree.fromstring(archive.read(names[f"{part}.xml"]).decode(errors="ignore")).find("config")
            if config is None:
                continue
            info[part] = dict(config.attrib)
            info[part].update({child.tag: dict(child.attrib) for child in config if child.tag == "TestInfo"})
    return info


def _newarenda(path: str):
    import NewareNDA

    raw = NewareNDA.read(path, cycle_mode="auto", log_level="ERROR")
    # NewareNDA splits the capacity into charge and discharge counters (each per step): kept apart (_counters).
    counters = {f"{direction}_{ours}": raw[f"{direction.title()}_{theirs}"].to_numpy(dtype=np.float64)
                for direction in ("charge", "discharge")
                for ours, theirs in (("capacity_mah", "Capacity(mAh)"), ("energy_mwh", "Energy(mWh)"))}
    stamps = pd.to_datetime(raw["Timestamp"]).to_numpy(dtype="datetime64[ns]")
    unix = (stamps - np.datetime64("1970-01-01T00:00:00")) / np.timedelta64(1, "s")
    step = raw["Step"].to_numpy()
    step_time = raw["Time"].to_numpy(dtype=np.float64)
    # NewareNDA gives the step time; the test time is the sum of the finished steps plus it.
    last = pd.Series(step_time).groupby(step).transform("max").to_numpy()
    first_of_step = np.r_[True, step[1:] != step[:-1]]
    offset = np.cumsum(np.where(first_of_step, np.r_[0.0, last[:-1]], 0.0))
    frame = {
        "record": raw["Index"].to_numpy(), "voltage_v": raw["Voltage"].to_numpy(dtype=np.float64),
        "current_ma": raw["Current(mA)"].to_numpy(dtype=np.float64), "unix_time_s": unix,
        "step_time_s": step_time, "total_time_s": offset + step_time, "cycle": raw["Cycle"].to_numpy(),
        "step": step, "step_type": raw["Status"].astype(str).to_numpy(dtype=object),
        **counters,
    }
    return frame, "NewareNDA", getattr(NewareNDA, "__version__", "2026.6.11"), {}


# --- BTS xlsx / xls / csv exports ------------------------------------------------------------------

_RECORD_SHEETS = ("detail_", "record")


def _is_workbook(probe: Probe) -> bool:
    lowered = [s.lower() for s in probe.sheet_names]
    return any(s.startswith(("detail_", "statis_", "cycle_")) for s in lowered) or (
        "record" in lowered and ("cycle" in lowered or "step" in lowered or len(lowered) == 1)
        and _record_sheet_is_neware(probe))


def _record_sheet_is_neware(probe: Probe) -> bool:
    cells = _sheet_cells(probe, "record", nrows=3)
    header = " ".join(str(c) for c in cells.iloc[0].tolist()) if len(cells) else ""
    return "Cycle Index" in header and "Step Index" in header or "DataPoint" in header


def _sheet_cells(probe: Probe, name: str, nrows: int | None = None) -> pd.DataFrame:
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(probe.data))
        real = next(s for s in book.sheet_names if s.lower() == name.lower())
        rows = book.get_sheet_by_name(real).to_python(skip_empty_area=False, nrows=nrows)
    except BaseException as exc:  # calamine's own errors, and pyo3 panics on broken input
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ParseError(f"the sheet cannot be read ({type(exc).__name__}: {str(exc)[:160]})", sheet=name) from None
    return pd.DataFrame(rows, dtype=object)


def read_workbook(probe: Probe) -> Export:
    if probe.fmt == "zip":
        check_zip(probe.data)
    else:
        check_ole2(probe.data)
    names = probe.sheet_names
    details = [s for s in names if s.lower().startswith("detail_") or s.lower() == "record"]
    if not details:
        raise ParseError(f"this Neware workbook has no record sheet (Detail_* or record); its sheets are "
                         f"{', '.join(names)}. Export it from BTSDA with the record (detail) layer included")
    tables = []
    for sheet in details:
        tables.append(sheet_table(_sheet_cells(probe, sheet), header_row=0, sheet=sheet))
        probe.progress(0.1 + 0.5 * len(tables) / len(details))
    meta = {"format": "xlsx" if probe.fmt == "zip" else "xls", "sheets": names}
    info = [s for s in names if s.lower() == "info"]
    if info:
        cells = _sheet_cells(probe, info[0])
        meta["info"] = [str(v) for v in cells.iloc[:, 0].tolist() if v not in (None, "")][:8]
        channel = [s.split("_", 1)[1] for s in details if "_" in s]
        if channel:
            meta["channel"] = channel[0]
    records = _records(tables, meta)
    cycle_sheets = [s for s in names if s.lower().startswith("cycle_") or s.lower() == "cycle"]
    cycle_table = _cycle_table(sheet_table(_sheet_cells(probe, cycle_sheets[0]), header_row=0,
                                           sheet=cycle_sheets[0])) if cycle_sheets else None
    summarise(records, meta)
    return Export(records=records, cycle_table=cycle_table, step_table=None, metadata=meta, instrument="Neware",
                  reader="assb-lab neware-bts", reader_version=VERSION)


# The record table's columns, each by its aliases (the first found is read): _records reads them, the
# streamed csv read picks the columns it reads by them.
_COLUMNS = {
    "current": ("Current", "Cur"), "voltage": ("Voltage",), "step": ("Step Index", "Step", "Step ID"),
    "cycle": ("Cycle Index", "Cycle", "Cycle ID"), "stamps": ("Absolute Time", "Date", "Realtime", "System Time"),
    "step_time": ("Time", "Relative Time", "Step Time"), "test_time": ("Total Time", "Cumulative Time", "Test Time"),
    "charge": ("Chg. Cap.", "Charge Capacity"), "discharge": ("DChg. Cap.", "Discharge Capacity"),
    "capacity": ("Capacity", "CapaCity"), "charge_energy": ("Chg. Energy", "Charge Energy"),
    "discharge_energy": ("DChg. Energy", "Discharge Energy"), "energy": ("Energy",),
    "state": ("Step Type", "Status", "State"),
    "record": ("DataPoint", "Record Index", "Record ID", "Record", "Data Point"),
}


def _records(tables: list[Table], meta: dict) -> pd.DataFrame:
    if len(tables) > 1:
        frame = pd.concat([t.frame for t in tables], ignore_index=True)
        table = Table(frame=frame, rows=np.concatenate([t.rows for t in tables]), sheet=tables[0].sheet)
    else:
        table = tables[0]

    def find(column: str):
        return table.find(*_COLUMNS[column])

    current = table.numbers(table.require("current", *_COLUMNS["current"]), "current")
    voltage = table.numbers(table.require("voltage", *_COLUMNS["voltage"]), "voltage")
    step_hit = find("step")
    step = table.numbers(step_hit) if step_hit else None
    cycle_hit = find("cycle")
    stamps_hit = find("stamps")
    step_time_hit = find("step_time")
    step_time = table.seconds(step_time_hit, group=step) if step_time_hit else None
    test_hit = find("test_time")
    test_time = table.seconds(test_hit) if test_hit is not None else None
    stamps = table.stamps(stamps_hit, test_time) if stamps_hit else None
    if test_time is None and stamps is not None and not np.isnat(stamps).any():
        test_time = (stamps - stamps[0]) / np.timedelta64(1, "s")
    elif test_time is None:
        raise ParseError("the record table has neither a total time nor an absolute time column",
                         sheet=table.sheet)
    groups = step if step is not None else None
    charge, discharge = find("charge"), find("discharge")
    if charge and discharge:
        capacity = [Counter(table.numbers(charge, "capacity"), groups, direction="charge"),
                    Counter(table.numbers(discharge, "capacity"), groups, direction="discharge")]
    else:
        capacity = [Counter(table.numbers(table.require("capacity", *_COLUMNS["capacity"]), "capacity"), groups)]
    e_charge, e_discharge = find("charge_energy"), find("discharge_energy")
    if e_charge and e_discharge:
        energy = [Counter(table.numbers(e_charge, "energy"), groups, direction="charge"),
                  Counter(table.numbers(e_discharge, "energy"), groups, direction="discharge")]
    else:
        hit = find("energy")
        energy = [Counter(table.numbers(hit, "energy"), groups)] if hit else None
    state = find("state")
    kind, mode = (kinds_from_codes(state[0], current) if state else (None, None))
    record_hit = find("record")
    meta["units"] = table.units
    return build_records(
        sheet=table.sheet, rows=table.rows, test_time_s=test_time, step_time_s=step_time, current_ma=current,
        voltage_v=voltage, capacity=capacity, energy=energy, kind=kind, mode=mode,
        record=table.numbers(record_hit) if record_hit else None,
        cycle=table.numbers(cycle_hit) if cycle_hit else None, step=step, sys_time=stamps, metadata=meta)


def _cycle_table(table: Table) -> pd.DataFrame | None:
    cycle = table.find("ToTal of Cycle", "Cycle Index", "Cycle", "Cycle ID")
    charge = table.find("Capacity of charge", "Chg. Cap.", "Charge Capacity", "Cap_Chg", "Chg. Cap")
    discharge = table.find("Capacity of discharge", "DChg. Cap.", "Discharge Capacity", "Cap_DChg", "DChg. Cap")
    if cycle is None or charge is None or discharge is None:
        return None
    out = pd.DataFrame({
        "cycle": table.numbers(cycle).astype(np.int64),
        "charge_mah": table.numbers(charge, "capacity"),
        "discharge_mah": table.numbers(discharge, "capacity"),
    })
    efficiency = table.find("Chg.-DChg. Eff", "Cycle Life", "Efficiency")
    if efficiency is not None and "Cycle Life" not in efficiency[1]:
        out["ce_percent"] = table.numbers(efficiency)
    return out


def _is_csv(probe: Probe) -> bool:
    return probe.text_kind is not None and probe.text_kind[0] == "Neware"


def read_csv(probe: Probe) -> Export:
    lines, text, encoding = text_head(probe.data)
    layers = _layer_headers(lines)
    if layers is not None:
        return _read_layered(probe, layers)
    header_line = _header_line(lines)
    if header_line is None:
        raise ParseError("this Neware csv has no record header line (with Cycle Index, Voltage, Current) in its "
                         "first 50 lines, nor the three layer headers of a 'general report' (Cycle ID; Step ID; "
                         "Record ID)", sheet="text")
    table = read_delimited(text, header_line=header_line, sep=_separator(lines[header_line]), sheet="text",
                           data=probe.data, encoding=encoding)
    return _csv_export(table, encoding)


def _header_line(lines: list[str]) -> int | None:
    return next((i for i, line in enumerate(lines[:50]) if ("Cycle" in line and ("Voltage" in line or "Volt" in line))),
                None)


def _separator(line: str) -> str:
    return "\t" if line.count("\t") > line.count(",") else ","


def _csv_export(table: Table, encoding: str) -> Export:
    meta = {"format": "csv", "encoding": encoding}
    records = _records([table], meta)
    summarise(records, meta)
    return Export(records=records, cycle_table=None, step_table=None, metadata=meta, instrument="Neware",
                  reader="assb-lab neware-csv", reader_version=VERSION)


# --- the record csv of a file on disk, in batches --------------------------------------------------------

_MAX_FILE_BYTES = 4 * 1024**3
_HEAD_BYTES = 65536  # what text_head judges the encoding and the header by
_BLOCK_BYTES = 1 << 22  # as read_delimited's Arrow read: the first block fixes each column's type


def read_csv_file(source, *, name: str | None = None, progress=None) -> Export:
    """A Neware record csv from a path or binary file. On disk and plain UTF-8 it is read in batches, only
    the columns _records reads (cycling.parsers.batches): a 10^7-record file's bytes and its every column as
    text are never held. Anything else (a layered report, another encoding, a stream, a file the batches
    cannot read as read_delimited would) is read whole by read_csv: the same records, or the same error."""
    display = name or display_name(source)
    report = progress or (lambda fraction: None)
    table, encoding = _streamed_table(source, report)
    if table is None:
        return read_csv(Probe(data=read_bytes(source, max_bytes=_MAX_FILE_BYTES), name=display, progress=report))
    report(0.4)
    try:
        return _csv_export(table, encoding)
    except ParseError:  # the whole-file read words the error (and locates it) as it always has
        del table  # a file object was put back where it was found
        return read_csv(Probe(data=read_bytes(source, max_bytes=_MAX_FILE_BYTES), name=display, progress=report))


def _streamed_table(source, report) -> tuple[Table | None, str]:
    """(record table of only the columns _records reads, encoding), as read_delimited's Arrow read makes it
    from the whole file; (None, '') when the batches cannot make that table (the file is then read whole)."""
    import pyarrow as pa

    with opened(source, max_bytes=_MAX_FILE_BYTES) as found:
        if found is None:
            return None, ""
        handle, start, size = found
        head = handle.read(_HEAD_BYTES)
        handle.seek(start)
        if not isinstance(head, bytes) or not head.strip():
            return None, ""
        lines, text, encoding = text_head(head)
        header_line = _header_line(lines)
        if text is not None or encoding not in ("utf-8", "utf-8-sig") or header_line is None or _layer_headers(lines):
            return None, ""
        offset = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        for _ in range(header_line):
            offset = head.find(b"\n", offset) + 1
            if offset == 0:
                return None, ""
        try:
            handle.seek(start + offset)
            columns = _streamed_columns(handle, _separator(lines[header_line]), lambda: (handle.tell() - start) / size,
                                        report)
        except (pa.ArrowException, NotStreamable, ValueError, OSError):
            columns = None
        handle.seek(start)
        if not columns:
            return None, ""
        frame = pd.DataFrame({name: values if isinstance(values, np.ndarray) else values.to_pandas()
                              for name, values in columns.items()}, copy=False)
        del columns
        rows = np.arange(len(frame)) + header_line + 2
        return Table(frame=frame, rows=rows, sheet="text"), encoding


def _streamed_columns(handle, sep: str, fraction, report) -> dict | None:
    """The columns _records reads, batch by batch (None: not a table the batches read as read_delimited)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from .tables import NA_TEXT

    parse = pacsv.ParseOptions(delimiter=sep, ignore_empty_lines=False)
    arrow_names = csv_names(handle, parse_options=parse)
    # read_delimited's names: what a trailing separator leaves is 'Unnamed: k'; repeated names go to pandas.
    names = [name if name.strip() else f"Unnamed: {i}" for i, name in enumerate(arrow_names)]
    if len(set(names)) != len(names):
        return None
    wanted, clocks = _wanted(names)
    if not wanted:  # (Arrow reads every column of an empty include list) _records refuses it, in its words
        return None
    reader = csv_batches(handle, parse_options=parse, block_bytes=_BLOCK_BYTES, convert_options=pacsv.ConvertOptions(
        strings_can_be_null=True, null_values=NA_TEXT, timestamp_parsers=["%no-such-format"],
        include_columns=wanted))
    integers = [name for name in wanted if pa.types.is_integer(reader.schema.field(name).type)]

    def batches():
        for batch in reader:
            # A row with only gaps in our columns: read_delimited drops it if its other cells are empty too.
            empty = np.ones(batch.num_rows, dtype=bool)
            for column in batch.columns:
                if not column.null_count:
                    break
                empty &= column.is_null().to_numpy(zero_copy_only=False)
            else:
                if empty.any():
                    raise NotStreamable
            yield batch

    columns = gather(batches(), {name: (name, _clock_values if name in clocks else _batch_values) for name in wanted},
                     fraction, report)
    for name in integers:  # whole numbers stay int64 unless a gap made them float, as in the whole-file table
        if not np.isnan(columns[name]).any():
            columns[name] = columns[name].astype(np.int64)
    return {name: columns[name] for name in wanted if name in columns}


def _batch_values(values):
    """Numbers as float64 (gaps NaN); text (times, stamps, step types) as the Arrow chunk, turned into the
    whole-file table's pandas column once at the end."""
    import pyarrow as pa

    if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return values


def _clock_values(values):
    """A time column's h:min:s text as seconds batch by batch (Table.seconds' own parse, cell by cell the
    same; 8 bytes a record instead of ~18 of text); text it does not read goes to the whole-file read."""
    import pyarrow as pa

    from .tables import _clock_seconds

    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return _batch_values(values)
    seconds = _clock_seconds(values.to_pandas())
    if seconds is None:
        raise NotStreamable
    return seconds


def _wanted(names: list[str]) -> tuple[list[str], set[str]]:
    """(the columns _records reads, by the first alias found of each as _records looks them up; those of them
    that are times in seconds: Table.seconds takes their clock text as seconds, unscaled)."""
    table = Table(frame=pd.DataFrame(columns=names), rows=np.empty(0, dtype=np.int64))
    hits = {column: table.find(*aliases) for column, aliases in _COLUMNS.items()}
    found = {hit[0].name for hit in hits.values() if hit is not None}
    clocks = set()
    for column in ("step_time", "test_time"):
        if hits[column] is None:
            continue
        values, raw, unit = hits[column]
        try:
            # As Table.seconds scales numbers: seconds given as numbers must come out as they go in.
            factor = unit_factor(None if unit is not None and ":" in unit else unit, "time", column=raw, default="s")
        except ParseError:
            continue
        if factor == 1.0:
            clocks.add(values.name)
    return [name for name in names if name in found], clocks


# --- the layered 'general report' csv ----------------------------------------------------------------------
# BTSDA writes the cycle layer's rows from the first column, the step layer's one column in, the record
# layer's two columns in; a header line of each layer sits at the top in the same places.

def _layer_headers(lines: list[str]) -> tuple[int, str, list[list[str]]] | None:
    """(line of the record header, separator, [cycle, step, record] header cells) of a layered report; None
    for a plain record csv."""
    for i in range(min(len(lines) - 2, 20)):
        sep = "\t" if lines[i].count("\t") > lines[i].count(",") else ","
        cells = [[c.strip() for c in next(csv.reader([lines[i + k]], delimiter=sep))] for k in range(3)]
        cycle, step, record = cells
        if (cycle and cycle[0] and "cycle" in cycle[0].lower() and len(step) > 1 and not step[0]
                and "step" in step[1].lower() and len(record) > 2 and not record[0] and not record[1]
                and "record" in record[2].lower()):
            return i + 2, sep, cells
    return None


def _read_layered(probe: Probe, layers: tuple[int, str, list[list[str]]]) -> Export:
    """Records from the record layer, each given the cycle and step of the layer rows above it; the cycle
    layer becomes the cycle table the records are cross-checked against."""
    header_line, sep, (cycle_header, step_header, record_header) = layers
    text, encoding = decode_text(probe.data)
    body = text.splitlines()[header_line + 1:]
    width = max([len(cycle_header), len(step_header), len(record_header)]
                + [line.count(sep) + 1 for line in body[:5000]])
    try:
        cells = pd.read_csv(io.StringIO("\n".join(body)), sep=sep, header=None, names=range(width), dtype=str,
                            skip_blank_lines=False, keep_default_na=False, index_col=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise ParseError(f"the layers cannot be split into columns ({str(exc).splitlines()[0][:200]})",
                         sheet="text") from None
    lines = np.arange(len(cells)) + header_line + 2  # as a text editor numbers them
    filled = [cells[k].str.strip().ne("").to_numpy() for k in range(3)]
    is_cycle = filled[0]
    is_step = ~filled[0] & filled[1]
    is_record = ~filled[0] & ~filled[1] & filled[2]
    if not is_record.any():
        raise ParseError("this layered Neware report has no record layer (rows starting two columns in): export "
                         "it from BTSDA with the record (detail) layer ticked", sheet="text")

    def layer(mask: np.ndarray, header: list[str], skip: int) -> pd.DataFrame:
        names = [h or f"column {k + 1}" for k, h in enumerate(header)][skip:]
        frame = cells.loc[mask, list(range(skip, skip + len(names)))].replace({"": None})
        frame.columns = names
        return frame.reset_index(drop=True)

    # Each record takes the cycle and step of the last cycle and step rows above it.
    step_type = next((h for h in step_header[1:] if h and ("name" in h.lower() or "type" in h.lower())), None)
    cycle_of = pd.Series(np.where(is_cycle, cells[0], None)).ffill().to_numpy()
    step_of = pd.Series(np.where(is_step, cells[1], None)).ffill().to_numpy()
    records = layer(is_record, record_header, 2)
    records["Cycle Index"] = cycle_of[is_record]
    records["Step Index"] = step_of[is_record]
    if step_type is not None:
        k = step_header.index(step_type)
        records["Step Type"] = pd.Series(np.where(is_step, cells[k], None)).ffill().to_numpy()[is_record]
    table = Table(frame=records.infer_objects(), rows=lines[is_record], sheet="record layer")
    meta = {"format": "neware-layered-csv", "encoding": encoding, "layers": ["cycle", "step", "record"]}
    warnings: list[str] = []
    out = _records([table], meta)
    cycle_table = _cycle_table(Table(frame=layer(is_cycle, cycle_header, 0).infer_objects(), rows=lines[is_cycle],
                                     sheet="cycle layer"))
    if cycle_table is not None:
        warnings.extend(cross_check(out, cycle_table, instrument="Neware"))
    summarise(out, meta)
    return Export(records=out, cycle_table=cycle_table, step_table=None, metadata=meta, warnings=warnings,
                  instrument="Neware", reader="assb-lab neware-csv", reader_version=VERSION)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


# A file on disk reaches read_csv_file (cycling.parsers.registry's streamed read), the bytes read_csv.
CSV_READER = Reader("assb-lab neware-csv", "Neware", _is_csv, read_csv, VERSION)
READERS = [
    Reader("assb-lab neware-nda (fastnda, NewareNDA fallback)", "Neware", _is_binary, read_binary, VERSION),
    Reader("assb-lab neware-bts", "Neware", lambda p: p.fmt in ("zip", "ole2") and _is_workbook(p),
           read_workbook, VERSION),
    CSV_READER,
]
