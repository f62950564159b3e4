"""Seeded writers of non-LAND cycler text exports (Arbin csv, Maccor text, BioLogic .mpt, Neware csv).

Each takes a canonical record frame (RECORD_COLUMNS, e.g. from cycling.simulate) and writes it the way
the instrument counts: Arbin charge/discharge capacity per cycle in Ah, Maccor Amp-hr per step with
unsigned Amps and a C/D/R state, BioLogic (Q-Qo) signed over the run, Neware Chg./DChg. Cap. per step.
Reading the file back with cycling.parsers.read_export gives the same records: the round-trip tests and
the reader benchmarks are built on that.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import numpy as np
import pandas as pd

_FLOAT = "%.10g"


def flows(records: pd.DataFrame, column: str = "capacity_mah") -> np.ndarray:
    """Per-record amount behind LAND's running totals (which restart only when the direction changes)."""
    values = records[column].fillna(0.0).to_numpy(dtype=np.float64)
    kind = records["step_kind"].to_numpy(dtype=object)
    held = pd.Series(np.where(kind == "rest", None, kind)).ffill().fillna("").to_numpy(dtype=object)
    change = np.ones(len(values), dtype=bool)
    change[1:] = held[1:] != held[:-1]
    previous = np.concatenate([[0.0], values[:-1]])
    return np.where(change, values, values - previous) * (kind != "rest")


def _per_group(flow: np.ndarray, group: np.ndarray) -> np.ndarray:
    return pd.Series(flow).groupby(pd.factorize(group)[0]).cumsum().to_numpy()


def _clock(seconds: np.ndarray) -> np.ndarray:
    whole = np.floor(seconds).astype(np.int64)
    frac = seconds - whole
    h, rem = np.divmod(whole, 3600)
    m, s = np.divmod(rem, 60)
    return np.array([f"{a}:{b:02d}:{c + f:09.6f}" for a, b, c, f in zip(h, m, s, frac, strict=True)], dtype=object)


def _stamps(records: pd.DataFrame, fmt: str) -> pd.Series:
    stamps = records["sys_time"]
    if stamps.isna().all():
        stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(records["test_time_s"], unit="s")
    return pd.Series(pd.to_datetime(stamps).dt.strftime(fmt), index=records.index)


def _save(frame: pd.DataFrame, dest: BinaryIO, *, preamble: str = "", sep: str = ",", decimal: str = ".",
          encoding: str = "utf-8") -> None:
    text = io.StringIO()
    text.write(preamble)
    frame.to_csv(text, sep=sep, index=False, float_format=_FLOAT, decimal=decimal, lineterminator="\n")
    dest.write(text.getvalue().encode(encoding))


def write_arbin_csv(records: pd.DataFrame, dest: BinaryIO) -> None:
    """MITS Pro style csv: Data_Point, Test_Time(s), Current(A), Charge_Capacity(Ah) per cycle, ..."""
    cap, energy = flows(records), flows(records, "energy_mwh")
    charge = (records["step_kind"] == "charge").to_numpy()
    discharge = (records["step_kind"] == "discharge").to_numpy()
    cycle = records["cycle"].to_numpy()
    frame = pd.DataFrame({
        "Data_Point": records["record"], "Date_Time": _stamps(records, "%m/%d/%Y %H:%M:%S.%f"),
        "Test_Time(s)": records["test_time_s"], "Step_Time(s)": records["step_time_s"],
        "Cycle_Index": cycle, "Step_Index": records["step"], "Current(A)": records["current_ma"] / 1000,
        "Voltage(V)": records["voltage_v"],
        "Charge_Capacity(Ah)": _per_group(cap * charge, cycle) / 1000,
        "Discharge_Capacity(Ah)": _per_group(cap * discharge, cycle) / 1000,
        "Charge_Energy(Wh)": _per_group(energy * charge, cycle) / 1000,
        "Discharge_Energy(Wh)": _per_group(energy * discharge, cycle) / 1000,
    })
    _save(frame, dest)


