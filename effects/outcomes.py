"""Per-cell outcomes and build facts of a set of cells: the effects page's one adapter to the rest of the app.

Outcomes come from the app's own metric functions, never re-derived here: cycling ones from the cells' stored
figures (cycling.models.CellFigures, computed by cycling.analysis.cell_metrics when the cell's data change) and
the rows of the one cycle an outcome is read at; R_int from impedance.selectors.r_int_after_formation and
rint_frame. When the metric definitions move, only this module follows. Facts come from the build sheet (cells.models).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
from django.db.models import Max

from cells.models import Cell, PressingStep

from .stats import CATEGORICAL, NO_LEVEL, NUMERIC


@dataclass(frozen=True)
class Outcome:
    """A per-cell outcome: key, label, unit; `at_cycle` when it needs `cycle=N`; `protocol`: what a cell's
    protocol signature for it is made of ('formation', 'cycle', 'long-term', 'eis')."""

    key: str
    label: str
    unit: str
    protocol: str
    at_cycle: bool = False


OUTCOMES: dict[str, Outcome] = {o.key: o for o in [
    Outcome("initial_ce_percent", "ICE", "%", "formation"),
    Outcome("first_charge_mah_g", "First charge capacity", "mAh/g", "formation"),
    Outcome("first_discharge_mah_g", "First discharge capacity", "mAh/g", "formation"),
    Outcome("discharge_at_cycle_mah_g", "Discharge capacity at cycle N", "mAh/g", "cycle", at_cycle=True),
    Outcome("retention_at_cycle_percent", "Retention at cycle N", "%", "cycle", at_cycle=True),
    Outcome("retention_percent", "Retention at the last cycle", "%", "long-term"),
    Outcome("decay_percent_per_cycle", "Capacity decay", "%/cycle", "long-term"),
    Outcome("cycles_to_80_percent", "Cycles to 80 % of reference", "cycles", "long-term"),
    Outcome("r_int_after_formation_ohm", "R_int after formation", "Ω", "eis"),
    Outcome("r_int_after_formation_ohm_cm2", "R_int after formation (area-specific)", "Ω·cm²", "eis"),
    Outcome("r_int_at_cycle_ohm", "R_int at cycle N", "Ω", "eis", at_cycle=True),
    Outcome("r_int_growth_percent", "R_int growth from after formation to cycle N (or the last spectrum)", "%",
            "eis"),
]}


@dataclass(frozen=True)
class Factor:
    """A build-sheet fact: key, label, unit ('' for categorical), kind and how to read it from a cell (a Cell or a
    row of CELL_FIELDS) and the names looked up once for all cells (`extra`, see facts_frame)."""

    key: str
    label: str
    kind: str
    unit: str
    read: Callable[[Cell, dict], object]


# What the effects read of a cell: its own columns only (related names come from one query per kind, see
# facts_frame), so hundreds of selected cells cost a list of plain rows, not a Cell and 7 related objects each.
CELL_FIELDS = ("pk", "name", "coating_id", "electrolyte_id", "electrolyte_batch_id", "catholyte_id",
               "cathode_material_id", "anode_id", "builder", "stack_pressure_mpa", "composite_loading_mg_cm2",
               "cathode_active_fraction", "temperature_c", "voltage_min_v", "voltage_max_v", "voltage_reference")


class CellRow(SimpleNamespace):
    """A cell as the effects read it: the attributes of CELL_FIELDS (as on a Cell: pk, coating_id, ...)."""


class Selection(list):
    """The selected cells (CellRow) and `ids`, the query of their ids: the reads of hundreds of cells send one
    subquery rather than hundreds of parameters (each costs the client ~5 ms at 500 cells)."""

    def __init__(self, rows, ids):
        super().__init__(rows)
        self.ids = ids


def _cell_ids(cells):
    """What a filter on these cells' ids takes: the selection's id subquery, else the list of their pks."""
    ids = getattr(cells, "ids", None)
    return ids if ids is not None else [c.pk for c in cells]


def _material(field: str) -> Callable[[Cell, dict], str | None]:
    def read(cell: Cell, extra: dict) -> str | None:
        material_id = getattr(cell, field)
        return None if material_id is None else extra["materials"][material_id]
    return read


def _coating(index: int, default=None) -> Callable[[Cell, dict], object]:
    """(material name, thickness nm, wt%)[index] of the cell's coating; `default` for a bare cathode."""
    def read(cell: Cell, extra: dict):
        return extra["coatings"][cell.coating_id][index] if cell.coating_id else default
    return read


