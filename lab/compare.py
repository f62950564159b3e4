"""Compare cell groups and cells: one CycleSummary query, aggregated with pandas into plot series and summaries.

The selection is groups and/or single cells, always scoped to what the user may see. A group's curve is
the mean across its replicate cells per cycle with sd/min/max; retention is each cell's delivered capacity
over its capacity at the reference cycle (the chosen one, else the project's, else the first long-term cycle),
by cycling.analysis.fade.retention_series. Run-level figures per cell come from cycling.analysis.cell_metrics,
so the numbers here are the ones the rest of the app reports. R_int after formation is each cell's earliest EIS spectrum (lowest
known after_cycle; spectra of unknown cycle only when there is no other), read with one more query.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.urls import reverse

from assb_lab.lib import parse_ids
from assb_lab.params import query_number
from cells.models import Cell, CellGroup
from cells.selectors import groups_visible_to
from cycling.analysis import C_RATE_LABELS, cell_metrics, cell_retention_series
from cycling.selectors import CELL_FRAME_FIELDS, cells_cycles_frame, metric_references
from impedance.selectors import r_int_after_formation

PALETTE = ["#2459c5", "#d92d20", "#079455", "#dc6803", "#7a5af8", "#0e9384", "#c11574", "#475467"]
_RATE_ORDER = {name: value for name, value in C_RATE_LABELS}

# The summary table, one list: key, header with units, decimals. Exports and the page use it as is.
SUMMARY_METRICS: list[tuple[str, str, int]] = [
    ("initial_ce_percent", "ICE (%)", 1),
    ("first_charge_mah_g", "1st charge (mAh/g)", 1),
    ("first_discharge_mah_g", "1st discharge (mAh/g)", 1),
    ("r_int_ohm", "R_int after formation (Ω)", 1),
    ("r_int_ohm_cm2", "R_int after formation (Ω·cm²)", 1),
    ("r_int_cycle", "R_int measured after cycle", 0),
    ("capacity_100_mah_g", "Discharge at cycle 100 (mAh/g)", 1),
    ("capacity_500_mah_g", "Discharge at cycle 500 (mAh/g)", 1),
    ("last_cycle", "Last cycle", 0),
    ("last_capacity_mah_g", "Discharge at last cycle (mAh/g)", 1),
    ("retention_reference_cycle", "Retention reference cycle", 0),
    ("retention_percent", "Retention at last cycle (%)", 1),
    ("decay_percent_per_cycle", "Decay (%/cycle)", 3),
    ("decay_reference_cycle", "Decay reference cycle", 0),
    ("cycles_to_80_percent", "Cycles to 80 % of reference", 0),
    ("knee_cycle", "Knee cycle", 0),
]
# Cycle numbers naming a reference: a group shows the shared value (None when replicates differ).
REFERENCE_KEYS = {"retention_reference_cycle", "decay_reference_cycle", "r_int_cycle"}
CELL_ID_COLUMNS = [("cell", "Cell"), ("group", "Group")]
GROUP_ID_COLUMNS = [("group", "Group"), ("n_cells", "Cells (n)")]


@dataclass(frozen=True)
class Selection:
    """What to compare: group ids, cell ids and the retention reference cycle (None = per-cell default)."""

    group_ids: tuple[int, ...] = ()
    cell_ids: tuple[int, ...] = ()
    reference_cycle: int | None = None

    @property
    def is_empty(self) -> bool:
        return not self.group_ids and not self.cell_ids

    def querystring(self) -> str:
        parts = []
        if self.group_ids:
            parts.append("groups=" + ",".join(map(str, self.group_ids)))
        if self.cell_ids:
            parts.append("cells=" + ",".join(map(str, self.cell_ids)))
        if self.reference_cycle:
            parts.append(f"reference_cycle={self.reference_cycle}")
        return "&".join(parts)


def selection_from(params) -> Selection:
    """A Selection from a querystring (groups=1,2&cells=5&reference_cycle=3); lists may repeat the key."""
    def joined(key):
        return ",".join(params.getlist(key)) if hasattr(params, "getlist") else params.get(key, "")

    return Selection(parse_ids(joined("groups")), parse_ids(joined("cells")),
                     query_number(params, "reference_cycle", kind=int, min_value=1))


def _round(values, decimals: int) -> list:
    """Rounded floats for JSON, NaN -> None (vectorised; decimals=0 gives ints)."""
    arr = np.round(np.asarray(values, dtype=float), decimals)
    finite = np.isfinite(arr)
    out = (np.where(finite, arr, 0).astype(np.int64) if decimals == 0 else arr).astype(object)
    out[~finite] = None
    return out.tolist()


def _num(value, decimals: int):
    if value is None:
        return None
    value = float(value)
    if not np.isfinite(value):
        return None
    return int(round(value)) if decimals == 0 else round(value, decimals)


def _resolve(user, selection: Selection) -> tuple[list[CellGroup], list[Cell], set[int]]:
    """Visible groups, the cells to load (members of the groups + single cells) and the singly chosen ids."""
    groups = list(groups_visible_to(user).filter(pk__in=selection.group_ids)) if selection.group_ids else []
    order = {gid: i for i, gid in enumerate(selection.group_ids)}
    groups.sort(key=lambda g: order[g.pk])
    # Only the group is read from the cells here: no join of the build sheet's materials.
    cells_qs = Cell.objects.restrict(user).select_related("group", "project")
    from django.db.models import Q

    cond = Q(pk__in=selection.cell_ids) | Q(group__in=[g.pk for g in groups])
    cells = list(cells_qs.filter(cond).order_by("group__name", "replicate_number", "name")) if not selection.is_empty else []
    single = {c.pk for c in cells if c.pk in set(selection.cell_ids)}
    return groups, cells, single


def cycles_frame(cells: list[Cell]) -> pd.DataFrame:
    """Per-cycle rows of the cells' timelines in ONE query (selectors.cells_cycles_frame)."""
    if not cells:
        return pd.DataFrame(columns=CELL_FRAME_FIELDS)
    return cells_cycles_frame([c.pk for c in cells])