def arbin_frame(records: pd.DataFrame) -> pd.DataFrame:
    """The columns of an Arbin channel sheet (as write_arbin_csv writes them), Date_Time as datetimes."""
    cap, energy = flows(records), flows(records, "energy_mwh")
    charge = (records["step_kind"] == "charge").to_numpy()
    discharge = (records["step_kind"] == "discharge").to_numpy()
    cycle = records["cycle"].to_numpy()
    stamps = records["sys_time"]
    if stamps.isna().all():
        stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(records["test_time_s"], unit="s")
    return pd.DataFrame({
        "Data_Point": records["record"], "Date_Time": pd.to_datetime(stamps),
        "Test_Time(s)": records["test_time_s"], "Step_Time(s)": records["step_time_s"],
        "Cycle_Index": cycle, "Step_Index": records["step"], "Current(A)": records["current_ma"] / 1000,
        "Voltage(V)": records["voltage_v"],
        "Charge_Capacity(Ah)": _per_group(cap * charge, cycle) / 1000,
        "Discharge_Capacity(Ah)": _per_group(cap * discharge, cycle) / 1000,
        "Charge_Energy(Wh)": _per_group(energy * charge, cycle) / 1000,
        "Discharge_Energy(Wh)": _per_group(energy * discharge, cycle) / 1000,
    })


def write_arbin_xlsx(channels: dict[str, pd.DataFrame], dest: BinaryIO, *, date_cells: bool = True) -> None:
    """MITS Pro workbook: Global_Info, then per channel 'Channel_<id>' (records; Date_Time as real Excel
    datetimes, or as text with ``date_cells=False``) and 'Statistics_<id>' (Arbin's own per-cycle charge and
    discharge capacity, Ah). ``channels``: channel id ('1-053') -> canonical records."""
    import xlsxwriter

    book = xlsxwriter.Workbook(dest, {"in_memory": True})
    stamp = book.add_format({"num_format": "mm/dd/yyyy hh:mm:ss.000"})
    info = book.add_worksheet("Global_Info")
    info.write_row(0, 0, ["TEST REPORT"])
    info.write_row(3, 0, ["Channel", "Start DateTime", "Schedule File Name", "Software Version"])
    for n, channel in enumerate(channels):
        info.write_row(4 + n, 0, [channel, "01/01/2024 00:00:00", "synthetic.sdx", "MITS Pro 8.00"])
    for channel, records in channels.items():
        frame = arbin_frame(records)
        sheet = book.add_worksheet(f"Channel_{channel}")
        sheet.write_row(0, 0, list(frame.columns))
        for j, column in enumerate(frame.columns):
            values = frame[column]
            if column == "Date_Time":
                for i, value in enumerate(values):
                    if date_cells:
                        sheet.write_datetime(i + 1, j, value.to_pydatetime(), stamp)
                    else:
                        sheet.write_string(i + 1, j, value.strftime("%m/%d/%Y %H:%M:%S.%f"))
            else:
                sheet.write_column(1, j, values.to_numpy(dtype=np.float64).tolist())
        per_cycle = frame.groupby("Cycle_Index")[["Charge_Capacity(Ah)", "Discharge_Capacity(Ah)"]].max()
        stats = book.add_worksheet(f"Statistics_{channel}")
        stats.write_row(0, 0, ["Cycle_Index", "Charge_Capacity(Ah)", "Discharge_Capacity(Ah)"])
        for i, (cycle, row) in enumerate(per_cycle.iterrows()):
            stats.write_row(i + 1, 0, [int(cycle), float(row.iloc[0]), float(row.iloc[1])])
    book.close()


