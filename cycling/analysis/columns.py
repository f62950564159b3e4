"""The per-cycle column contract: every per-cycle column once, with its unit, label, meaning, precision and faces.

One table. The analysis' per-cycle table (summarize_cycles), the CycleSummary model's column list, the cycles API
serializer, the cell's CSV/XLSX download, the dataset zip's cycles.csv, `manage.py summarize`, monitoring's
rules frame and the cell page all read their columns from here, so a new per-cycle metric is one entry below plus
its computation (and, when it is stored, its model field: a test holds the model to this table).

`decimals` is the precision the measurement carries (LAND logs voltage to 0.1 mV, capacity to 1 nAh, time to
1 ms; per-gram figures inherit the ~0.1 % uncertainty of the weighed mass): exports round to it instead of
writing 17 digits of float noise. None = not a float (integers, text, flags).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Faces: who shows a column.
ANALYSIS = "analysis"      # computed by summarize_cycles (the rest are added by the ingest: file_cycle, ce_convention)
MODEL = "model"            # stored in CycleSummary and served by the cycles API (/api/v1/cells/<id>/cycles/)
EXPORT = "export"          # the cell's per-cycle CSV/XLSX download
DATASET = "dataset"        # cells/<cell>/cycles.csv in the dataset zip
SUMMARIZE = "summarize"    # the JSON of `manage.py summarize` / `land_summary`
MONITORING = "monitoring"  # the frame monitoring's rules read
PAGE = "page"              # plotted or tabulated on the cell page (read from the cycles API)
FACES = (ANALYSIS, MODEL, EXPORT, DATASET, SUMMARIZE, MONITORING, PAGE)

KINDS = ("int", "float", "text", "bool")


@dataclass(frozen=True)
class Column:
    """One per-cycle column: its name (carrying the unit), unit in words, label for people, what it means,
    decimals to round to on export (None: not a float), its kind and the faces that show it."""

    name: str
    unit: str
    label: str
    description: str
    decimals: int | None
    kind: str
    faces: frozenset[str]

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: kind must be one of {KINDS}, not {self.kind!r}")
        if (self.decimals is None) != (self.kind != "float"):
            raise ValueError(f"column {self.name}: a float column needs decimals, another kind none")
        unknown = set(self.faces) - set(FACES)
        if unknown:
            raise ValueError(f"column {self.name}: unknown face(s) {sorted(unknown)}")

    @property
    def header(self) -> str:
        """Label with its unit, as table headers show it: 'Discharge (mAh/g)'."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


_ALL = frozenset(FACES)


def _c(name, unit, label, description, decimals, kind="float", *, without=()) -> Column:
    return Column(name, unit, label, description, decimals, kind, _ALL - frozenset(without))


# Faces most columns skip: the rules read only capacities, CE, C-rate, segment and time; summarize prints the
# headline figures; the page plots capacity and CE with its C-rate bands.
_NOT_RULES = (MONITORING,)
_DETAIL = (MONITORING, SUMMARIZE, PAGE)

