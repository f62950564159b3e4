"""The one header-alias table, the one unit table and the Step-State codes of LAND exports."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Canonical column -> the dimension its values carry (unit conversion checks the header's unit against it).
CANONICAL_DIMENSION: dict[str, str] = {
    "record": "count",
    "test_time_s": "time",
    "step_time_s": "time",
    "duration_s": "time",
    "current_ma": "current",
    "voltage_v": "voltage",
    "start_voltage_v": "voltage",
    "end_voltage_v": "voltage",
    "median_charge_v": "voltage",
    "median_discharge_v": "voltage",
    "capacity_mah": "capacity",
    "charge_mah": "capacity",
    "discharge_mah": "capacity",
    "specific_capacity_mah_g": "specific_capacity",
    "charge_mah_g": "specific_capacity",
    "discharge_mah_g": "specific_capacity",
    "energy_mwh": "energy",
    "charge_energy_mwh": "energy",
    "discharge_energy_mwh": "energy",
    "ce_percent": "percent",
    "sys_time": "datetime",
    "cycle": "count",
    "step": "count",
    "state": "text",
}

# THE alias table: header name (the part before the first '/', compared case-insensitively with blanks
# removed) -> canonical column. Chinese spellings sit next to the English ones.
ALIASES: dict[str, str] = {
    # Record-Tab
    "record": "record", "index": "record", "记录": "record", "记录序号": "record", "序号": "record",
    "数据序号": "record",
    "testtime": "test_time_s", "totaltime": "test_time_s", "测试时间": "test_time_s", "总时间": "test_time_s",
    "steptime": "step_time_s", "工步时间": "step_time_s",
    "current": "current_ma", "电流": "current_ma",
    "voltage": "voltage_v", "电压": "voltage_v",
    "capacity": "capacity_mah", "容量": "capacity_mah",
    "specap": "specific_capacity_mah_g", "比容量": "specific_capacity_mah_g",
    "energy": "energy_mwh", "能量": "energy_mwh",
    "systime": "sys_time", "系统时间": "sys_time",
    "cycleindex": "cycle", "cycle": "cycle", "循环序号": "cycle", "循环": "cycle",
    "循环号": "cycle",
    "stepindex": "step", "step": "step", "工步序号": "step", "工步号": "step",
    "stepstate": "state", "state": "state", "stepmode": "state", "mode": "state",
    "工步状态": "state", "状态": "state", "工作模式": "state", "工步模式": "state",
    # Cycle-Tab
    "capc": "charge_mah", "充电容量": "charge_mah",
    "capd": "discharge_mah", "放电容量": "discharge_mah",
    "specapc": "charge_mah_g", "充电比容量": "charge_mah_g",
    "specapd": "discharge_mah_g", "放电比容量": "discharge_mah_g",
    "efficiency": "ce_percent", "库仑效率": "ce_percent", "库伦效率": "ce_percent", "效率": "ce_percent",
    "energyc": "charge_energy_mwh", "充电能量": "charge_energy_mwh",
    "energyd": "discharge_energy_mwh", "放电能量": "discharge_energy_mwh",
    "medvoltc": "median_charge_v", "充电中值电压": "median_charge_v",
    "medvoltd": "median_discharge_v", "放电中值电压": "median_discharge_v",
    # Step-Tab
    "startvolt": "start_voltage_v", "起始电压": "start_voltage_v",
    "endvolt": "end_voltage_v", "终止电压": "end_voltage_v",
    "period": "duration_s",
}

# In a Step-Tab the step's own time is its duration.
STEP_TABLE_RENAMES = {"step_time_s": "duration_s"}

# THE unit table: unit as written in a header (or unit row) -> (dimension, factor to the canonical unit,
# suffix for a kept non-canonical column name).
UNITS: dict[str, tuple[str, float, str]] = {
    "sec": ("time", 1.0, "s"), "s": ("time", 1.0, "s"), "秒": ("time", 1.0, "s"),
    "min": ("time", 60.0, "s"), "h": ("time", 3600.0, "s"),
    "ua": ("current", 1e-3, "ma"), "µa": ("current", 1e-3, "ma"), "μa": ("current", 1e-3, "ma"),
    "ma": ("current", 1.0, "ma"), "a": ("current", 1e3, "ma"), "na": ("current", 1e-6, "ma"),
    "uah": ("capacity", 1e-3, "mah"), "µah": ("capacity", 1e-3, "mah"), "μah": ("capacity", 1e-3, "mah"),
    "mah": ("capacity", 1.0, "mah"), "ah": ("capacity", 1e3, "mah"),
    "uwh": ("energy", 1e-3, "mwh"), "µwh": ("energy", 1e-3, "mwh"), "μwh": ("energy", 1e-3, "mwh"),
    "mwh": ("energy", 1.0, "mwh"), "wh": ("energy", 1e3, "mwh"),
    "v": ("voltage", 1.0, "v"), "mv": ("voltage", 1e-3, "v"),
    "mah/g": ("specific_capacity", 1.0, "mah_g"), "ah/kg": ("specific_capacity", 1.0, "mah_g"),
    "uah/g": ("specific_capacity", 1e-3, "mah_g"), "µah/g": ("specific_capacity", 1e-3, "mah_g"),
    "μah/g": ("specific_capacity", 1e-3, "mah_g"), "ah/g": ("specific_capacity", 1e3, "mah_g"),
    "wh/kg": ("specific_energy", 1.0, "wh_kg"), "mwh/g": ("specific_energy", 1.0, "wh_kg"),
    "uwh/g": ("specific_energy", 1e-3, "wh_kg"),
    "%": ("percent", 1.0, "percent"),
    "mohm": ("resistance", 1.0, "mohm"), "ohm": ("resistance", 1e3, "mohm"),
    "f": ("capacitance", 1.0, "f"), "dc.": ("temperature", 1.0, "degc"), "dc": ("temperature", 1.0, "degc"),
    "°c": ("temperature", 1.0, "degc"), "℃": ("temperature", 1.0, "degc"),
}

# Dimensions whose unit must be stated: guessing mA versus uA is how numbers end up 1000x off.
UNIT_REQUIRED = {"current", "capacity", "energy"}
DEFAULT_UNIT = {"time": "s", "voltage": "v", "specific_capacity": "mah/g", "percent": "%"}

# THE step-state table of every instrument: code (upper case, blanks as '_') -> (step_kind, step_mode).
# 'CCCV' is split into CC and CV per record. Unknown codes take the current's sign.
STEP_STATES: dict[str, tuple[str, str]] = {
    # LAND Step-State
    "R": ("rest", ""), "REST": ("rest", ""), "静置": ("rest", ""), "搁置": ("rest", ""),
    "C_CC": ("charge", "CC"), "CCC": ("charge", "CC"), "RATEC": ("charge", "CC"), "CC-RATE": ("charge", "CC"),
    "C_CRATE": ("charge", "CC"), "CC_CHG": ("charge", "CC"), "恒流充电": ("charge", "CC"),
    "D_CC": ("discharge", "CC"), "CCD": ("discharge", "CC"), "RATED": ("discharge", "CC"),
    "DC-RATE": ("discharge", "CC"), "D_CRATE": ("discharge", "CC"), "CC_DCHG": ("discharge", "CC"),
    "恒流放电": ("discharge", "CC"),
    "C_CV": ("charge", "CV"), "CV": ("charge", "CV"), "CVC": ("charge", "CV"), "恒压充电": ("charge", "CV"),
    "D_CV": ("discharge", "CV"), "CVD": ("discharge", "CV"), "恒压放电": ("discharge", "CV"),
    "CCCV": ("charge", "CCCV"), "C_CCCV": ("charge", "CCCV"), "恒流恒压充电": ("charge", "CCCV"),
    # Neware BTS / .nda step types
    "PAUSE": ("rest", ""), "CP_CHG": ("charge", "CP"), "CR_CHG": ("charge", "CR"), "CV_CHG": ("charge", "CV"),
    "CCCV_CHG": ("charge", "CCCV"), "CV_DCHG": ("discharge", "CV"), "CCCV_DCHG": ("discharge", "CCCV"),
    "CP_DCHG": ("discharge", "CP"), "CR_DCHG": ("discharge", "CR"), "恒流恒压放电": ("discharge", "CCCV"),
    # Maccor State column
    "C": ("charge", ""), "D": ("discharge", ""), "O": ("rest", ""), "S": ("rest", ""),
    # LANHE work modes
    "C_RATE": ("charge", "CC"), "D_RATE": ("discharge", "CC"), "C_CP": ("charge", "CP"), "D_CP": ("discharge", "CP"),
}


@dataclass(frozen=True)
class Header:
    """One parsed header cell: canonical name (or None), unit key (or None) and the text as written."""

    raw: str
    name: str
    unit: str | None
    canonical: str | None


def normalise_name(name: str) -> str:
    """THE header-name normaliser: compared without case, blanks, dots, underscores or hyphens
    ('Cycle_Index', 'Cycle-Index' and 'cycle index' are one name)."""
    return re.sub(r"[\s._\-]+", "", str(name)).lower()


def parse_header(raw: object) -> Header:
    """Split at the FIRST '/': 'SpeCap/mAh/g' -> name 'SpeCap', unit 'mAh/g'."""
    text = "" if raw is None else str(raw).strip()
    name, sep, unit = text.partition("/")
    unit_key = unit.strip().lower() if sep else None
    return Header(raw=text, name=name.strip(), unit=unit_key or None, canonical=ALIASES.get(normalise_name(name)))


def snake_name(header: Header) -> str:
    """A non-canonical column kept under a snake_case name with its unit as a suffix ('CC-Cap/mAh' -> cc_cap_mah)."""
    base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", header.name)
    base = re.sub(r"[^0-9A-Za-z\u4e00-\u9fff]+", "_", base).strip("_").lower() or "column"
    if header.unit:
        unit = UNITS.get(header.unit)
        suffix = unit[2] if unit else re.sub(r"[^0-9a-z]+", "_", header.unit).strip("_")
        if suffix:
            base = f"{base}_{suffix}"
    return base


def is_unit_text(value: object) -> bool:
    """True for the cells of an old export's unit row ('mA', 'Sec', 'mAh', ...)."""
    if value is None:
        return True
    text = str(value).strip().strip("()[]").lower()
    return text == "" or text in UNITS or text in {"hh:mm:ss", "h:min:s", "h:m:s", "d-hh:mm:ss"}
