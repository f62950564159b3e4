"""Write canonical records as LAND exports in each variant the parser reads (tests, demo data, benchmarks)."""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pandas as pd

VARIANTS = ("modern", "hhmmss", "excel_time", "micro", "amp", "chinese", "old", "lanhe", "csv", "txt")
DEFAULT_ACTIVE_MASS_MG = 6.597  # the reference study's 10 mm pellet at 8.4 mg/cm2

_DAY_S = 86400.0
_EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")

# LAND's own precision (decimals in the canonical unit), as the real export tests/data/land/
# cellpy_custom_data_002.xlsx carries it: whole seconds, mA/mAh/mWh to 5 decimals, volts to 6, mAh/g and
# Wh/kg to 3, percentages to 4. SysTime is whole seconds.
LAND_DECIMALS: dict[str, int] = {
    "test_time_s": 0, "step_time_s": 0, "duration_s": 0,
    "current_ma": 5, "capacity_mah": 5, "charge_mah": 5, "discharge_mah": 5,
    "energy_mwh": 5, "charge_energy_mwh": 5, "discharge_energy_mwh": 5,
    "voltage_v": 6, "start_voltage_v": 6, "end_voltage_v": 6, "median_charge_v": 6, "median_discharge_v": 6,
    "charge_mah_g": 3, "discharge_mah_g": 3, "ce_percent": 4,
}
_LAND_COLUMN_DECIMALS = {"specap": 3, "spe_energy": 3}  # LAND-only record columns

# Step-State codes each software version writes for (step_kind, step_mode).
_STATE_CODES = {
    "modern": {("rest", ""): "R", ("charge", "CC"): "C_CC", ("charge", "CV"): "C_CV",
               ("discharge", "CC"): "D_CC", ("discharge", "CV"): "D_CV"},
    "old": {("rest", ""): "R", ("charge", "CC"): "CCC", ("charge", "CV"): "CVC",
            ("discharge", "CC"): "CCD", ("discharge", "CV"): "CVD"},
    "lanhe": {("rest", ""): "REST", ("charge", "CC"): "C_CRATE", ("charge", "CV"): "C_CV",
              ("discharge", "CC"): "D_CRATE", ("discharge", "CV"): "D_CV"},
    "chinese": {("rest", ""): "静置", ("charge", "CC"): "恒流充电", ("charge", "CV"): "恒压充电",
                ("discharge", "CC"): "恒流放电", ("discharge", "CV"): "恒压放电"},
}

