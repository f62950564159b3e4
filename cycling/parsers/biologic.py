"""BioLogic EC-Lab / BT-Lab text exports (.mpt, .txt) of galvanostatic (GCPL-like) techniques."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from readers.errors import ParseError

from .canonical import Counter, build_records, kinds_from_sign, summarise
from .export import Export
from .probe import Probe, Reader
from .tables import Table, read_delimited, text_head

# 1.1.0: 'Q charge'/'Q discharge' and 'Energy charge'/'Energy discharge' each count only on records of their
# direction: a stray tick of the idle counter at a half cycle's start is not charge that flowed.
VERSION = "1.1.0"
_HEADER_LINES = re.compile(r"Nb header lines\s*:\s*(\d+)", re.I)
_STARTED = re.compile(r"Acquisition started on\s*:\s*(.+)", re.I)
_SOFTWARE = re.compile(r"^((?:EC|BT)-Lab\s+(?:for windows\s+)?v?[\d.]+[^\n]*)", re.I | re.M)
_CHANNEL = re.compile(r"Run on channel\s*:\s*(.+)", re.I)
_DECIMAL_COMMA = re.compile(r"(?:^|\t)-?\d+,\d+(?:E[+-]?\d+)?(?:\t|$)", re.I)
# 'mode' column of EC-Lab: 1 galvanostatic (CC), 2 potentiostatic (CV), 3 rest.
_MODE_DTYPE = pd.CategoricalDtype(["", "CC", "CV"])


def _is_mpt(probe: Probe) -> bool:
    return probe.text_kind is not None and probe.text_kind[0] == "BioLogic"


def read_mpt(probe: Probe) -> Export:
    lines, text, encoding = text_head(probe.data)
    head = "\n".join(lines)
    match = _HEADER_LINES.search(head[:2000])
    header_line = int(match.group(1)) - 1 if match else 0
    if header_line >= len(lines):
        raise ParseError(f"the header block claims {header_line + 1} lines but the file is shorter", row=1)
    columns = lines[header_line].rstrip("\t").split("\t")
    if not any(c.startswith("time/") for c in columns):
        raise ParseError(f"line {header_line + 1} should name the columns (time/s, Ewe/V, I/mA, ...) but reads "
                         f"'{lines[header_line][:80]}'", row=header_line + 1)
    sample = "\n".join(lines[header_line + 1:header_line + 20])
    decimal = "," if _DECIMAL_COMMA.search(sample) else "."
    table = read_delimited(text, header_line=header_line, sep="\t", decimal=decimal, sheet="data", data=probe.data,
                           encoding=encoding)
    # EC-Lab writes the unit after the LAST slash ('Q charge/discharge/mA.h', 'control/V/mA' keeps both).
    table = Table(frame=table.frame.set_axis([_bracket(c) for c in table.frame.columns], axis=1), rows=table.rows,
                  sheet="data")
    meta = {"format": "mpt", "encoding": encoding, "decimal": decimal, "header_lines": header_line}
    for pattern, key in ((_SOFTWARE, "software"), (_CHANNEL, "channel")):
        found = pattern.search(head[:20000]) if match else None
        if found:
            meta[key] = found.group(1).strip()
    start = None
    started = _STARTED.search(head[:20000]) if match else None
    if started:
        start = pd.to_datetime(started.group(1).strip(), errors="coerce")
        if start is not pd.NaT and start is not None:
            meta["start_time"] = start.isoformat()
    records = _records(table, meta, start)
    summarise(records, meta)
    return Export(records=records, cycle_table=None, step_table=None, metadata=meta, instrument="BioLogic",
                  reader="assb-lab biologic-mpt", reader_version=VERSION)


def _bracket(raw: object) -> str:
    text = str(raw).strip()
    if text.startswith("control/"):
        return text.replace("/", " ", 1) if text.count("/") > 1 else text
    name, sep, unit = text.rpartition("/")
    return f"{name} [{unit}]" if sep and name else text


def _records(table: Table, meta: dict, start) -> pd.DataFrame:
    time_s = table.seconds(table.require("time", "time"))
    voltage = table.numbers(table.require("voltage", "Ewe", "Ecell", "<Ewe>", "<Ecell>"), "voltage")
    current = table.numbers(table.require("current", "I", "<I>"), "current")
    half = table.find("half cycle")
    half_cycle = table.numbers(half) if half else None
    cycle_hit = table.find("cycle number")
    cycle = table.numbers(cycle_hit) if cycle_hit else None
    capacity = _capacity(table, half_cycle)
    if capacity is None:
        raise ParseError("there is no charge column (dq/mA.h, (Q-Qo)/mA.h or Q charge/discharge/mA.h): export the "
                         "file with the charge quantities selected", sheet=table.sheet)
    e_charge, e_discharge = table.find("Energy charge"), table.find("Energy discharge")
    energy = None
    if e_charge and e_discharge:
        energy = [Counter(table.numbers(e_charge, "energy"), half_cycle, direction="charge"),
                  Counter(table.numbers(e_discharge, "energy"), half_cycle, direction="discharge")]
    mode_hit = table.find("mode")
    kind, mode = kinds_from_sign(current)
    if mode_hit is not None:
        code = table.numbers(mode_hit)
        # Categorical codes over three words: no Python string made per record.
        mode = pd.Categorical.from_codes(np.select([code == 1, code == 2], [1, 2], 0).astype(np.int8),
                                         dtype=_MODE_DTYPE, validate=False)
        # mode 3: rest, whatever the current reads (on the kinds' codes: no Python string per record)
        kind = pd.Categorical.from_codes(np.where(code == 3, kind.categories.get_loc("rest"), kind.codes).astype(
            np.int8), dtype=kind.dtype, validate=False)
    step_label = table.find("Ns")
    step = table.numbers(step_label) if step_label else None
    if half_cycle is not None:
        step = half_cycle if step is None else step * 1e6 + half_cycle
    step_time_hit = table.find("step time")
    sys_time = None
    if start is not None and start is not pd.NaT:
        sys_time = (np.datetime64(start.to_datetime64(), "ns") + (time_s * 1e9).astype("timedelta64[ns]"))
    meta["units"] = table.units
    return build_records(sheet=table.sheet, rows=table.rows, test_time_s=time_s - time_s[0] if len(time_s) else time_s,
                         current_ma=current, voltage_v=voltage, capacity=capacity, energy=energy, kind=kind,
                         mode=mode, cycle=cycle, step=step, sys_time=sys_time, metadata=meta,
                         step_time_s=table.seconds(step_time_hit) if step_time_hit else None)


def _capacity(table: Table, half_cycle) -> list[Counter] | None:
    """The charge counter with the clearest meaning: dq per record, then (Q-Qo) over the run, then EC-Lab's
    per-half-cycle 'Q charge/discharge' (or its two halves)."""
    dq = table.find("dq", "dQ")
    if dq is not None:
        return [Counter(np.cumsum(np.nan_to_num(table.numbers(dq, "capacity"))), signed=True)]
    q = table.find("(Q-Qo)")
    if q is not None:
        return [Counter(table.numbers(q, "capacity"), signed=True)]
    both = table.find("Q charge/discharge")
    if both is not None:
        return [Counter(table.numbers(both, "capacity"), half_cycle)]
    q_charge, q_discharge = table.find("Q charge"), table.find("Q discharge")
    if q_charge and q_discharge:
        return [Counter(table.numbers(q_charge, "capacity"), half_cycle, direction="charge"),
                Counter(table.numbers(q_discharge, "capacity"), half_cycle, direction="discharge")]
    return None


READERS = [Reader("assb-lab biologic-mpt", "BioLogic", _is_mpt, read_mpt, VERSION)]