def _pressing_t(layer: str) -> Callable[[Cell, dict], float | None]:
    def read(cell: Cell, extra: dict) -> float | None:
        return extra["pressing"].get(cell.pk, {}).get(layer)
    return read


def _pressing(ids) -> dict[int, dict[str, float]]:
    """{cell id: {layer: highest force (t)}} of the cells' pressing steps: one query, no object per step."""
    rows = (PressingStep.objects.filter(cell_id__in=ids).order_by()
            .values_list("cell_id", "layer").annotate(force_t=Max("force_t")))
    found: dict[int, dict[str, float]] = {}
    for cell_id, layer, force_t in rows:
        found.setdefault(cell_id, {})[layer] = force_t
    return found


def _batch(cell: Cell, extra: dict) -> str | None:
    """The electrolyte batch's name where the build sheet has one."""
    batch = extra["batches"].get(cell.electrolyte_batch_id) if cell.electrolyte_batch_id else None
    return None if batch in (None, "") else str(batch)


FACTORS: dict[str, Factor] = {f.key: f for f in [
    Factor("coating", "Coating", CATEGORICAL, "", _coating(0, NO_LEVEL)),
    Factor("electrolyte", "Separator electrolyte", CATEGORICAL, "", _material("electrolyte_id")),
    Factor("electrolyte_batch", "Electrolyte batch", CATEGORICAL, "", _batch),
    Factor("catholyte", "Catholyte", CATEGORICAL, "", _material("catholyte_id")),
    Factor("cathode_material", "Cathode active material", CATEGORICAL, "", _material("cathode_material_id")),
    Factor("anode", "Anode", CATEGORICAL, "", _material("anode_id")),
    Factor("operator", "Operator (builder)", CATEGORICAL, "", lambda c, x: c.builder or None),
    Factor("cycler", "Cycler device", CATEGORICAL, "", lambda c, x: x["devices"].get(c.pk)),
    Factor("stack_pressure_mpa", "Stack pressure", NUMERIC, "MPa", lambda c, x: c.stack_pressure_mpa),
    Factor("cathode_pressing_t", "Cathode pressing force", NUMERIC, "t", _pressing_t(PressingStep.Layer.CATHODE)),
    Factor("separator_pressing_t", "Separator pressing force", NUMERIC, "t",
           _pressing_t(PressingStep.Layer.SEPARATOR)),
    Factor("anode_pressing_t", "Anode pressing force", NUMERIC, "t", _pressing_t(PressingStep.Layer.ANODE)),
    Factor("stack_pressing_t", "Whole-stack pressing force", NUMERIC, "t", _pressing_t(PressingStep.Layer.STACK)),
    Factor("composite_loading_mg_cm2", "Composite loading", NUMERIC, "mg/cm²", lambda c, x: c.composite_loading_mg_cm2),
    Factor("cathode_active_fraction", "Cathode active fraction", NUMERIC, "",
           lambda c, x: c.cathode_active_fraction),
    Factor("coating_thickness_nm", "Coating thickness", NUMERIC, "nm", _coating(1)),
    Factor("coating_wt_percent", "Coating content", NUMERIC, "wt%", _coating(2)),
    Factor("temperature_c", "Test temperature", NUMERIC, "°C", lambda c, x: c.temperature_c),
]}


def _devices(ids) -> dict[int, str]:
    """{cell id: the cycler device(s) of its shown cycling files, joined}: one query."""
    from cycling.models import DataFile, shown_results

    rows = (DataFile.objects.filter(shown_results(), cell__in=ids, kind=DataFile.Kind.CYCLING,
                                    device__isnull=False).values_list("cell_id", "device__name").distinct())
    found: dict[int, set[str]] = {}
    for cell_id, name in rows:
        found.setdefault(cell_id, set()).add(name)
    return {pk: " + ".join(sorted(names)) for pk, names in found.items()}