def write_maccor_text(records: pd.DataFrame, dest: BinaryIO, *, clock_times: bool = True, layout: str = "today",
                      milli: bool = False, encoding: str = "utf-8", description: str = "") -> None:
    """Maccor tab-separated export: 'Today's Date' line, Rec#/Cyc#/Step, '0d HH:MM:SS' times (or seconds),
    unsigned Amps with State C/D/R, Amp-hr and Watt-hr per step, cycles counted from 0.

    ``layout='name-channel'``: the MIMS Client layout ('Name:'/'Channel:' lines; Rec, Cycle P, Cycle C,
    Cap. [Ah], Ener. [Wh], Current [A], Voltage [V], Md). ``milli``: the file as re-saved in milli-units
    (mAmps, mAmp-hr, mWatt-hr, mVolts). ``description`` goes into the free-text line (any bytes the
    ``encoding`` allows)."""
    kind = records["step_kind"].to_numpy(dtype=object)
    step = records["step"].to_numpy()
    days, rest = np.divmod(records["test_time_s"].to_numpy(), 86400.0)
    step_days, step_rest = np.divmod(records["step_time_s"].to_numpy(), 86400.0)
    times = {
        "TestTime": [f"{int(d)}d {c}" for d, c in zip(days, _clock(rest), strict=True)],
        "StepTime": [f"{int(d)}d {c}" for d, c in zip(step_days, _clock(step_rest), strict=True)],
    } if clock_times else {"Test (Sec)": records["test_time_s"], "Step (Sec)": records["step_time_s"]}
    scale = 1000.0 if milli else 1.0
    amp_hr = _per_group(flows(records), step) / 1000 * scale
    watt_hr = _per_group(flows(records, "energy_mwh"), step) / 1000 * scale
    amps = records["current_ma"].abs() / 1000 * scale
    volts = records["voltage_v"] * scale
    state = np.select([kind == "charge", kind == "discharge"], ["C", "D"], "R")
    if layout == "name-channel":
        frame = pd.DataFrame({
            "Rec": records["record"], "Cycle P": records["cycle"], "Cycle C": records["cycle"], "Step": step,
            **times, ("Cap. [mAh]" if milli else "Cap. [Ah]"): amp_hr, ("Ener. [mWh]" if milli else "Ener. [Wh]"): watt_hr,
            ("Current [mA]" if milli else "Current [A]"): amps, ("Voltage [mV]" if milli else "Voltage [V]"): volts,
            "Md": state, "ES": 0, "DPT Time": _stamps(records, "%m/%d/%Y %I:%M:%S %p"),
        })
        preamble = (f"Name:\tsynthetic\nChannel:\t12\nProcedure:\tsynthetic.000\nDescription:\t{description}\n"
                    "Date of Test:\t01/01/2024 12:00:00 AM\n\n")
    else:
        frame = pd.DataFrame({
            "Rec#": records["record"], "Cyc#": records["cycle"] - 1, "Step": step, **times,
            ("mAmp-hr" if milli else "Amp-hr"): amp_hr, ("mWatt-hr" if milli else "Watt-hr"): watt_hr,
            ("mAmps" if milli else "Amps"): amps, ("mVolts" if milli else "Volts"): volts,
            "State": state, "DPt Time": _stamps(records, "%m/%d/%Y %H:%M:%S"),
        })
        preamble = "Today's Date:\t01 January 2025\tDate of Test:\t01 January 2024, 12:00:00 AM\n" \
                   "    Filename:\tsynthetic\tTester Channel:\t1\n"
        if description:
            preamble += f"Procedure:\tsynthetic.000\tDescription:\t{description}\n"
    _save(frame, dest, preamble=preamble, sep="\t", encoding=encoding)


_MPT_COLUMNS = ["mode", "ox/red", "time/s", "step time/s", "Ewe/V", "I/mA", "(Q-Qo)/mA.h", "half cycle", "cycle number"]


def write_biologic_mpt(records: pd.DataFrame, dest: BinaryIO, *, decimal: str = ".", header: bool = True) -> None:
    """EC-Lab .mpt: a header block ('Nb header lines'), tab-separated columns, (Q-Qo) signed over the run,
    cycle number from 0, mode 1 (galvanostatic) / 2 (potentiostatic) / 3 (rest); decimal comma on request."""
    kind = records["step_kind"].to_numpy(dtype=object)
    sign = np.select([kind == "charge", kind == "discharge"], [1.0, -1.0], 0.0)
    mode = np.select([kind == "rest", records["step_mode"].to_numpy(dtype=object) == "CV"], [3, 2], 1)
    frame = pd.DataFrame({
        "mode": mode, "ox/red": (sign > 0).astype(int), "time/s": records["test_time_s"],
        "step time/s": records["step_time_s"],
        "Ewe/V": records["voltage_v"], "I/mA": records["current_ma"],
        "(Q-Qo)/mA.h": np.cumsum(flows(records) * sign), "half cycle": records["step"] - 1,
        "cycle number": records["cycle"] - 1,
    })[_MPT_COLUMNS]
    preamble = ""
    if header:
        lines = ["EC-Lab ASCII FILE", "Nb header lines : {n}", "", "Galvanostatic Cycling with Potential Limitation",
                 "", "Run on channel : 1 (SN 0001)", "Acquisition started on : 01/01/2024 00:00:00.000",
                 "EC-Lab for windows v11.50 (software)", ""]
        lines[1] = lines[1].format(n=len(lines) + 1)
        preamble = "\n".join(lines) + "\n"
    _save(frame, dest, preamble=preamble, sep="\t", decimal=decimal)