def eis_after_formation(cells: list[Cell]) -> dict[int, dict]:
    """{cell id: R_int after formation}: impedance.selectors.r_int_after_formation, the one definition (the
    effects page reads it too)."""
    return r_int_after_formation(cells)


def _cell_metrics(cell: Cell, frame: pd.DataFrame, reference_cycle: int | None) -> dict:
    refs = metric_references(cell.project)  # the project's reference cycles; the page's choice overrides
    if reference_cycle is not None:
        refs["reference_cycle"] = reference_cycle
    m = cell_metrics(frame, **refs)
    per_g = m.get("capacity_unit") == "mAh/g"
    at = m.get("capacity_at_cycle", {}) if per_g else {}
    return {
        **{k: m.get(k) for k in ("initial_ce_percent", "first_charge_mah_g", "first_discharge_mah_g",
                                 "last_cycle", "retention_reference_cycle", "retention_percent",
                                 "decay_percent_per_cycle", "decay_reference_cycle", "decay_last_cycle",
                                 "cycles_to_80_percent", "knee_cycle")},
        "capacity_100_mah_g": at.get("100"),
        "capacity_500_mah_g": at.get("500"),
        "last_capacity_mah_g": m.get("last_capacity") if per_g else None,
        "reference_capacity_mah_g": m.get("reference_capacity") if per_g else None,
    }


def _stats(pivot: pd.DataFrame, decimals: int) -> dict:
    values = pivot.to_numpy(dtype=float)
    n = np.isfinite(values).sum(axis=1)
    with np.errstate(all="ignore"), _quiet():
        mean = np.nanmean(values, axis=1)
        sd = np.where(n > 1, np.nanstd(values, axis=1, ddof=1), np.nan)
        lo, hi = np.nanmin(values, axis=1), np.nanmax(values, axis=1)
    return {"mean": _round(mean, decimals), "sd": _round(sd, decimals), "min": _round(lo, decimals),
            "max": _round(hi, decimals), "n": n.astype(int).tolist()}


class _quiet:
    """Silence numpy's all-NaN slice warnings (a cycle only some replicates reached is normal)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def _segments(frame: pd.DataFrame) -> list[dict]:
    """Runs of equal C-rate label: [{label, segment, from, to}] for shaded bands."""
    if frame.empty:
        return []
    labels = frame["c_rate_label"].fillna("").to_numpy(dtype=object)
    change = np.concatenate([[True], labels[1:] != labels[:-1]])
    starts = np.flatnonzero(change)
    ends = np.concatenate([starts[1:], [len(labels)]]) - 1
    cyc, seg = frame["cycle"].to_numpy(), frame["segment"].fillna("").to_numpy(dtype=object)
    return [{"label": labels[s], "segment": seg[s], "from": int(cyc[s]), "to": int(cyc[e])}
            for s, e in zip(starts, ends, strict=True)]


def resolve(user, selection: Selection) -> tuple[list[CellGroup], list[Cell], set[int]]:
    """(groups, cells, singly chosen cell ids) of the selection that the user may see: compare()'s inputs."""
    return _resolve(user, selection)


