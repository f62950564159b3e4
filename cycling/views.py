"""Web pages of cycling data: the compare page, summary downloads, a cell's per-cycle table download."""
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from cells.selectors import cells_visible_to, groups_visible_to

from . import compare as comparing
from .exports import table_response
from .selectors import cycles_of

DEFAULT_PROFILE_CYCLES = "1,2,10,100,last"
CYCLE_EXPORT_COLUMNS = [
    ("cycle", "Cycle"), ("charge_mah", "Charge (mAh)"), ("discharge_mah", "Discharge (mAh)"),
    ("charge_mah_g", "Charge (mAh/g)"), ("discharge_mah_g", "Discharge (mAh/g)"),
    ("charge_mah_cm2", "Charge (mAh/cm²)"), ("discharge_mah_cm2", "Discharge (mAh/cm²)"),
    ("ce_percent", "Coulombic efficiency (%)"), ("charge_energy_mwh", "Charge energy (mWh)"),
    ("discharge_energy_mwh", "Discharge energy (mWh)"), ("mean_charge_v", "Mean charge voltage (V)"),
    ("mean_discharge_v", "Mean discharge voltage (V)"), ("hysteresis_v", "Hysteresis (V)"),
    ("c_rate", "C-rate (1/h)"), ("c_rate_label", "C-rate label"), ("segment", "Segment"),
    ("duration_s", "Duration (s)"), ("dqdv_peak_charge_v", "dQ/dV peak, charge (V)"),
    ("dqdv_peak_discharge_v", "dQ/dV peak, discharge (V)"), ("is_partial", "Partial cycle"),
]


@login_required
def compare_page(request):
    """Controls and empty plot slots; static/js/compare.js fetches /api/v1/compare/ with the same querystring."""
    selection = comparing.selection_from(request.GET)
    groups = list(groups_visible_to(request.user).order_by("project__name", "name"))
    cells = list(cells_visible_to(request.user).order_by("group__name", "replicate_number", "name"))
    by_group = {}
    for cell in cells:
        by_group.setdefault(cell.group, []).append(cell)
    return render(request, "cycling/compare.html", {
        "selection": selection, "groups": groups, "cells_by_group": list(by_group.items()),
        "chosen_groups": set(selection.group_ids), "chosen_cells": set(selection.cell_ids),
        "profile_cycles": request.GET.get("profile_cycles") or DEFAULT_PROFILE_CYCLES,
        "band": "sd" if request.GET.get("band") == "sd" else "minmax",
        "show": request.GET.get("show") if request.GET.get("show") in ("mean", "cells", "both") else "mean",
        "export_query": selection.querystring(),
        "figure_metrics": [("discharge_mah_g", "Capacity"), ("ce_percent", "CE"), ("retention_percent", "Retention")],
    })


@login_required
def compare_export(request):
    """The group or cell summary of a comparison as CSV or XLSX (?table=groups|cells&format=csv|xlsx)."""
    table = request.GET.get("table", "groups")
    if table not in ("groups", "cells"):
        raise Http404("table must be groups or cells")
    payload = comparing.compare(request.user, comparing.selection_from(request.GET))
    columns, rows = comparing.summary_table(payload, table)
    return table_response(columns, rows, fmt=request.GET.get("format", "csv"),
                          filename=f"compare-{table}-summary", sheet=f"{table} summary")


@login_required
def cell_cycles_export(request, pk):
    """A cell's per-cycle table (active files) as CSV or XLSX."""
    cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
    keys = [k for k, _ in CYCLE_EXPORT_COLUMNS]
    rows, seen = [], set()
    for values in cycles_of([cell.pk]).values(*keys):
        if values["cycle"] in seen:  # newest file first within a cycle
            continue
        seen.add(values["cycle"])
        rows.append(values)
    return table_response(CYCLE_EXPORT_COLUMNS, rows, fmt=request.GET.get("format", "csv"),
                          filename=f"{cell.name}-cycles", sheet="cycles")
