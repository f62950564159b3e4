"""Reads for the effects page and API: the selection (project, groups, cells) scoped with restrict(), the table of
cells with their build facts and one outcome, and the effect report or factor screen over it."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from django.db.models import Q

from assb_lab.lib import parse_ids
from cells.models import Cell

from . import report
from .outcomes import CELL_FIELDS, FACTORS, OUTCOMES, CellRow, Selection, facts_frame, outcome_frame
from .stats import LINEAR, LOG_LOG

PARAMS = {"outcome", "factor", "project", "groups", "cells", "scale", "cycle", "detect"}
SCREEN_PARAMS = PARAMS - {"factor", "scale", "detect"}


class BadQuery(ValueError):
    """A query the effects cannot answer; the message names the parameter."""


@dataclass(frozen=True)
class EffectQuery:
    """What to analyse: outcome (+ cycle N where it needs one), factor, scale, the difference to plan for, and
    the selection (project id, group ids, cell ids)."""

    outcome: str
    factor: str | None = None
    project_id: int | None = None
    group_ids: tuple[int, ...] = ()
    cell_ids: tuple[int, ...] = ()
    scale: str = LINEAR
    cycle: int | None = None
    detect: float | None = None

    @property
    def has_selection(self) -> bool:
        return bool(self.project_id or self.group_ids or self.cell_ids)

    def selection_querystring(self) -> str:
        parts = []
        if self.project_id:
            parts.append(f"project={self.project_id}")
        if self.group_ids:
            parts.append("groups=" + ",".join(map(str, self.group_ids)))
        if self.cell_ids:
            parts.append("cells=" + ",".join(map(str, self.cell_ids)))
        if self.cycle is not None:
            parts.append(f"cycle={self.cycle}")
        return "&".join(parts)


def _ids(params, key: str) -> tuple[int, ...]:
    raw = ",".join(params.getlist(key)) if hasattr(params, "getlist") else str(params.get(key, ""))
    bad = [t for t in raw.split(",") if t.strip() and not t.strip().isdigit()]
    if bad:
        raise BadQuery(f"{key}: '{bad[0].strip()}' is not an id (give comma-separated numbers, e.g. {key}=1,2)")
    return parse_ids(raw)


def query_from(params, *, screen: bool = False, require_factor: bool = True) -> EffectQuery:
    """An EffectQuery from a querystring; BadQuery names the unknown or bad parameter."""
    allowed = SCREEN_PARAMS if screen else PARAMS
    unknown = sorted(set(params.keys()) - allowed)
    if unknown:
        raise BadQuery(f"unknown parameter(s): {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    outcome = (params.get("outcome") or "").strip()
    if outcome not in OUTCOMES:
        raise BadQuery(f"outcome: '{outcome}' is not one of {', '.join(OUTCOMES)}" if outcome
                       else "outcome is required (see /api/v1/effects/options/)")
    factor = None
    if not screen:
        factor = (params.get("factor") or "").strip() or None
        if factor is None and require_factor:
            raise BadQuery("factor is required (see /api/v1/effects/options/)")
        if factor is not None and factor not in FACTORS:
            raise BadQuery(f"factor: '{factor}' is not one of {', '.join(FACTORS)}")
    scale = (params.get("scale") or LINEAR).strip()
    if scale not in (LINEAR, LOG_LOG):
        raise BadQuery(f"scale: '{scale}' is not '{LINEAR}' or '{LOG_LOG}'")
    if factor and scale == LOG_LOG and FACTORS[factor].kind != "numeric":
        raise BadQuery(f"scale=log-log needs a numeric factor; {factor} is categorical")
    project = (params.get("project") or "").strip()
    if project and not project.isdigit():
        raise BadQuery(f"project: '{project}' is not an id")
    cycle_text = (params.get("cycle") or "").strip()
    if cycle_text and (not cycle_text.isdigit() or int(cycle_text) < 1):
        raise BadQuery(f"cycle: '{cycle_text}' is not a cycle number (1, 2, ...)")
    cycle = int(cycle_text) if cycle_text else None
    if OUTCOMES[outcome].at_cycle and cycle is None:
        raise BadQuery(f"outcome {outcome} needs cycle=N")
    detect_text = (params.get("detect") or "").strip()
    try:
        detect = float(detect_text) if detect_text else None
    except ValueError:
        raise BadQuery(f"detect: '{detect_text}' is not a number (the difference to plan replicates for)") from None
    return EffectQuery(outcome=outcome, factor=factor, project_id=int(project) if project else None,
                       group_ids=_ids(params, "groups"), cell_ids=_ids(params, "cells"), scale=scale, cycle=cycle,
                       detect=detect)


def selected_cells(user, query: EffectQuery) -> Selection:
    """The cells of the selection that the user may see (project's cells, groups' members, single cells), as
    plain rows of what the effects read (outcomes.CELL_FIELDS) with the query of their ids: one query, no model
    object per cell."""
    if not query.has_selection:
        return []
    cond = Q(pk__in=query.cell_ids) | Q(group_id__in=query.group_ids)
    if query.project_id:
        cond |= Q(project_id=query.project_id)
    visible = Cell.objects.restrict(user).filter(cond)
    rows = visible.order_by("group__name", "replicate_number", "name").values(*CELL_FIELDS)
    return Selection([CellRow(**row) for row in rows], ids=visible.values("pk"))


def cell_table(cells: list[CellRow], outcome: str, cycle: int | None = None) -> pd.DataFrame:
    """One row per cell: name, the outcome (value, why missing, protocol) and every build fact."""
    if not cells:
        columns = ["cell", "value", "why", "protocol", *FACTORS]
        return pd.DataFrame(columns=columns)
    values = outcome_frame(cells, OUTCOMES[outcome], cycle)
    facts = facts_frame(cells)
    names = pd.Series({c.pk: c.name for c in cells}, name="cell")
    return pd.concat([names, values, facts], axis=1).loc[[c.pk for c in cells]]


def _meta():
    kinds = {k: f.kind for k, f in FACTORS.items()}
    labels = {k: f.label for k, f in FACTORS.items()}
    return kinds, labels


def _outcome_label(query: EffectQuery) -> str:
    label = OUTCOMES[query.outcome].label
    return label.replace("cycle N", f"cycle {query.cycle}") if query.cycle is not None else label


def effect(user, query: EffectQuery) -> dict:
    """The effect report (see report.effect_report) of the query's factor on its outcome over the visible cells."""
    cells = selected_cells(user, query)
    table = cell_table(cells, query.outcome, query.cycle)
    kinds, labels = _meta()
    out = report.effect_report(table, outcome=query.outcome, outcome_label=_outcome_label(query),
                               outcome_unit=OUTCOMES[query.outcome].unit, factor=query.factor, kinds=kinds,
                               labels=labels, scale=query.scale, detect=query.detect)
    out["factor_unit"] = FACTORS[query.factor].unit
    out["cycle"] = query.cycle
    out["selection"] = _selection(query)
    if not cells:
        out["warnings"].append({"code": "empty", "message": "No cells visible to you in this selection.", "cells": []})
    return out


def screen(user, query: EffectQuery) -> dict:
    """Every varying build fact ranked by its effect on the query's outcome (report.screen_report)."""
    cells = selected_cells(user, query)
    table = cell_table(cells, query.outcome, query.cycle)
    kinds, labels = _meta()
    out = report.screen_report(table, outcome=query.outcome, outcome_label=_outcome_label(query),
                               outcome_unit=OUTCOMES[query.outcome].unit, kinds=kinds, labels=labels)
    for row in out["rows"]:
        row["unit"] = FACTORS[row["factor"]].unit
    out["cycle"] = query.cycle
    out["selection"] = _selection(query)
    return out


def _selection(query: EffectQuery) -> dict:
    return {"project": query.project_id, "groups": list(query.group_ids), "cells": list(query.cell_ids)}


def options() -> dict:
    """The outcomes and factors one can ask for, with units and kinds."""
    return {
        "outcomes": [{"key": o.key, "label": o.label, "unit": o.unit, "needs_cycle": o.at_cycle}
                     for o in OUTCOMES.values()],
        "factors": [{"key": f.key, "label": f.label, "kind": f.kind, "unit": f.unit} for f in FACTORS.values()],
        "scales": [LINEAR, LOG_LOG],
    }
