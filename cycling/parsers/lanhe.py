"""LAND's newer and older LANHE software exports, as far as public descriptions of them go.

Newer LANHE xlsx: sheets 'Test information', 'Ch1_Proc', 'Log' and a data sheet whose name contains
'DefaultGroup', columns Record, Cycle, Step, WorkMode, StepTime, TestTime, SysTime, Voltage/V, Current/uA,
Capacity/uAh, Energy/uWh (units as the header says). Older LANHE .xls: 'TestTime/Sec.' and states
'C_Rate'/'D_Rate'; an export with only 'SCapacity/mAh/g' (no absolute capacity) is refused by name.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from readers.errors import ParseError

from .canonical import Counter, build_records, kinds_from_codes, summarise
from .columns import normalise_name
from .export import Export
from .probe import Probe, Reader
from .sniff import check_ole2, check_zip
from .tables import Table, sheet_table

VERSION = "1.0.0"
_OLD_MARKERS = ("testtime/sec.", "scapacity/mah/g")


def _book(probe: Probe):
    import python_calamine

    return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(probe.data))


def _data_sheet(probe: Probe) -> str | None:
    names = probe.sheet_names
    grouped = [s for s in names if "defaultgroup" in s.lower()]
    if grouped:
        return grouped[0]
    if probe.fmt != "ole2" or not names:
        return None
    try:  # older LANHE .xls: recognised by its headers, not its sheet names
        book = _book(probe)
        for name in names[:6]:
            for row in book.get_sheet_by_name(name).to_python(nrows=5):
                cells = {str(c).strip().lower() for c in row}
                if cells & set(_OLD_MARKERS):
                    return name
    except BaseException as exc:  # calamine's own errors and pyo3 panics on broken input
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
    return None


def _is_lanhe(probe: Probe) -> bool:
    return probe.fmt in ("zip", "ole2") and _data_sheet(probe) is not None


def read_lanhe(probe: Probe) -> Export:
    if probe.fmt == "zip":
        check_zip(probe.data)
    else:
        check_ole2(probe.data)
    sheet = _data_sheet(probe)
    cells = pd.DataFrame(_book(probe).get_sheet_by_name(sheet).to_python(skip_empty_area=False), dtype=object)
    header_row = next((i for i in range(min(len(cells), 10))
                       if any(normalise_name(str(c)).startswith("voltage") for c in cells.iloc[i].tolist())), None)
    if header_row is None:
        raise ParseError("no header row naming Voltage/V in the first 10 rows of the LANHE data sheet",
                         sheet=sheet)
    table = sheet_table(cells, header_row=header_row, sheet=sheet)
    names = probe.sheet_names
    meta = {"format": "xlsx" if probe.fmt == "zip" else "xls", "sheets": names,
            "layout": "LANHE newer (DefaultGroup)" if "defaultgroup" in sheet.lower() else "LANHE older"}
    if "Test information" in names:
        info = pd.DataFrame(_book(probe).get_sheet_by_name("Test information").to_python(), dtype=object)
        pairs = {str(r[0]).strip(): r[1] for r in info.itertuples(index=False) if len(r) > 1 and r[0]}
        for key, name in (("Start time", "start_time"), ("Test name", "test_name"), ("Channel", "channel")):
            if pairs.get(key) not in (None, ""):
                meta[name] = str(pairs[key])
    records = _records(table, meta)
    summarise(records, meta)
    return Export(records=records, cycle_table=None, step_table=None, metadata=meta, instrument="LAND",
                  reader="assb-lab lanhe", reader_version=VERSION)


def _records(table: Table, meta: dict) -> pd.DataFrame:
    current = table.numbers(table.require("current", "Current"), "current")
    voltage = table.numbers(table.require("voltage", "Voltage"), "voltage")
    capacity_hit = table.find("Capacity", "Cap")
    if capacity_hit is None:
        specific = table.find("SCapacity", "SpeCap", "SpeCap_cal")
        if specific is not None:
            raise ParseError("this LANHE export holds only specific capacity (mAh/g), not the capacity in mAh; "
                             "export again with the Capacity column selected", sheet=table.sheet,
                             column=specific[1])
        table.require("capacity", "Capacity")
    test_time = table.seconds(table.require("test time", "TestTime", "Test Time"))
    step_hit = table.find("Step", "StepInProcess")
    step = table.numbers(step_hit) if step_hit else None
    state = table.find("WorkMode", "State", "Step-State", "Mode")
    kind, mode = (None, None)
    if state is not None:
        kind, mode = kinds_from_codes(state[0].astype(str).to_numpy(dtype=object), current)
        # Some LANHE versions write the current unsigned: the work mode gives its direction.
        current = np.where(kind == "discharge", -np.abs(current), np.where(kind == "charge", np.abs(current),
                                                                              current))
    energy_hit = table.find("Energy")
    step_time_hit = table.find("StepTime", "Step Time")
    record_hit = table.find("Record", "Index")
    cycle_hit = table.find("Cycle", "Cycle-Index")
    stamp_hit = table.find("SysTime", "System Time")
    meta["units"] = table.units
    return build_records(
        sheet=table.sheet, rows=table.rows, test_time_s=test_time,
        step_time_s=table.seconds(step_time_hit, group=step) if step_time_hit else None, current_ma=current,
        voltage_v=voltage, capacity=[Counter(table.numbers(capacity_hit, "capacity"), step)],
        energy=[Counter(table.numbers(energy_hit, "energy"), step)] if energy_hit else None, kind=kind, mode=mode,
        record=table.numbers(record_hit) if record_hit else None,
        cycle=table.numbers(cycle_hit) if cycle_hit else None, step=step,
        sys_time=table.stamps(stamp_hit, test_time) if stamp_hit else None, metadata=meta)


READERS = [Reader("assb-lab lanhe", "LAND", _is_lanhe, read_lanhe, VERSION)]