def compare(user, selection: Selection, resolved=None) -> dict:
    """Everything the compare page plots and tabulates, for the groups/cells the user may see
    (`resolved`: what resolve(user, selection) returned, when the caller has it already)."""
    groups, cells, single = resolved or _resolve(user, selection)
    parts = cell_parts(cells, selection.reference_cycle)
    frames = [parts[pk]["frame"] for pk in sorted(parts) if len(parts[pk]["frame"])]
    # Rows of every cell, in cell order (as cycles_frame gives them), each with its retention: only groups
    # need them together (their per-cycle statistics); cells alone are assembled from their parts.
    complete = (pd.concat(frames, ignore_index=True) if frames and groups
                else pd.DataFrame(columns=CELL_FRAME_FIELDS))

    colors = {}
    for i, g in enumerate(groups):
        colors[g.pk] = g.color or PALETTE[i % len(PALETTE)]
    cell_rows, cell_series = [], []
    for i, cell in enumerate(cells):
        part = parts[cell.pk]
        color = colors.get(cell.group_id) or cell.group.color or PALETTE[(len(groups) + i) % len(PALETTE)]
        cell_series.append({
            "id": cell.pk, "name": cell.name, "group_id": cell.group_id, "group": cell.group.name,
            "color": color, "selected": cell.pk in single, "url": reverse("cell-page", args=[cell.pk]),
            **part["series"],
        })
        cell_rows.append({"cell_id": cell.pk, "cell": cell.name, "group_id": cell.group_id, "group": cell.group.name,
                          **part["row"]})
    group_series, group_rows = [], []
    summary_df = pd.DataFrame(cell_rows) if groups else None
    for g in groups:
        member_ids = [c.pk for c in cells if c.group_id == g.pk]
        part = complete[complete["cell_id"].isin(member_ids)] if len(complete) else complete
        entry = {"id": g.pk, "name": g.name, "color": colors[g.pk], "cells": member_ids,
                 "n_cells": len(member_ids), "cycle": []}
        if len(part):
            # (cell, cycle) is unique after cycles_frame: a plain pivot, cycles x cells per metric.
            pivot = part.pivot(index="cycle", columns="cell_id",
                               values=["discharge_mah_g", "ce_percent", "retention_percent"])
            entry["cycle"] = pivot.index.astype(int).tolist()
            for col, dec in (("discharge_mah_g", 2), ("ce_percent", 3), ("retention_percent", 2)):
                entry[col] = _stats(pivot[col], dec)
        else:
            for col in ("discharge_mah_g", "ce_percent", "retention_percent"):
                entry[col] = {"mean": [], "sd": [], "min": [], "max": [], "n": []}
        group_series.append(entry)
        group_rows.append(_group_row(g, summary_df, member_ids))

    return {
        "selection": {"groups": [g.pk for g in groups], "cells": sorted(single),
                      "reference_cycle": selection.reference_cycle},
        "capacity_unit": "mAh/g",
        "groups": group_series,
        "cells": cell_series,
        "rate_capability": _rate_capability(parts, groups, cells) if frames else {"labels": [], "groups": [],
                                                                                   "cells": []},
        "summary": {"columns": summary_columns(), "groups": group_rows, "cells": cell_rows},
    }


def cell_parts(cells: list[Cell], reference_cycle: int | None) -> dict[int, dict]:
    """{cell id: what compare() shows of the cell on its own}: its complete cycles (with retention), its
    series and its summary row. Kept in the dashboard cache under the cell's stamp (cycling/cache.py), so a
    comparison of cells whose data did not change reads no cycle rows; the cells not found there are read
    together (ONE cycles query, ONE EIS query)."""
    from cycling import cache

    keys = {c.pk: ("compare-cell", (cache.cell_stamp(c), reference_cycle)) for c in cells}
    found = cache.get_many(list(keys.values()))
    missing = [c for c in cells if found.get(keys[c.pk]) is None]
    if missing:
        df = cycles_frame(missing)
        complete = df[~df["is_partial"].astype(bool)] if len(df) else df
        by_cell = {cid: part for cid, part in complete.groupby("cell_id", sort=False)} if len(complete) else {}
        eis = eis_after_formation(missing)
        fresh = {keys[c.pk]: _cell_part(c, by_cell.get(c.pk, complete.iloc[0:0]), reference_cycle,
                                        eis.get(c.pk, {})) for c in missing}
        cache.set_many(fresh)
        found.update(fresh)
    return {pk: found[key] for pk, key in keys.items()}