def write_neware_csv(records: pd.DataFrame, dest: BinaryIO) -> None:
    """Neware BTS record csv: DataPoint, Cycle Index, Step Index, Step Type, h:mm:ss times, Current(A),
    Chg./DChg. Cap.(Ah) and Energy(Wh) per step."""
    kind = records["step_kind"].to_numpy(dtype=object)
    mode = records["step_mode"].to_numpy(dtype=object)
    step = records["step"].to_numpy()
    cap, energy = flows(records), flows(records, "energy_mwh")
    charge, discharge = kind == "charge", kind == "discharge"
    step_type = np.where(kind == "rest", "Rest", np.char.add(np.where(mode == "CV", "CV ", "CC "),
                                                             np.where(charge, "Chg", "DChg")))
    frame = pd.DataFrame({
        "DataPoint": records["record"], "Cycle Index": records["cycle"], "Step Index": step,
        "Step Type": step_type, "Time": _clock(records["step_time_s"].to_numpy()),
        "Total Time": _clock(records["test_time_s"].to_numpy()), "Current(A)": records["current_ma"] / 1000,
        "Voltage(V)": records["voltage_v"],
        "Chg. Cap.(Ah)": _per_group(cap * charge, step) / 1000, "DChg. Cap.(Ah)": _per_group(cap * discharge, step) / 1000,
        "Chg. Energy(Wh)": _per_group(energy * charge, step) / 1000,
        "DChg. Energy(Wh)": _per_group(energy * discharge, step) / 1000,
        "Date": _stamps(records, "%Y-%m-%d %H:%M:%S"),
    })
    _save(frame, dest)


def write_neware_layered(records: pd.DataFrame, dest: BinaryIO) -> None:
    """Neware BTSDA 'general report' csv: a cycle layer (Cycle ID, Cap_Chg/Cap_DChg in mAh: the instrument's
    own per-cycle numbers), a step layer one column in (Step ID, Step Name, ...) and a record layer two columns
    in (Record ID, step time, Voltage(V), Current(mA), Capacity(mAh) per step, Energy(mWh), Realtime)."""
    kind = records["step_kind"].to_numpy(dtype=object)
    mode = records["step_mode"].to_numpy(dtype=object)
    step = records["step"].to_numpy()
    cycle = records["cycle"].to_numpy()
    cap, energy = _per_group(flows(records), step), _per_group(flows(records, "energy_mwh"), step)
    names = np.where(kind == "rest", "Rest", np.char.add(np.where(mode == "CV", "CV_", "CC_"),
                                                         np.where(kind == "charge", "Chg", "DChg")))
    stamps = _stamps(records, "%Y-%m-%d %H:%M:%S.%f")
    step_clock = _clock(records["step_time_s"].to_numpy())
    out = ["Cycle ID,Cap_Chg(mAh),Cap_DChg(mAh),Chg-DChg Eff(%)",
           ",Step ID,Step Name,Step Time(h:min:s.ms),Capacity(mAh),Energy(mWh)",
           ",,Record ID,Time(h:min:s.ms),Voltage(V),Current(mA),Capacity(mAh),Energy(mWh),Realtime"]
    frame = pd.DataFrame({"cycle": cycle, "step": step, "kind": kind, "cap": cap})
    # The instrument's per-cycle capacity: what each step of a direction (CC, then CV) reached, added up.
    steps = frame[frame["kind"] != "rest"].groupby(["cycle", "step", "kind"], sort=False)["cap"].max().reset_index()
    per_cycle = steps.pivot_table(index="cycle", columns="kind", values="cap", aggfunc="sum")
    firsts = np.r_[True, step[1:] != step[:-1]]
    last_of_step = pd.Series(np.arange(len(step))).groupby(step).transform("max").to_numpy()
    for i in range(len(records)):
        if i == 0 or cycle[i] != cycle[i - 1]:
            c = cycle[i]
            chg = per_cycle.at[c, "charge"] if "charge" in per_cycle and c in per_cycle.index else 0.0
            dchg = per_cycle.at[c, "discharge"] if "discharge" in per_cycle and c in per_cycle.index else 0.0
            eff = 100.0 * dchg / chg if chg else 0.0
            out.append(f"{c},{chg:.6f},{dchg:.6f},{eff:.3f}")
        if firsts[i]:
            j = last_of_step[i]
            out.append(f",{step[i]},{names[i]},{step_clock[j]},{cap[j]:.6f},{energy[j]:.6f}")
        out.append(f",,{records['record'].iat[i]},{step_clock[i]},{records['voltage_v'].iat[i]:.10g},"
                   f"{records['current_ma'].iat[i]:.10g},{cap[i]:.10g},{energy[i]:.10g},{stamps.iat[i]}")
    dest.write(("\n".join(out) + "\n").encode("utf-8"))


WRITERS = {"arbin": write_arbin_csv, "maccor": write_maccor_text, "biologic": write_biologic_mpt,
           "neware": write_neware_csv}