# (header, source) per variant; source is a canonical column, or one of the LAND-only columns.
_MODERN = [
    ("Record", "record"), ("TestTime/Sec", "test_time_s"), ("StepTime/Sec", "step_time_s"),
    ("Current/mA", "current_ma"), ("Capacity/mAh", "capacity_mah"), ("SpeCap/mAh/g", "specap"),
    ("SOC|DOD/%", "soc"), ("Voltage/V", "voltage_v"), ("Energy/mWh", "energy_mwh"),
    ("SpeEnergy/Wh/kg", "spe_energy"), ("AuxTemp/dC.", "dash"), ("AuxVolt/V", "dash"), ("SysTime", "sys_time"),
    ("", "blank"), ("Cycle-Index", "cycle"), ("Step-Index", "step"), ("Step-State", "state"),
]
_CHINESE = [
    ("记录序号", "record"), ("测试时间/Sec", "test_time_s"), ("工步时间/Sec", "step_time_s"),
    ("电流/mA", "current_ma"), ("容量/mAh", "capacity_mah"), ("比容量/mAh/g", "specap"),
    ("电压/V", "voltage_v"), ("能量/mWh", "energy_mwh"), ("系统时间", "sys_time"),
    ("循环序号", "cycle"), ("工步序号", "step"), ("工步状态", "state"),
]
_OLD = [
    ("Index", "record"), ("TestTime", "test_time_s"), ("StepTime", "step_time_s"), ("Current", "current_ma"),
    ("Capacity", "capacity_mah"), ("Voltage", "voltage_v"), ("State", "state"),
]
_OLD_UNITS = ["", "Sec", "Sec", "mA", "mAh", "V", ""]
_LANHE = [
    ("Record", "record"), ("TestTime", "test_time_s"), ("StepTime", "step_time_s"), ("Current/uA", "current_ma"),
    ("Voltage/V", "voltage_v"), ("Capacity/uAh", "capacity_mah"), ("Energy/uWh", "energy_mwh"),
    ("SysTime", "sys_time"), ("Cycle", "cycle"), ("Step", "step"), ("StepMode", "state"),
]
_UNIT_FACTORS = {  # variant -> {canonical: (header unit, factor from the canonical unit)}
    "micro": {"current_ma": ("uA", 1e3), "capacity_mah": ("uAh", 1e3), "energy_mwh": ("uWh", 1e3)},
    "amp": {"current_ma": ("A", 1e-3), "capacity_mah": ("Ah", 1e-3), "energy_mwh": ("Wh", 1e-3)},
    "lanhe": {"current_ma": ("uA", 1e3), "capacity_mah": ("uAh", 1e3), "energy_mwh": ("uWh", 1e3)},
}
_CYCLE_HEADERS = {
    "cycle": ("Cycle", "循环序号"), "charge_mah": ("CapC/mAh", "充电容量/mAh"),
    "discharge_mah": ("CapD/mAh", "放电容量/mAh"), "charge_mah_g": ("SpeCapC/mAh/g", "充电比容量/mAh/g"),
    "discharge_mah_g": ("SpeCapD/mAh/g", "放电比容量/mAh/g"), "ce_percent": ("Efficiency/%", "库仑效率/%"),
    "charge_energy_mwh": ("EnergyC/mWh", "充电能量/mWh"), "discharge_energy_mwh": ("EnergyD/mWh", "放电能量/mWh"),
    "median_charge_v": ("MedVoltC/V", "充电中值电压/V"), "median_discharge_v": ("MedVoltD/V", "放电中值电压/V"),
}
_STEP_HEADERS = {
    "cycle": ("Cycle-Index", "循环序号"), "step": ("Step-Index", "工步序号"), "state": ("Step-State", "工步状态"),
    "duration_s": ("StepTime/Sec", "工步时间/Sec"), "capacity_mah": ("Capacity/mAh", "容量/mAh"),
    "energy_mwh": ("Energy/mWh", "能量/mWh"), "start_voltage_v": ("StartVolt/V", "起始电压/V"),
    "end_voltage_v": ("EndVolt/V", "终止电压/V"),
}
_SHEET_NAMES = {"record": ("Record-Tab", "记录"), "cycle": ("Cycle-Tab", "循环"), "step": ("Step-Tab", "工步")}