def _names(cells) -> dict:
    """The related names the facts need, one query per kind (materials, coatings, electrolyte batches), none
    for a kind no cell uses."""
    from cells.models import Coating, ElectrolyteBatch, Material

    material_ids = {getattr(c, f) for c in cells
                    for f in ("electrolyte_id", "catholyte_id", "cathode_material_id", "anode_id")} - {None}
    coating_ids = {c.coating_id for c in cells} - {None}
    batch_ids = {c.electrolyte_batch_id for c in cells} - {None}
    materials = dict(Material.objects.filter(pk__in=material_ids).values_list("pk", "name")) if material_ids else {}
    coatings = {pk: (name, thickness, wt) for pk, name, thickness, wt in Coating.objects.filter(pk__in=coating_ids)
                .values_list("pk", "material__name", "thickness_nm", "wt_percent")} if coating_ids else {}
    batches = dict(ElectrolyteBatch.objects.filter(pk__in=batch_ids).values_list("pk", "name")) if batch_ids else {}
    return {"materials": materials, "coatings": coatings, "batches": batches}


def facts_frame(cells: list[Cell]) -> pd.DataFrame:
    """One row per cell (index: cell id), one column per build fact (None/NaN where not recorded). `cells`:
    Cell instances or CellRow (effects.selectors.selected_cells)."""
    ids = _cell_ids(cells)
    extra = {"devices": _devices(ids), "pressing": _pressing(ids), **_names(cells)}
    data = {key: [f.read(c, extra) for c in cells] for key, f in FACTORS.items()}
    frame = pd.DataFrame(data, index=[c.pk for c in cells])
    for key, f in FACTORS.items():
        if f.kind == NUMERIC:
            frame[key] = pd.to_numeric(frame[key], errors="coerce").astype(float)
    return frame


def _window(cell: Cell) -> str:
    lo, hi = cell.voltage_min_v, cell.voltage_max_v
    window = f"{lo:g}–{hi:g} V vs {cell.voltage_reference}" if lo is not None and hi is not None else "window ?"
    temp = f"{cell.temperature_c:g} °C" if cell.temperature_c is not None else "room temperature"
    return f"{window}, {temp}"


def outcome_frame(cells: list[Cell], outcome: Outcome, cycle: int | None = None) -> pd.DataFrame:
    """One row per cell (index: cell id): `value` of the outcome (NaN when it cannot be had), `why` when
    missing, and `protocol`, the protocol signature the outcome depends on (C-rate of the cycle(s) it is
    read at, voltage window, temperature; the EIS cycle for R_int).

    Cycling outcomes are read from the cells' stored figures (cycling.models.CellFigures, computed by
    cell_metrics and recomputed first where the data moved on) and, for cycle 1's C-rate or the value at
    cycle N, from that one cycle's rows: a fixed number of queries, nothing recomputed per request."""
    if outcome.protocol == "eis":
        return _rint_outcome(cells, outcome, cycle)
    from cycling.selectors import cells_cycles_frame
    from cycling.services import cell_figures_of

    ids = _cell_ids(cells)
    figures = cell_figures_of(cell_ids=ids, rows=True) if cells else {}
    read_at = {"formation": 1, "cycle": cycle}.get(outcome.protocol)
    at_cycle = {}
    if read_at is not None and cells:
        # The cycle's row on each timeline (the later file where two overlap), used only when complete, as
        # cell_metrics uses only complete cycles.
        frame = cells_cycles_frame(ids, cycles=[read_at])
        complete = frame[~frame["is_partial"].astype(bool)]
        at_cycle = {int(row.cell_id): row for row in complete.itertuples(index=False)}
    rows = []
    for cell in cells:
        figs = figures.get(cell.pk)
        if figs is None or figs.latest_cycle is None:  # no complete cycle
            rows.append((cell.pk, np.nan, "no cycling data", ""))
            continue
        value, why, rate = _cycling_value(outcome, figs, at_cycle.get(cell.pk), cycle)
        rows.append((cell.pk, value, why, f"{rate}; {_window(cell)}"))
    return pd.DataFrame(rows, columns=["cell", "value", "why", "protocol"]).set_index("cell")


