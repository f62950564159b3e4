"""Per-cell outcomes and build facts of a set of cells: the effects page's one adapter to the rest of the app.

Outcomes come from the app's own metric functions, never re-derived here: cycling ones from the cells' stored
figures (cycling.models.CellFigures, computed by cycling.analysis.cell_metrics when the cell's data change) and
the rows of the one cycle an outcome is read at; R_int from impedance.selectors.r_int_after_formation and
rint_frame. When the metric definitions move, only this module follows. Facts come from the build sheet (cells.models).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    """A build-sheet fact: key, label, unit ('' for categorical), kind and how to read it from a cell."""

    key: str
    label: str
    kind: str
    unit: str
    read: Callable[[Cell, dict], object]


def _name(obj) -> str | None:
    return None if obj is None else str(obj)


def _pressing_t(layer: str) -> Callable[[Cell, dict], float | None]:
    def read(cell: Cell, extra: dict) -> float | None:
        return extra["pressing"].get(cell.pk, {}).get(layer)
    return read


def _pressing(cells: list[Cell]) -> dict[int, dict[str, float]]:
    """{cell id: {layer: highest force (t)}} of the cells' pressing steps: one query, no object per step."""
    rows = (PressingStep.objects.filter(cell_id__in=[c.pk for c in cells]).order_by()
            .values_list("cell_id", "layer").annotate(force_t=Max("force_t")))
    found: dict[int, dict[str, float]] = {}
    for cell_id, layer, force_t in rows:
        found.setdefault(cell_id, {})[layer] = force_t
    return found


def _batch(cell: Cell, extra: dict) -> str | None:
    """The electrolyte batch where the build sheet has one (a solid-state specimen registry may add it)."""
    batch = getattr(cell, "electrolyte_batch", None)
    return None if batch in (None, "") else str(batch)


FACTORS: dict[str, Factor] = {f.key: f for f in [
    Factor("coating", "Coating", CATEGORICAL, "",
           lambda c, x: c.coating.material.name if c.coating_id else NO_LEVEL),
    Factor("electrolyte", "Separator electrolyte", CATEGORICAL, "", lambda c, x: _name(c.electrolyte)),
    Factor("electrolyte_batch", "Electrolyte batch", CATEGORICAL, "", _batch),
    Factor("catholyte", "Catholyte", CATEGORICAL, "", lambda c, x: _name(c.catholyte)),
    Factor("cathode_material", "Cathode active material", CATEGORICAL, "", lambda c, x: _name(c.cathode_material)),
    Factor("anode", "Anode", CATEGORICAL, "", lambda c, x: _name(c.anode)),
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
    Factor("coating_thickness_nm", "Coating thickness", NUMERIC, "nm",
           lambda c, x: c.coating.thickness_nm if c.coating_id else None),
    Factor("coating_wt_percent", "Coating content", NUMERIC, "wt%",
           lambda c, x: c.coating.wt_percent if c.coating_id else None),
    Factor("temperature_c", "Test temperature", NUMERIC, "°C", lambda c, x: c.temperature_c),
]}


def _devices(cells: list[Cell]) -> dict[int, str]:
    """{cell id: the cycler device(s) of its shown cycling files, joined}: one query."""
    from cycling.models import DataFile, shown_results

    rows = (DataFile.objects.filter(shown_results(), cell__in=[c.pk for c in cells], kind=DataFile.Kind.CYCLING,
                                    device__isnull=False).values_list("cell_id", "device__name").distinct())
    found: dict[int, set[str]] = {}
    for cell_id, name in rows:
        found.setdefault(cell_id, set()).add(name)
    return {pk: " + ".join(sorted(names)) for pk, names in found.items()}


def facts_frame(cells: list[Cell]) -> pd.DataFrame:
    """One row per cell (index: cell id), one column per build fact (None/NaN where not recorded)."""
    extra = {"devices": _devices(cells), "pressing": _pressing(cells)}
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

    ids = [c.pk for c in cells]
    figures = cell_figures_of(cell_ids=ids) if cells else {}
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
