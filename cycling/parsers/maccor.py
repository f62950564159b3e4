"""Maccor text exports: tab or comma separated, with 'Today's Date' or key-value header lines, times in
seconds, minutes or '0d 00:00:00', capacity as Amp-hr / Capacity / Cap. [Ah] (A/Ah by default, mA/mAh
where the header says so), any '.NNN' file extension."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from readers.errors import ParseError

from .canonical import Counter, build_records, kinds_from_codes, summarise
from .columns import normalise_name
from .export import Export
from .probe import Probe, Reader
from .tables import Table, read_delimited, text_head

# 1.1.0: the MIMS Client 'Name:/Channel:' layout (Rec, Cycle P/C, Cap. [Ah], Current [A], Md); columns re-saved
# in milli-units (mAmps, mAmp-hr, mWatt-hr, mVolts) read by their units.
VERSION = "1.1.0"
_KEYS = {"todaysdate": "export_date", "dateoftest": "start_time", "filename": "filename", "name": "test_name",
         "testerchannel": "channel", "channel": "channel", "procedure": "schedule", "comment/barcode": "comment",
         "description": "description"}
# A header whose name carries a milli prefix instead of a unit: read as the base name in milli-units.
_MILLI = {"mamps": "Amps [mA]", "mamp": "Amps [mA]", "mamp-hr": "Amp-hr [mAh]", "mamphr": "Amp-hr [mAh]",
          "mwatt-hr": "Watt-hr [mWh]", "mwatthr": "Watt-hr [mWh]", "mvolts": "Volts [mV]", "mvolt": "Volts [mV]"}


def _is_maccor(probe: Probe) -> bool:
    return probe.text_kind is not None and probe.text_kind[0] == "Maccor"


def _header_line(lines: list[str]) -> int | None:
    for i, line in enumerate(lines[:40]):
        cells = [normalise_name(c) for c in re.split(r"[\t,]", line)]
        if cells and cells[0].startswith("rec") and any(c.startswith(("cyc", "cycle")) for c in cells) and any(
                c.startswith(("amp", "current", "volt", "mamp", "mvolt")) for c in cells):
            return i
    return None


def _preamble(lines: list[str]) -> dict:
    """'Today's Date:<tab>14 December 2020<tab>Date of Test:<tab>...' and 'Key:, value' lines."""
    meta = {}
    for line in lines:
        cells = [c.strip() for c in re.split(r"\t|,(?=\S)|:\s{2,}", line) if c.strip()]
        for key, value in zip(cells[::2], cells[1::2], strict=False):
            name = _KEYS.get(normalise_name(key.rstrip(":")).replace("'", ""))
            if name:
                meta[name] = value
    return meta


def read_maccor(probe: Probe) -> Export:
    lines, text, encoding = text_head(probe.data)
    header_line = _header_line(lines)
    if header_line is None:
        raise ParseError("no Maccor column header (Rec#, Cyc#, Step, TestTime, Amp-hr, Amps, Volts, ...) in the "
                         "first 40 lines", sheet="text")
    first = lines[header_line]
    sep = "\t" if first.count("\t") > first.count(",") else ","
    table = read_delimited(text, header_line=header_line, sep=sep, sheet="text", data=probe.data,
                           encoding=encoding)
    renamed = {c: _MILLI[str(c).strip().lower()] for c in table.frame.columns if str(c).strip().lower() in _MILLI}
    if renamed:
        table = Table(frame=table.frame.rename(columns=renamed), rows=table.rows, sheet=table.sheet)
    meta = {"format": "maccor-text", "encoding": encoding, **_preamble(lines[:header_line])}
    records = _records(table, meta)
    summarise(records, meta)
    return Export(records=records, cycle_table=None, step_table=None, metadata=meta, instrument="Maccor",
                  reader="assb-lab maccor-text", reader_version=VERSION)


def _records(table: Table, meta: dict) -> pd.DataFrame:
    # Maccor's own units are A, Ah, Wh, V: a header without a unit carries them.
    current = table.numbers(table.require("current", "Amps", "Current", "Amps (A)", "Amp"), "current",
                            default_unit="A")
    voltage = table.numbers(table.require("voltage", "Volts", "Voltage"), "voltage", default_unit="V")
    test_time = table.seconds(table.require("test time", "TestTime", "Test Time", "Test (Sec)", "Test (Min)",
                                            "Test (Hr)", "Test", "Prog Time"))
    step_hit = table.find("Step")
    step = table.numbers(step_hit) if step_hit else None
    step_time_hit = table.find("StepTime", "Step Time", "Step (Sec)", "Step (Min)", "Step (Hr)")
    cycle_hit = table.find("Cyc#", "Cycle C", "Cycle P", "Cycle", "Cyc")
    state = table.find("State", "MD")
    if state is not None:
        # kinds_from_codes strips and upper-cases each distinct code, not each record
        kind, mode = kinds_from_codes(state[0], current)
        # Amps is unsigned in Maccor's own exports: the State (C/D) gives the direction.
        current = np.where(kind == "discharge", -np.abs(current), np.where(kind == "charge", np.abs(current),
                                                                              current))
    else:
        kind, mode = None, None
    capacity = [Counter(table.numbers(table.require("capacity", "Amp-hr", "Capacity", "Cap.", "Cap"), "capacity",
                                      default_unit="Ah"), step)]
    energy_hit = table.find("Watt-hr", "Energy", "Ener.", "En.")
    energy = [Counter(table.numbers(energy_hit, "energy", default_unit="Wh"), step)] if energy_hit else None
    stamp_hit = table.find("DPt Time", "DPT Time", "Date Time")
    record_hit = table.find("Rec#", "Rec", "Record")
    meta["units"] = table.units
    return build_records(
        sheet=table.sheet, rows=table.rows, test_time_s=test_time,
        step_time_s=table.seconds(step_time_hit, group=step) if step_time_hit else None,
        current_ma=current, voltage_v=voltage, capacity=capacity, energy=energy, kind=kind, mode=mode,
        record=table.numbers(record_hit) if record_hit else None,
        cycle=table.numbers(cycle_hit) if cycle_hit else None, step=step,
        sys_time=table.stamps(stamp_hit, test_time) if stamp_hit else None, metadata=meta)


READERS = [Reader("assb-lab maccor-text", "Maccor", _is_maccor, read_maccor, VERSION)]
