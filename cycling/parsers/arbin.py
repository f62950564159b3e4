"""Arbin readers: MITS Pro 7/8 xlsx workbooks (Global_Info, Channel_*, Statistics_*) and csv dumps."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd

from readers.errors import ParseError

from .canonical import Counter, build_records, summarise
from .export import Export
from .probe import Probe, Reader
from .sniff import check_ole2, check_zip
from .tables import Table, read_delimited, sheet_table, text_head

# 1.1.0: one run per channel of a multi-channel workbook ('Channel_1-053', 'Channel_1-059'); Excel date
# cells in Date_Time; cycles derived from the current when Cycle_Index is empty.
VERSION = "1.1.0"
# 'Channel_11_1' (channel 11, its first sheet), 'Channel_1-053' (unit 1, channel 53), 'Channel_1-053_2'.
_CHANNEL = re.compile(r"^channel_?(\d+(?:-\d+)?)(?:_(\d+))?$", re.I)


def _is_workbook(probe: Probe) -> bool:
    lowered = [s.lower() for s in probe.sheet_names]
    return any(_CHANNEL.match(s) for s in lowered) and (
        any(s.startswith(("global_info", "statistics")) for s in lowered) or len(lowered) == 1)


def _cells(probe: Probe, sheet: str) -> pd.DataFrame:
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(probe.data))
        return pd.DataFrame(book.get_sheet_by_name(sheet).to_python(skip_empty_area=False), dtype=object)
    except BaseException as exc:  # calamine's own errors, and pyo3 panics on broken input
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise ParseError(f"the sheet cannot be read ({type(exc).__name__}: {str(exc)[:160]})", sheet=sheet) from None


def read_workbook(probe: Probe) -> Export:
    """One run per channel: a workbook of several channels gives an Export whose ``runs`` holds each."""
    if probe.fmt == "zip":
        check_zip(probe.data)
    else:
        check_ole2(probe.data)
    names = probe.sheet_names
    channels: dict[str, list[str]] = {}
    for sheet in names:
        match = _CHANNEL.match(sheet)
        if match:
            channels.setdefault(match.group(1), []).append(sheet)
    info = _global_info(_cells(probe, "Global_Info")) if "Global_Info" in names else {}
    runs = []
    for n, (channel, sheets) in enumerate(channels.items()):
        runs.append(_channel_run(probe, names, channel, sheets, info, len(channels)))
        probe.progress(0.1 + 0.8 * (n + 1) / len(channels))
    first = runs[0]
    if len(runs) > 1:
        first.runs = runs
    return first


def _channel_run(probe: Probe, names: list[str], channel: str, sheets: list[str], info: dict,
                 n_channels: int) -> Export:
    meta = {"format": "xlsx" if probe.fmt == "zip" else "xls", "sheets": names, "channel": channel, **info}
    if n_channels > 1:
        meta["channels_in_file"] = n_channels
    tables = [sheet_table(_cells(probe, sheet), header_row=0, sheet=sheet) for sheet in sheets]
    frame = pd.concat([t.frame for t in tables], ignore_index=True) if len(tables) > 1 else tables[0].frame
    table = Table(frame=frame, rows=np.concatenate([t.rows for t in tables]), sheet=sheets[0])
    warnings: list[str] = []
    records = _records(table, meta, warnings)
    # 'Statistics_1-053' beside 'Channel_1-053'; a one-channel workbook's 'Statistics_11' (or any) is its own.
    stats = [s for s in names if s.lower().startswith("statistics")]
    own = [s for s in stats if s.lower().removeprefix("statistics").lstrip("_- ").startswith(channel.lower())]
    stats = own or (stats if n_channels == 1 else [])
    cycle_table = _cycle_table(sheet_table(_cells(probe, stats[0]), header_row=0, sheet=stats[0])) if stats else None
    summarise(records, meta)
    return Export(records=records, cycle_table=cycle_table, step_table=None, metadata=meta, warnings=warnings,
                  instrument="Arbin", reader="assb-lab arbin-xlsx", reader_version=VERSION)


def _global_info(cells: pd.DataFrame) -> dict:
    """The row under the 'Channel | Start DateTime | ... | Software Version' header."""
    for i in range(min(len(cells) - 1, 10)):
        header = [str(v).strip() for v in cells.iloc[i].tolist()]
        if "Start DateTime" in header or "Software Version" in header:
            values = cells.iloc[i + 1].tolist()
            row = {h: v for h, v in zip(header, values, strict=False) if h and v not in (None, "")}
            out = {"software": row.get("Software Version"), "schedule": row.get("Schedule File Name")}
            if row.get("Start DateTime") is not None:
                out["start_time"] = str(row["Start DateTime"])
            return {k: str(v) for k, v in out.items() if v is not None}
    return {}


def _records(table: Table, meta: dict, warnings: list[str]) -> pd.DataFrame:
    # Arbin's own units are A, Ah, Wh, s: a header without a unit (TRI csv dumps) carries them.
    current = table.numbers(table.require("current", "Current"), "current", default_unit="A")
    voltage = table.numbers(table.require("voltage", "Voltage"), "voltage", default_unit="V")
    test_time = table.seconds(table.require("test time", "Test Time", "Test_Time"))
    step_hit = table.find("Step Index", "Step_Index")
    step = table.numbers(step_hit) if step_hit else None
    step_hit_time = table.find("Step Time", "Step_Time")
    cycle_hit = table.find("Cycle Index", "Cycle_Index")
    cycle = table.numbers(cycle_hit) if cycle_hit else None
    if cycle is not None and np.isnan(cycle).all():
        # Some exports leave Cycle_Index (and Step_Index) empty: the current's direction says what each
        # record is, and the lab's one cycle rule numbers the cycles (build_records).
        warnings.append(f"the {cycle_hit[1]} column is empty: cycles were derived from the current's direction "
                        "(a charge and the discharge after it, or the reverse, make one cycle)")
        cycle = None
    if step is not None and np.isnan(step).all():
        step = None
    charge = table.require("charge capacity", "Charge Capacity", "Charge_Capacity")
    discharge = table.require("discharge capacity", "Discharge Capacity", "Discharge_Capacity")
    # Arbin's counters run over a cycle and restart with the next one; each counts one direction (the
    # discharge counter can tick at a charge's first record: that is not charge).
    capacity = [Counter(table.numbers(charge, "capacity", default_unit="Ah"), cycle, direction="charge"),
                Counter(table.numbers(discharge, "capacity", default_unit="Ah"), cycle, direction="discharge")]
    e_charge, e_discharge = table.find("Charge Energy", "Charge_Energy"), table.find("Discharge Energy",
                                                                                      "Discharge_Energy")
    energy = ([Counter(table.numbers(e_charge, "energy", default_unit="Wh"), cycle, direction="charge"),
               Counter(table.numbers(e_discharge, "energy", default_unit="Wh"), cycle, direction="discharge")]
              if e_charge and e_discharge else None)
    stamp_hit = table.find("Date Time", "Date_Time", "DateTime")
    record_hit = table.find("Data Point", "Data_Point")
    meta["units"] = table.units
    return build_records(
        sheet=table.sheet, rows=table.rows, test_time_s=test_time,
        step_time_s=table.seconds(step_hit_time, group=step) if step_hit_time else None,
        current_ma=current, voltage_v=voltage, capacity=capacity, energy=energy,
        record=table.numbers(record_hit) if record_hit else None, cycle=cycle, step=step,
        sys_time=table.stamps(stamp_hit, test_time) if stamp_hit else None, metadata=meta)


def _cycle_table(table: Table) -> pd.DataFrame | None:
    cycle = table.find("Cycle Index", "Cycle_Index")
    charge = table.find("Charge Capacity", "Charge_Capacity")
    discharge = table.find("Discharge Capacity", "Discharge_Capacity")
    if cycle is None or charge is None or discharge is None:
        return None
    return pd.DataFrame({"cycle": table.numbers(cycle).astype(np.int64),
                         "charge_mah": table.numbers(charge, "capacity", default_unit="Ah"),
                         "discharge_mah": table.numbers(discharge, "capacity", default_unit="Ah")})


def _is_csv(probe: Probe) -> bool:
    return probe.text_kind is not None and probe.text_kind[0] == "Arbin"


def read_csv(probe: Probe) -> Export:
    lines, text, encoding = text_head(probe.data)
    header_line = next((i for i, line in enumerate(lines[:20]) if re.search(r"Data[_ ]Point|Test[_ ]Time", line)),
                       None)
    if header_line is None:
        raise ParseError("no Arbin header line (Data_Point, Test_Time, ...) in the first 20 lines", sheet="text")
    first = lines[header_line]
    sep = "\t" if first.count("\t") > first.count(",") else ","
    table = read_delimited(text, header_line=header_line, sep=sep, sheet="text", data=probe.data,
                           encoding=encoding)
    meta = {"format": "csv", "encoding": encoding}
    warnings: list[str] = []
    records = _records(table, meta, warnings)
    summarise(records, meta)
    return Export(records=records, cycle_table=None, step_table=None, metadata=meta, warnings=warnings,
                  instrument="Arbin", reader="assb-lab arbin-csv", reader_version=VERSION)


# --- .res: the MITS Pro Access database -----------------------------------------------------------------------
RES_VERSION = "1.0.0"
_OLE_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")  # Access dates: days since this


def read_res(probe: Probe) -> Export:
    """Arbin's native .res file (an Access database) through access-parser (Apache-2.0, pure Python; no ODBC
    or mdbtools): Channel_Normal_Table's records, one run per Test_ID, Global_Table's test facts."""
    normal, glob = _res_tables(probe.data)
    probe.progress(0.6)
    frame = pd.DataFrame(normal)
    if frame.empty:
        raise ParseError("the .res file's Channel_Normal_Table holds no records", sheet="Channel_Normal_Table")
    frame = frame.sort_values(["Test_ID", "Data_Point"], kind="stable").reset_index(drop=True)
    facts = pd.DataFrame(glob) if glob else pd.DataFrame({"Test_ID": []})
    runs = []
    for test_id, part in frame.groupby("Test_ID", sort=True):
        fact = facts[facts["Test_ID"] == test_id].iloc[0].to_dict() if (facts["Test_ID"] == test_id).any() else {}
        meta = {"format": "res", "test_id": int(test_id),
                "channel": str(int(fact["Channel_Index"])) if fact.get("Channel_Index") is not None else str(test_id),
                **{key: str(fact[name]) for key, name in (("test_name", "Test_Name"), ("software", "Software_Version"),
                                                         ("schedule", "Schedule_File_Name")) if fact.get(name)}}
        if fact.get("Start_DateTime") is not None:
            meta["start_time"] = str(pd.Timestamp(_ole_to_datetime(np.array([fact["Start_DateTime"]]))[0]).isoformat())
        table_frame = pd.DataFrame({
            "Data_Point": part["Data_Point"].to_numpy(), "Date_Time": _ole_to_datetime(part["DateTime"].to_numpy()),
            **{name: part[name].to_numpy() for name in ("Test_Time", "Step_Time", "Step_Index", "Cycle_Index",
                                                       "Current", "Voltage", "Charge_Capacity", "Discharge_Capacity",
                                                       "Charge_Energy", "Discharge_Energy") if name in part},
        })
        table = Table(frame=table_frame, rows=np.arange(1, len(part) + 1), sheet="Channel_Normal_Table")
        warnings: list[str] = []
        records = _records(table, meta, warnings)
        summarise(records, meta)
        runs.append(Export(records=records, cycle_table=None, step_table=None, metadata=meta, warnings=warnings,
                           instrument="Arbin", reader="assb-lab arbin-res (access-parser)", reader_version=RES_VERSION))
    first = runs[0]
    if len(runs) > 1:
        for run in runs:
            run.metadata["channels_in_file"] = len(runs)
        first.runs = runs
    return first


def _ole_to_datetime(days: np.ndarray) -> np.ndarray:
    days = np.asarray(days, dtype=np.float64)
    return _OLE_EPOCH + np.round(days * 86400e9).astype("timedelta64[ns]")


def _res_tables(data: bytes) -> tuple[dict, dict]:
    import os
    import tempfile

    with tempfile.TemporaryDirectory(prefix="assb-res-") as folder:
        path = os.path.join(folder, "upload.res")  # access-parser takes a path only
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            from access_parser import AccessParser

            database = AccessParser(path)
            names = set(database.catalog)
            if "Channel_Normal_Table" not in names:
                raise ParseError("this Access database has no Channel_Normal_Table: it is not an Arbin .res file")
            normal = database.parse_table("Channel_Normal_Table")
            glob = database.parse_table("Global_Table") if "Global_Table" in names else {}
        except ParseError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever access-parser trips on in a damaged database
            text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise ParseError(f"the .res database cannot be read (access-parser: {text})") from None
    return normal, glob


READERS = [
    Reader("assb-lab arbin-xlsx", "Arbin", lambda p: p.fmt in ("zip", "ole2") and _is_workbook(p), read_workbook,
           VERSION),
    Reader("assb-lab arbin-csv", "Arbin", _is_csv, read_csv, VERSION),
    Reader("assb-lab arbin-res", "Arbin", lambda p: p.fmt == "res", read_res, RES_VERSION),
]