def _cycling_value(outcome: Outcome, figs, row, cycle: int | None):
    """(value, why missing, C-rate part of the protocol) of one cell's cycling outcome, from its stored figures
    and its row at the cycle the outcome is read at (cycle 1 for formation, N for 'at cycle N'; None if absent)."""
    key = outcome.key
    per_g = figs.capacity_unit == "mAh/g"
    label = (row.c_rate_label if row is not None else "") or "?"
    if outcome.protocol == "formation":
        value = getattr(figs, key)
        why = "" if value is not None else ("no active mass on the build sheet" if not per_g and key != "initial_ce_percent"
                                            else "cycle 1 incomplete")
        return _num(value), why, f"cycle 1 at {label}"
    if outcome.protocol == "cycle":
        if row is None:
            return np.nan, f"did not reach cycle {cycle}", ""
        cap = float(row.discharge_mah_g)
        if key == "retention_at_cycle_percent":
            # The one definition (cycling.analysis.retention_series) on cell_metrics' basis (the delivered half,
            # per gram) and reference: the stored reference cycle and its capacity.
            from cycling.analysis import retention_series

            ref_cycle = figs.retention_reference_cycle
            value = np.nan
            if per_g:
                delivered = float(getattr(row, f"{figs.capacity_half}_mah_g"))
                value = float(retention_series(np.array([ref_cycle, cycle], dtype=object),
                                               np.array([figs.reference_capacity, delivered], dtype=float),
                                               ref_cycle)[1])
            return value, "" if np.isfinite(value) else "no reference capacity", (
                f"cycle {cycle} at {label} vs cycle {ref_cycle}")
        return cap, "" if np.isfinite(cap) else "no active mass on the build sheet", f"cycle {cycle} at {label}"
    # long-term: retention at last, decay, cycles to 80 %
    value = _num(getattr(figs, key))
    rate = figs.long_term_c_rate_label or "?"
    why = "" if np.isfinite(value) else ("did not fall to 80 % of the reference" if key == "cycles_to_80_percent"
                                         else "not enough cycles")
    return value, why, f"long-term at {rate}"


def _num(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return np.nan
    return value if np.isfinite(value) else np.nan


def _rint_outcome(cells: list[Cell], outcome: Outcome, cycle: int | None) -> pd.DataFrame:
    """R_int outcomes from the cells' current EIS fits (after formation: the one definition compare also uses)."""
    from impedance.selectors import r_int_after_formation, rint_frame

    after = r_int_after_formation(cells)
    frame = rint_frame(cells) if cells and outcome.key in ("r_int_at_cycle_ohm", "r_int_growth_percent") else None
    rows = []
    for cell in cells:
        first = after.get(cell.pk) or {}
        temp = f"{cell.temperature_c:g} °C" if cell.temperature_c is not None else "room temperature"
        if outcome.key in ("r_int_after_formation_ohm", "r_int_after_formation_ohm_cm2"):
            field = "r_int_ohm" if outcome.key.endswith("_ohm") else "r_int_ohm_cm2"
            value = _num(first.get(field))
            why = "" if np.isfinite(value) else ("no EIS spectrum" if not first else "no R_int in the fit")
            rows.append((cell.pk, value, why, f"EIS after cycle {first.get('r_int_cycle', '?')}, {temp}"))
            continue
        mine = frame[(frame["cell"] == cell.pk) & frame["r_int_ohm"].notna()] if frame is not None else frame
        mine = mine.sort_values(["cycle", "datafile", "sweep"], na_position="first", kind="stable")
        if cycle is not None:
            at = mine[mine["cycle"] == cycle]
        else:
            at = mine[mine["cycle"].notna()].tail(1)
        r_at = _num(at["r_int_ohm"].iloc[0]) if len(at) else np.nan
        at_cycle = int(at["cycle"].iloc[0]) if len(at) else cycle
        if outcome.key == "r_int_at_cycle_ohm":
            why = "" if np.isfinite(r_at) else f"no EIS fit after cycle {cycle}"
            rows.append((cell.pk, r_at, why, f"EIS after cycle {cycle}, {temp}"))
            continue
        r0 = _num(first.get("r_int_ohm"))
        value = (r_at - r0) / r0 * 100.0 if np.isfinite(r0) and np.isfinite(r_at) and r0 else np.nan
        if np.isfinite(value) and at_cycle == first.get("r_int_cycle"):
            value, why = np.nan, "only one EIS cycle"
        else:
            why = "" if np.isfinite(value) else "no EIS after formation and later"
        rows.append((cell.pk, value, why, f"EIS after cycles {first.get('r_int_cycle', '?')}→{at_cycle}, {temp}"))
    return pd.DataFrame(rows, columns=["cell", "value", "why", "protocol"]).set_index("cell")