CYCLE_CONTRACT: tuple[Column, ...] = (
    _c("cycle", "", "Cycle (cell)", "The cell's cycle number on its timeline across files (the file's own number "
       "plus the file's offset).", None, "int"),
    _c("file_cycle", "", "Cycle in the file", "The cycle number in the data file itself.", None, "int",
       without=(ANALYSIS, SUMMARIZE, MONITORING, PAGE)),
    _c("first_record", "", "First record", "Record number of the cycle's first record in its file.", None, "int",
       without=(*_DETAIL, EXPORT)),
    _c("last_record", "", "Last record", "Record number of the cycle's last record in its file.", None, "int",
       without=(*_DETAIL, EXPORT)),
    _c("start_time_s", "s", "Start (test time)", "Test time of the cycle's first record.", 3, without=_DETAIL),
    _c("end_time_s", "s", "End (test time)", "Test time of the cycle's last record.", 3,
       without=(SUMMARIZE, PAGE)),
    _c("duration_s", "s", "Duration", "End minus start test time of the cycle.", 3, without=_DETAIL),
    _c("charge_mah", "mAh", "Charge", "Charge half-cycle capacity: the largest running capacity of its records.", 6),
    _c("discharge_mah", "mAh", "Discharge", "Discharge half-cycle capacity: the largest running capacity of its "
       "records.", 6),
    _c("charge_mah_g", "mAh/g", "Charge", "Charge capacity per gram of active material (empty without a mass).", 3),
    _c("discharge_mah_g", "mAh/g", "Discharge", "Discharge capacity per gram of active material (empty without a "
       "mass).", 3),
    _c("charge_mah_cm2", "mAh/cm²", "Charge", "Charge capacity per electrode area.", 5, without=_DETAIL),
    _c("discharge_mah_cm2", "mAh/cm²", "Discharge", "Discharge capacity per electrode area.", 5, without=_DETAIL),
    _c("ce_percent", "%", "Coulombic efficiency", "Second half over first half x 100 (see ce_convention); "
       "empty for a partial cycle.", 3),
    _c("ce_convention", "", "CE convention", "discharge/charge for a cell that charges first, charge/discharge for "
       "one that discharges first.", None, "text", without=(ANALYSIS, SUMMARIZE, PAGE)),
    _c("charge_energy_mwh", "mWh", "Charge energy", "Energy of the charge half-cycle.", 6, without=_DETAIL),
    _c("discharge_energy_mwh", "mWh", "Discharge energy", "Energy of the discharge half-cycle.", 6, without=_DETAIL),
    _c("charge_wh_kg", "Wh/kg", "Charge energy", "Charge energy per kg of active material.", 2, without=_DETAIL),
    _c("discharge_wh_kg", "Wh/kg", "Discharge energy", "Discharge energy per kg of active material.", 2,
       without=_DETAIL),
    _c("mean_charge_v", "V", "Mean charge voltage", "Charge energy over charge capacity.", 4, without=_DETAIL),
    _c("mean_discharge_v", "V", "Mean discharge voltage", "Discharge energy over discharge capacity.", 4,
       without=_DETAIL),
    _c("median_charge_v", "V", "Median charge voltage", "Voltage where the charge reaches half its capacity.", 4,
       without=_DETAIL),
    _c("median_discharge_v", "V", "Median discharge voltage", "Voltage where the discharge reaches half its "
       "capacity.", 4, without=_DETAIL),
    _c("hysteresis_v", "V", "Hysteresis", "Mean charge minus mean discharge voltage.", 4, without=_DETAIL),
    _c("cc_charge_fraction", "1", "CC fraction of charge", "Share of the charge capacity delivered at constant "
       "current (the rest in CV).", 4, without=_DETAIL),
    _c("c_rate", "1/h", "C-rate", "Mean |CC current| of the two halves over the 1C current (theoretical capacity "
       "x active mass).", 4, without=(MONITORING, PAGE)),
    _c("c_rate_label", "", "C-rate label", "Nearest standard C-rate, e.g. C/3.", None, "text", without=(SUMMARIZE,)),
    _c("segment", "", "Segment", "formation, rate-test, long-term or other.", None, "text"),
    _c("is_partial", "", "Partial cycle", "The run stopped inside this cycle (its CE is not defined).", None, "bool"),
    _c("dqdv_peak_charge_v", "V", "dQ/dV peak, charge", "Voltage of the main dQ/dV peak of the charge.", 4,
       without=(MONITORING, PAGE)),
    _c("dqdv_peak_discharge_v", "V", "dQ/dV peak, discharge", "Voltage of the main dQ/dV peak of the discharge.", 4,
       without=(MONITORING, PAGE)),
)

BY_NAME: dict[str, Column] = {c.name: c for c in CYCLE_CONTRACT}
if len(BY_NAME) != len(CYCLE_CONTRACT):
    raise RuntimeError("CYCLE_CONTRACT names a column twice")


def columns_for(face: str) -> tuple[Column, ...]:
    """The contracted columns a face shows, in the contract's order."""
    if face not in FACES:
        raise ValueError(f"unknown face {face!r}; faces are {', '.join(FACES)}")
    return tuple(c for c in CYCLE_CONTRACT if face in c.faces)


def names_for(face: str) -> list[str]:
    """The names of columns_for(face)."""
    return [c.name for c in columns_for(face)]


def headers_for(face: str) -> list[tuple[str, str]]:
    """[(name, 'Label (unit)')] of a face: the (key, header) pairs table exports take."""
    return [(c.name, c.header) for c in columns_for(face)]


def rounded(name: str, value: Any) -> Any:
    """A value rounded to its column's precision; NaN/inf -> None; non-float columns and unknown names unchanged."""
    if value is None:
        return None
    col = BY_NAME.get(name)
    if col is None or col.decimals is None:
        return value
    value = float(value)
    if not math.isfinite(value):
        return None
    return round(value, col.decimals)


def rounded_row(row: dict) -> dict:
    """A row (name -> value) with every contracted float rounded to its precision (rounded())."""
    return {k: rounded(k, v) for k, v in row.items()}
