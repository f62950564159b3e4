"""Web pages of the effects: the effect of one build fact on one outcome with the factor screen, and its exports."""
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.text import slugify

from cells.selectors import cells_visible_to, groups_visible_to, projects_visible_to
from cycling.exports import table_response

from . import figures, selectors
from .outcomes import FACTORS, OUTCOMES


def _query(request, *extra: str, screen: bool = False, require_factor: bool = True):
    """(EffectQuery, None) from the request, the page's own parameters (`extra`) set aside; (None, error) if bad."""
    params = request.GET.copy()
    for key in extra:
        params.pop(key, None)
    try:
        return selectors.query_from(params, screen=screen, require_factor=require_factor), None
    except selectors.BadQuery as exc:
        return None, str(exc)


@login_required
def effects_page(request):
    """Controls, the plot and tables slots; static/js/effects.js fetches /api/v1/effects/ (and the screen) with
    the page's querystring."""
    query, error = (None, None)
    if request.GET.get("outcome"):
        query, error = _query(request, require_factor=False)
    projects = list(projects_visible_to(request.user).order_by("name"))
    groups = list(groups_visible_to(request.user).order_by("project__name", "name"))
    cells = list(cells_visible_to(request.user).order_by("group__name", "replicate_number", "name"))
    by_group = {}
    for cell in cells:
        by_group.setdefault(cell.group, []).append(cell)
    ready = query is not None and query.has_selection
    return render(request, "effects/effects.html", {
        "outcomes": OUTCOMES.values(), "factors": FACTORS.values(), "projects": projects, "groups": groups,
        "cells_by_group": list(by_group.items()), "query": query, "error": error, "ready": ready,
        "chosen_groups": set(query.group_ids) if query else set(), "chosen_cells": set(query.cell_ids) if query else set(),
        "selection_query": query.selection_querystring() if query else "",
        "figure_query": request.GET.urlencode() if ready and query.factor else "",
    })


@login_required
def effects_figure(request):
    """The effect figure for papers with its caption (n, CIs, test): ?<effect query>&output=svg|pdf."""
    fmt = request.GET.get("output", "svg")
    if fmt not in figures.FORMATS:
        return HttpResponseBadRequest("output must be svg or pdf")
    query, error = _query(request, "output")
    if error:
        return HttpResponseBadRequest(error)
    report = selectors.effect(request.user, query)
    resp = HttpResponse(figures.effect_figure(report, fmt=fmt), content_type=figures.FORMATS[fmt])
    resp["Content-Disposition"] = f'attachment; filename="effect-{slugify(query.outcome)}-{slugify(query.factor)}.{fmt}"'
    return resp


CELL_COLUMNS = [("cell", "Cell"), ("factor_value", "Factor value"), ("value", "Outcome")]
LEVEL_COLUMNS = [("level", "Level"), ("n", "n"), ("mean", "Mean"), ("sd", "sd"), ("ci95_low", "95 % CI low"),
                 ("ci95_high", "95 % CI high"), ("cells", "Cells")]
SCREEN_COLUMNS = [("rank", "Rank"), ("label", "Build fact"), ("kind", "Kind"), ("n", "n"), ("effect_name", "Effect"),
                  ("estimate", "Estimate"), ("ci95_low", "95 % CI low"), ("ci95_high", "95 % CI high"),
                  ("test", "Test"), ("p_value", "p"), ("p_holm", "p (Holm)"), ("confounded_with", "Confounded with")]


@login_required
def effects_export(request):
    """A table of the effect as CSV/XLSX: ?table=cells (one row per cell), levels (n, mean, sd, CI, cells) or
    screen (the ranked build facts), &format=csv|xlsx."""
    table = request.GET.get("table", "cells")
    fmt = request.GET.get("format", "csv")
    if table not in ("cells", "levels", "screen"):
        return HttpResponseBadRequest("table must be cells, levels or screen")
    if table == "screen":
        query, error = _query(request, "table", "format", "factor", "scale", "detect", screen=True)
        if error:
            return HttpResponseBadRequest(error)
        out = selectors.screen(request.user, query)
        rows = [{**r, "effect_name": r["effect"]["name"], "estimate": r["effect"]["estimate"],
                 "ci95_low": r["effect"]["ci95"][0], "ci95_high": r["effect"]["ci95"][1],
                 "confounded_with": ", ".join(r["confounded_with"])} for r in out["rows"]]
        return table_response(SCREEN_COLUMNS, rows, fmt=fmt, filename=f"screen-{query.outcome}", sheet="screen")
    query, error = _query(request, "table", "format")
    if error:
        return HttpResponseBadRequest(error)
    report = selectors.effect(request.user, query)
    unit = f" ({report['outcome_unit']})" if report["outcome_unit"] else ""
    funit = f" ({report['factor_unit']})" if report["factor_unit"] else ""
    if table == "cells":
        columns = [("cell", "Cell"), ("factor_value", f"{report['factor_label']}{funit}"),
                   ("value", f"{report['outcome_label']}{unit}")]
        rows = [{"cell": p["cell"], "factor_value": p.get("level", p.get("x")), "value": p["value"]}
                for p in report.get("points", [])]
    else:
        columns = [(k, label + (unit if k in ("mean", "sd", "ci95_low", "ci95_high") else ""))
                   for k, label in LEVEL_COLUMNS]
        rows = [{**lv, "ci95_low": lv["ci95"][0], "ci95_high": lv["ci95"][1], "cells": ", ".join(lv["cells"])}
                for lv in report["levels"]]
    return table_response(columns, rows, fmt=fmt, filename=f"effect-{query.outcome}-{query.factor}-{table}",
                          sheet=table)