def land_rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of canonical records (or a Cycle-/Step-Tab) rounded to the precision LAND writes."""
    out = frame.copy()
    for name, decimals in LAND_DECIMALS.items():
        if name in out and out[name].dtype.kind == "f":
            out[name] = out[name].round(decimals)
    if "sys_time" in out:
        out["sys_time"] = out["sys_time"].dt.round("s")
    return out


def land_cycle_table(records: pd.DataFrame, *, active_mass_mg: float = DEFAULT_ACTIVE_MASS_MG) -> pd.DataFrame:
    """LAND's Cycle-Tab from records: CapC/CapD are the largest running capacity over the cycle's
    charge/discharge records (the running total spans CC, CV and rests), Efficiency = second half over
    first half x 100."""
    moving = records[records["step_kind"] != "rest"]
    first = str(moving["step_kind"].iloc[0]) if len(moving) else "charge"
    agg = moving.pivot_table(index="cycle", columns="step_kind", values=["capacity_mah", "energy_mwh", "voltage_v"],
                             aggfunc={"capacity_mah": "max", "energy_mwh": "max", "voltage_v": "median"})
    cycles = pd.Index(np.unique(records["cycle"].to_numpy()), name="cycle")
    agg = agg.reindex(cycles)

    def col(value: str, kind: str) -> np.ndarray:
        key = (value, kind)
        return agg[key].to_numpy(dtype=float) if key in agg.columns else np.full(len(agg), np.nan)

    charge, discharge = col("capacity_mah", "charge"), col("capacity_mah", "discharge")
    first_half, second_half = (charge, discharge) if first == "charge" else (discharge, charge)
    with np.errstate(divide="ignore", invalid="ignore"):
        efficiency = np.where(first_half > 0, second_half / first_half * 100.0, np.nan)
    return pd.DataFrame({
        "cycle": cycles.to_numpy(dtype=np.int64),
        "charge_mah": charge,
        "discharge_mah": discharge,
        "charge_mah_g": charge * 1000.0 / active_mass_mg,
        "discharge_mah_g": discharge * 1000.0 / active_mass_mg,
        "ce_percent": efficiency,
        "charge_energy_mwh": col("energy_mwh", "charge"),
        "discharge_energy_mwh": col("energy_mwh", "discharge"),
        "median_charge_v": col("voltage_v", "charge"),
        "median_discharge_v": col("voltage_v", "discharge"),
    })


def land_step_table(records: pd.DataFrame) -> pd.DataFrame:
    """LAND's Step-Tab: one row per step with what that step itself added to the running totals."""
    grouped = records.groupby("step", sort=True)
    first, last = grouped.first(), grouped.last()
    return pd.DataFrame({
        "cycle": first["cycle"].astype(np.int64),
        "step": first.index.to_numpy(dtype=np.int64),
        "step_kind": first["step_kind"].astype(str),
        "step_mode": first["step_mode"].astype(str),
        "duration_s": last["step_time_s"].to_numpy(dtype=float),
        "capacity_mah": (last["capacity_mah"] - first["capacity_mah"]).to_numpy(dtype=float),
        "energy_mwh": (last["energy_mwh"] - first["energy_mwh"]).to_numpy(dtype=float),
        "start_voltage_v": first["voltage_v"].to_numpy(dtype=float),
        "end_voltage_v": last["voltage_v"].to_numpy(dtype=float),
    }).reset_index(drop=True)