def _cell_part(cell: Cell, frame: pd.DataFrame, reference_cycle: int | None, eis: dict) -> dict:
    metrics = _cell_metrics(cell, frame, reference_cycle) | eis
    cap = frame["discharge_mah_g"].to_numpy(dtype=float)
    # Retention per cycle by the one definition, on cell_metrics' basis (the delivered half of the cell's CE
    # convention) and reference cycle, so the curve ends at the summary's retention_percent.
    retention, _ref = cell_retention_series(frame, reference_cycle=metrics["retention_reference_cycle"])
    return {
        "frame": frame.assign(retention_percent=retention).reset_index(drop=True),
        "series": {
            "cycle": frame["cycle"].astype(int).tolist(),
            "discharge_mah_g": _round(cap, 2),
            "ce_percent": _round(frame["ce_percent"], 3),
            "retention_percent": _round(retention, 2),
            "retention_reference_cycle": metrics["retention_reference_cycle"],
            "segments": _segments(frame),
        },
        "row": {**{k: _num(metrics.get(k), d) for k, _, d in SUMMARY_METRICS},
                "r_int_spectrum_id": metrics.get("r_int_spectrum_id")},
        "rate": _rate_means(frame),
    }


def _group_row(group: CellGroup, summary_df: pd.DataFrame, member_ids: list[int]) -> dict:
    row = {"group_id": group.pk, "group": group.name, "n_cells": len(member_ids)}
    part = summary_df[summary_df["cell_id"].isin(member_ids)] if len(summary_df) else summary_df
    for key, _, dec in SUMMARY_METRICS:
        values = pd.to_numeric(part[key], errors="coerce").dropna() if len(part) else pd.Series(dtype=float)
        if key in REFERENCE_KEYS:
            uniq = values.unique()
            row[key] = int(uniq[0]) if len(uniq) == 1 else None
            row[f"{key}_sd"] = None
            row[f"{key}_varies"] = len(uniq) > 1
            continue
        row[key] = _num(values.mean(), dec) if len(values) else None
        row[f"{key}_sd"] = _num(values.std(ddof=1), dec) if len(values) > 1 and key != "last_cycle" else None
    # Cells behind the R_int mean: replicates without EIS do not count.
    row["r_int_n"] = int(pd.to_numeric(part["r_int_ohm"], errors="coerce").notna().sum()) if len(part) else 0
    return row


def _rate_means(frame: pd.DataFrame) -> dict[str, float]:
    """{C-rate label: mean discharge capacity} of one cell's complete cycles (labels without one left out)."""
    part = frame[frame["c_rate_label"].fillna("") != ""]
    means = part.groupby("c_rate_label", sort=True)["discharge_mah_g"].mean().dropna()
    return {str(label): float(value) for label, value in means.items()}


def _rate_capability(parts: dict[int, dict], groups: list[CellGroup], cells: list[Cell]) -> dict:
    """Mean discharge capacity per C-rate label: per cell (its part's rate means), then mean/sd across a
    group's cells. The labels x cells table of pivot_table(aggfunc="mean"): a cell without any mean is no column."""
    rated = sorted(pk for pk, part in parts.items() if part["rate"])
    labels = sorted(sorted({label for pk in rated for label in parts[pk]["rate"]}),
                    key=lambda name: _RATE_ORDER.get(name, np.inf))
    per_cell = pd.DataFrame({pk: [parts[pk]["rate"].get(label, np.nan) for label in labels] for pk in rated},
                            index=labels, dtype=float)
    out_groups = []
    for g in groups:
        ids = [c.pk for c in cells if c.group_id == g.pk and c.pk in per_cell.columns]
        stats = _stats(per_cell[ids], 2) if ids else {"mean": [None] * len(labels), "sd": [None] * len(labels),
                                                     "min": [None] * len(labels), "max": [None] * len(labels),
                                                     "n": [0] * len(labels)}
        out_groups.append({"id": g.pk, "name": g.name, **{k: stats[k] for k in ("mean", "sd", "n")}})
    out_cells = [{"id": c.pk, "name": c.name, "mean": _round(per_cell[c.pk], 2)}
                 for c in cells if c.pk in per_cell.columns]
    return {"labels": list(labels), "groups": out_groups, "cells": out_cells}


def summary_columns() -> list[dict]:
    return [{"key": k, "label": label, "decimals": d} for k, label, d in SUMMARY_METRICS]


def summary_table(payload: dict, which: str) -> tuple[list[tuple[str, str]], list[dict]]:
    """(columns, rows) of the group or cell summary, ready for exports; groups get a ± sd column each."""
    if which == "groups":
        columns = list(GROUP_ID_COLUMNS)
        for key, label, _ in SUMMARY_METRICS:
            if key in REFERENCE_KEYS:
                columns.append((key, label))
            else:
                columns += [(key, f"{label}, mean"), (f"{key}_sd", f"{label}, sd")]
        return columns, payload["summary"]["groups"]
    columns = CELL_ID_COLUMNS + [(k, label) for k, label, _ in SUMMARY_METRICS]
    return columns, payload["summary"]["cells"]