def write_land(
    records: pd.DataFrame,
    dest: str | os.PathLike | BinaryIO,
    *,
    variant: str = "modern",
    cycle_table: pd.DataFrame | None | Literal[False] = None,
    step_table: pd.DataFrame | None | bool = None,
    sheet_order: Sequence[str] | None = None,
    max_rows_per_sheet: int | None = None,
    encoding: str = "utf-8",
    column_order: Sequence[int] | None = None,
    trailing_rows: Sequence[Sequence[object]] = (),
    active_mass_mg: float = DEFAULT_ACTIVE_MASS_MG,
    constant_memory: bool | None = None,
    chinese: bool = False,
    precision: Literal["land", "full"] = "land",
) -> None:
    """Write canonical ``records`` as a LAND export.

    cycle_table: None computes LAND's Cycle-Tab from the records, False leaves it out.
    step_table: True computes a Step-Tab, None/False leaves it out (like the real sample).
    sheet_order: table kinds ('record', 'cycle', 'step') or sheet names in the order wanted.
    column_order: a permutation of the record header's column positions.
    trailing_rows: junk rows written after the records (footers, blank lines).
    encoding: for 'csv'/'txt' ('utf-8', 'utf-8-sig', 'utf-16', 'gb18030').
    chinese: Chinese sheet names, headers and Step-State words in any variant ('chinese' implies it).
    precision: 'land' rounds every value to the precision LAND writes (``LAND_DECIMALS``), so a file
    reads back as ``land_rounded(records)``; 'full' writes the floats as they are.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    if precision not in ("land", "full"):
        raise ValueError("precision must be 'land' or 'full'")
    rounded = land_rounded if precision == "land" else (lambda frame: frame)
    records = rounded(records)
    if cycle_table is None:
        cycle_table = land_cycle_table(records, active_mass_mg=active_mass_mg)
    if step_table is True:
        step_table = land_step_table(records)
    if isinstance(cycle_table, pd.DataFrame):
        cycle_table = rounded(cycle_table)
    if isinstance(step_table, pd.DataFrame):
        step_table = rounded(step_table)
    tables: list[tuple[str, str, list[str], list[list], list | None]] = []
    chinese = chinese or variant == "chinese"
    record_headers, record_columns, unit_row = _record_columns(records, variant, active_mass_mg, chinese,
                                                               precision == "land")
    order = list(column_order) if column_order is not None else list(range(len(record_headers)))
    record_headers = [record_headers[i] for i in order]
    record_columns = [record_columns[i] for i in order]
    unit_row = [unit_row[i] for i in order] if unit_row else None
    if isinstance(cycle_table, pd.DataFrame):
        headers, columns = _summary_columns(cycle_table, _CYCLE_HEADERS, chinese, "chinese" if chinese else variant)
        tables.append(("cycle", _SHEET_NAMES["cycle"][chinese], headers, columns, None))
    if isinstance(step_table, pd.DataFrame):
        headers, columns = _summary_columns(step_table, _STEP_HEADERS, chinese, "chinese" if chinese else variant)
        tables.append(("step", _SHEET_NAMES["step"][chinese], headers, columns, None))
    n = len(records)
    chunk = max_rows_per_sheet or max(n, 1)
    base = _SHEET_NAMES["record"][chinese]
    for part, start in enumerate(range(0, max(n, 1), chunk)):
        sheet = base if part == 0 else f"{base}{part}"
        columns = [c[start:start + chunk] for c in record_columns]
        tables.append(("record", sheet, record_headers, columns, unit_row))
    if sheet_order is not None:
        rank = {key: i for i, key in enumerate(sheet_order)}
        tables.sort(key=lambda t: rank.get(t[1], rank.get(t[0], len(rank))))
    last_record = max(i for i, t in enumerate(tables) if t[0] == "record")

    if variant in ("csv", "txt"):
        _write_text(tables, dest, "," if variant == "csv" else "\t", encoding, trailing_rows, last_record)
    else:
        big = n > 200_000 if constant_memory is None else constant_memory
        _write_xlsx(tables, dest, variant, trailing_rows, last_record, big,
                    step_blocks=records["step"].to_numpy() if variant == "lanhe" else None,
                    max_rows=max_rows_per_sheet)


# --- building columns ------------------------------------------------------------------------------

class _Cells:
    """A column of cells to write: values plus how (number, text, time-of-day, duration, datetime)."""

    def __init__(self, values: np.ndarray, kind: str = "number"):
        self.values = values
        self.kind = kind

    def __getitem__(self, item: slice) -> _Cells:
        return _Cells(self.values[item], self.kind if isinstance(self.kind, str) else self.kind[item])

    def __len__(self) -> int:
        return len(self.values)


def _record_columns(records: pd.DataFrame, variant: str, active_mass_mg: float, chinese: bool, land: bool):
    layout = _CHINESE if chinese else {"old": _OLD, "lanhe": _LANHE}.get(variant, _MODERN)
    factors = _UNIT_FACTORS.get(variant, {})
    n = len(records)
    headers, columns = [], []
    for header, source in layout:
        if source in factors:
            unit, factor = factors[source]
            header = f"{header.split('/')[0]}/{unit}"
        else:
            factor = 1.0
        if source in ("test_time_s", "step_time_s"):
            cells = _time_cells(records[source].to_numpy(dtype=float), variant, source)
            if variant in ("hhmmss",):
                header = header.split("/")[0]
        elif source == "state":
            codes = _STATE_CODES["chinese" if chinese else variant] if chinese or variant in _STATE_CODES else (
                _STATE_CODES["modern"])
            key = records["step_kind"].astype(str) + "|" + records["step_mode"].astype(str)
            table = {f"{k}|{m}": v for (k, m), v in codes.items()}
            cells = _Cells(key.map(table).fillna("R").to_numpy(dtype=object), "text")
        elif source == "sys_time":
            cells = _datetime_cells(records["sys_time"], variant)
        elif source in ("specap", "spe_energy"):
            total = records["capacity_mah" if source == "specap" else "energy_mwh"].to_numpy(dtype=float)
            specific = total * 1000.0 / active_mass_mg
            cells = _Cells(np.round(specific, _LAND_COLUMN_DECIMALS[source]) if land else specific)
        elif source == "soc":
            cells = _Cells(np.zeros(n))
        elif source == "dash":
            cells = _Cells(np.full(n, "-", dtype=object), "text")
        elif source == "blank":
            cells = _Cells(np.full(n, None, dtype=object), "blank")
        elif source in ("record", "cycle", "step"):
            cells = _Cells(records[source].to_numpy(dtype=np.int64))
        else:
            cells = _Cells(records[source].to_numpy(dtype=float) * factor)
        headers.append(header)
        columns.append(cells)
    unit_row = _OLD_UNITS if variant == "old" else None
    return headers, columns, unit_row


def _clock_text(seconds: np.ndarray, *, day_sep: str = "-", millis: bool = False) -> np.ndarray:
    """LAND text times: 'HH:MM:SS' below a day, 'D-HH:MM:SS' beyond (LANHE: 'D HH:MM:SS.mmm')."""
    s = pd.Series(seconds)
    whole = np.floor(s + 1e-9) if millis else np.round(s)
    days = (whole // _DAY_S).astype(np.int64)
    rem = whole - days * _DAY_S
    hh = (rem // 3600).astype(np.int64)
    mm = ((rem % 3600) // 60).astype(np.int64)
    ss = (rem % 60).astype(np.int64)
    text = hh.map("{:02d}".format) + ":" + mm.map("{:02d}".format) + ":" + ss.map("{:02d}".format)
    if millis:
        ms = np.clip(np.round((s - whole) * 1000).astype(np.int64), 0, 999)
        text = text + "." + ms.map("{:03d}".format)
        return (days.astype(str) + day_sep + text).to_numpy(dtype=object)
    return np.where(days > 0, days.astype(str) + day_sep + text, text).astype(object)


def _time_cells(seconds: np.ndarray, variant: str, source: str) -> _Cells:
    if variant == "hhmmss":
        return _Cells(_clock_text(seconds), "text")
    if variant == "lanhe":
        return _Cells(_clock_text(seconds, day_sep=" ", millis=True), "text")
    if variant == "excel_time":
        # Excel time-of-day cells lose whole days; mix in the other spellings LAND hands back.
        kinds = np.full(len(seconds), "time", dtype=object)
        values = np.asarray((seconds % _DAY_S) / _DAY_S, dtype=object)
        if source == "test_time_s":
            text = (seconds >= _DAY_S) & (np.arange(len(seconds)) % 2 == 0)
            values[text] = _clock_text(seconds[text])
            kinds[text] = "text"
        else:
            long = seconds >= _DAY_S
            values[long] = seconds[long] / _DAY_S
            kinds[long] = "duration"
        return _Cells(values, kinds)
    return _Cells(seconds)


def _datetime_cells(stamps: pd.Series, variant: str) -> _Cells:
    values = stamps.to_numpy(dtype="datetime64[ns]")
    if variant in ("csv", "txt", "hhmmss"):
        text = pd.Series(values).dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]
        return _Cells(text.where(pd.notna(values), "-").to_numpy(dtype=object), "text")
    serial = (values - _EXCEL_EPOCH) / np.timedelta64(1, "D")
    return _Cells(serial.astype(float), "datetime")


def _summary_columns(table: pd.DataFrame, spec: dict, chinese: bool, variant: str):
    headers, columns = [], []
    codes = _STATE_CODES.get(variant, _STATE_CODES["modern"])
    for canonical, names in spec.items():
        if canonical == "state":
            if "step_kind" not in table:
                continue
            key = list(zip(table["step_kind"].astype(str), table["step_mode"].astype(str), strict=True))
            headers.append(names[chinese])
            columns.append(_Cells(np.array([codes.get(k, "R") for k in key], dtype=object), "text"))
            continue
        if canonical not in table:
            continue
        headers.append(names[chinese])
        values = table[canonical].to_numpy()
        columns.append(_Cells(values.astype(np.int64) if canonical in ("cycle", "step") else values.astype(float)))
    return headers, columns


# --- writing ---------------------------------------------------------------------------------------

def _write_xlsx(tables, dest, variant, trailing_rows, last_record, constant_memory, step_blocks, max_rows):
    import xlsxwriter

    options = {"constant_memory": bool(constant_memory) and isinstance(dest, str | os.PathLike),
               "in_memory": not isinstance(dest, str | os.PathLike),
               # A NaN is written as Excel writes a failed formula, an error cell (#NUM!), as LAND files show.
               "nan_inf_to_errors": True}
    target = os.fspath(dest) if isinstance(dest, str | os.PathLike) else io.BytesIO()
    book = xlsxwriter.Workbook(target, options)
    formats = {
        "time": book.add_format({"num_format": "hh:mm:ss"}),
        "duration": book.add_format({"num_format": "[h]:mm:ss"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
    record_offset = 0
    for index, (kind, sheet, headers, columns, unit_row) in enumerate(tables):
        ws = book.add_worksheet(sheet)
        row = 0
        blocks = None
        if kind == "record" and step_blocks is not None:
            part = step_blocks[record_offset:record_offset + len(columns[0])]
            blocks = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
        if kind == "record":
            record_offset += len(columns[0])
        starts = set(blocks.tolist()) if blocks is not None else {0}
        py_columns = [(c.values.tolist(), c.kind if isinstance(c.kind, str) else list(c.kind)) for c in columns]
        n = len(columns[0]) if columns else 0
        for i in range(n):
            if i in starts:
                if blocks is not None and i > 0:
                    row += 1  # LANHE leaves a blank line between step blocks
                ws.write_row(row, 0, headers)
                row += 1
                if unit_row and i == 0:
                    ws.write_row(row, 0, unit_row)
                    row += 1
            for col, (values, how) in enumerate(py_columns):
                value = values[i]
                cell_kind = how if isinstance(how, str) else how[i]
                if cell_kind == "number":
                    if value == value:  # NaN stays an empty cell
                        ws.write_number(row, col, value)
                elif cell_kind == "text":
                    ws.write_string(row, col, value)
                elif cell_kind == "blank":
                    continue
                elif value == value:
                    ws.write_number(row, col, value, formats[cell_kind])
            row += 1
        if n == 0:
            ws.write_row(row, 0, headers)
            row += 1
        if index == last_record:
            for junk in trailing_rows:
                ws.write_row(row, 0, list(junk))
                row += 1
    book.close()
    if not isinstance(dest, str | os.PathLike):
        dest.write(target.getvalue())
    del max_rows


def _write_text(tables, dest, delimiter, encoding, trailing_rows, last_record):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for index, (_kind, sheet, headers, columns, unit_row) in enumerate(tables):
        writer.writerow([sheet])
        writer.writerow(headers)
        if unit_row:
            writer.writerow(unit_row)
        texts = [_text_values(c) for c in columns]
        writer.writerows(zip(*texts, strict=True))
        if index == last_record:
            writer.writerows([list(map(str, junk)) for junk in trailing_rows])
        writer.writerow([])
    data = buffer.getvalue().encode(encoding)
    if encoding.lower().replace("_", "-") == "utf-16" and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        data = codecs.BOM_UTF16_LE + data
    if isinstance(dest, str | os.PathLike):
        Path(dest).write_bytes(data)
    else:
        dest.write(data)


def _text_values(cells: _Cells) -> list[str]:
    if cells.kind == "number":
        values = cells.values
        if values.dtype.kind in "iu":
            return values.astype(str).tolist()
        return [repr(float(v)) if v == v else "-" for v in values.tolist()]
    if cells.kind == "blank":
        return [""] * len(cells)
    return [str(v) for v in cells.values.tolist()]
