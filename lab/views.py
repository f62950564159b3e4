"""Pages that compose the apps: the cell list (filters, sort, latest figures, export), a cell's page (cycling
and impedance together) and the compare page with its summary downloads."""
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Exists, F, OuterRef, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils.dateparse import parse_datetime

from cells.access import missing_permissions
from cells.filtersets import CellFilterSet
from cells.models import Material
from cells.selectors import cells_visible_to, groups_visible_to, last_catalogue_recompute
from cycling import selectors as cycling_selectors
from cycling import services as cycling_services
from cycling.exports import table_response
from cycling.models import DataFile, shown_results
from impedance import selectors as eis_selectors
from impedance.models import EisSpectrum
from readers import UNKNOWN_LAYOUT_HINT, without_file

from . import compare as comparing

PAGE_SIZE = 100
# ?sort= keys of the list -> model/annotation field.
SORTS = {
    "name": "name", "group": "group__name", "coating": "coating__material__name",
    "material": "cathode_material__name", "loading": "active_loading", "built": "build_date",
    "latest_cycle": "latest_cycle", "first_discharge": "first_discharge_mah_g", "retention": "retention_percent",
}
EXPORT_COLUMNS = [
    ("name", "Cell"), ("group", "Group"), ("replicate_number", "Replicate"), ("cathode_material", "Cathode material"),
    ("coating", "Coating"), ("composite_loading_mg_cm2", "Composite loading (mg/cm²)"),
    ("active_loading_mg_cm2", "Active loading (mg/cm²)"), ("build_date", "Build date"),
    ("latest_cycle", "Latest cycle"), ("first_discharge_mah_g", "1st discharge (mAh/g)"),
    ("retention_percent", "Retention at latest cycle (% of the reference cycle)"),
    ("retention_reference_cycle", "Retention reference cycle"), ("files", "Data files"),
]


def cells_with_figures(qs):
    """Annotate latest cycle, first discharge and retention (with its reference cycle) from the cell's stored
    figures (cycling.models.CellFigures: analysis.cell_metrics, the one definition the cell page, compare, board
    and exports use); figures older than the cell's data are recomputed first. Prefetch files.
    Joins, no per-cell query: the query count does not grow with the cells."""
    stale = cycling_services.cell_figures_stale(qs)
    if stale:
        cycling_services.cell_figures_refresh(cell_ids=stale)
    return qs.annotate(
        latest_cycle=F("figures__latest_cycle"),
        first_discharge_mah_g=F("figures__first_discharge_mah_g"),
        retention_percent=F("figures__retention_percent"),
        retention_reference_cycle=F("figures__retention_reference_cycle"),
        has_eis=Exists(EisSpectrum.objects.filter(cell=OuterRef("pk"))),
    ).prefetch_related(
        Prefetch("datafiles", queryset=DataFile.objects.only("id", "cell_id", "status", "kind", "created_at"))
    )


def _warning_counts(cell_ids) -> dict[int, int]:
    """Warning findings of each cell's active cycling files, in one query (only the findings list is read)."""
    counts: dict[int, int] = {}
    rows = DataFile.objects.filter(shown_results(), cell_id__in=cell_ids).values_list("cell_id",
                                                                                    "provenance__findings")
    for cell_id, findings in rows:
        n = sum(1 for f in findings or [] if isinstance(f, dict) and f.get("severity") == "warning")
        counts[cell_id] = counts.get(cell_id, 0) + n
    return counts


def _file_status(cell) -> dict:
    counts = {}
    for f in cell.datafiles.all():
        counts[f.status] = counts.get(f.status, 0) + 1
    return counts


@login_required
def home(request):
    visible = cells_visible_to(request.user)
    filterset = CellFilterSet(request.GET, queryset=visible)
    qs = filterset.qs if filterset.is_valid() else visible.none()
    qs = cells_with_figures(qs).annotate(active_loading=F("composite_loading_mg_cm2") * F("cathode_active_fraction"))
    sort = request.GET.get("sort", "name")
    key = sort.lstrip("-")
    if key not in SORTS:
        sort, key = "name", "name"
    field = F(SORTS[key])
    qs = qs.order_by(field.desc(nulls_last=True) if sort.startswith("-") else field.asc(nulls_last=True), "name")

    fmt = request.GET.get("format")
    if fmt:
        rows = [{
            "name": c.name, "group": c.group.name, "replicate_number": c.replicate_number,
            "cathode_material": c.cathode_material.name if c.cathode_material_id else None, "coating": str(c.coating) if c.coating else "bare",
            "composite_loading_mg_cm2": c.composite_loading_mg_cm2,
            "active_loading_mg_cm2": _r(c.active_loading_mg_cm2, 3),
            "build_date": c.build_date.isoformat() if c.build_date else None, "latest_cycle": c.latest_cycle,
            "first_discharge_mah_g": _r(c.first_discharge_mah_g, 1), "retention_percent": _r(c.retention_percent, 1),
            "retention_reference_cycle": c.retention_reference_cycle,
            "files": ", ".join(f"{n} {s}" for s, n in sorted(_file_status(c).items())),
        } for c in qs]
        return table_response(EXPORT_COLUMNS, rows, fmt=fmt, filename="cells", sheet="cells")

    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    warnings = _warning_counts([cell.pk for cell in page])
    for cell in page:
        cell.file_status = _file_status(cell)
        cell.n_warnings = warnings.get(cell.pk, 0)
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("format", None)
    sort_params = params.copy()
    sort_params.pop("sort", None)
    return render(request, "cells/cell_list.html", {
        "page": page, "filterset": filterset, "sort": sort,
        "groups": groups_visible_to(request.user).order_by("project__name", "name"),
        "coatings": Material.objects.filter(kind=Material.Kind.COATING).order_by("name"),
        "cathodes": Material.objects.filter(kind=Material.Kind.CATHODE_ACTIVE).order_by("name"),
        "querystring": params.urlencode(), "sort_querystring": sort_params.urlencode(),
        "columns": [("name", "Cell"), ("group", "Group"), ("coating", "Coating"), ("material", "Cathode"),
                    ("loading", "Active loading (mg/cm²)"), ("built", "Built"), ("latest_cycle", "Latest cycle"),
                    ("first_discharge", "1st discharge (mAh/g)"), ("retention", "Retention (%)")],
        "is_filtered": any(v for k, v in request.GET.items() if k not in ("sort", "page")),
    })


def _r(value, decimals):
    return None if value is None else round(float(value), decimals)


DEFAULT_PROFILE_CYCLES = cycling_selectors.DEFAULT_PROFILE_CYCLES


def _focus_cycle(value: str | None) -> int | None:
    """The cell cycle a link points at (an alert's ?cycle=N), or None for anything that is not one."""
    return int(value) if value and value.isdigit() and 0 < int(value) < 10**7 else None


def _profile_cycles(focus: int | None) -> str:
    """Cycles drawn as voltage profiles and dQ/dV: the default set, or the first, the cycle before, the linked
    cycle and the last when a link names one."""
    if focus is None:
        return DEFAULT_PROFILE_CYCLES
    return ",".join(str(c) for c in dict.fromkeys([1, max(focus - 1, 1), focus])) + ",last"


@login_required
def cell_detail(request, pk):
    cell = get_object_or_404(cells_visible_to(request.user).prefetch_related("pressing_steps"), pk=pk)
    datafiles = list(cell.datafiles.select_related("uploaded_by", "device").order_by("-created_at"))
    has_cycles = any(f.is_active and f.kind == DataFile.Kind.CYCLING for f in datafiles)
    eis = eis_selectors.eis_provenance(f.pk for f in datafiles if f.kind == DataFile.Kind.EIS)
    profiles = cycling_selectors.format_profile_provenance(f.provenance for f in datafiles)
    for f in datafiles:
        f.findings = _findings_of(f)
        f.how_made = _how_made(f, profiles)
        f.run_start = _run_start(f)
        # refused because no reader recognises its layout: the page links it to the format-profile form
        f.unknown_layout = f.status == DataFile.Status.FAILED and UNKNOWN_LAYOUT_HINT in (f.error or "")
        f.error_shown = without_file(f.error, f.original_name)  # the row names the file already
        f.eis_sweeps = eis.get(f.pk, [])  # EIS files show their circuit/fit/KK provenance, not cycling's
    shown = [f for f in datafiles if f.is_active]
    focus = _focus_cycle(request.GET.get("cycle"))
    fade = cycling_selectors.cell_run_metrics(cell) if has_cycles else {}
    pauses = cycling_selectors.cell_pause_bands(cell) if has_cycles else []
    timeline = cycling_selectors.cell_timeline(cell) if has_cycles else {"files": [], "conflicts": []}
    needs = missing_permissions(request.user, {
        "cycling.view_cyclesummary": "the cycling plots, figures and exports",
        "cycling.view_datafile": "the data files' live import status",
    })
    return render(request, "cells/cell_detail.html", {
        "needs": needs, "can_view_cycles": request.user.has_perm("cycling.view_cyclesummary"),
        "cell": cell, "datafiles": datafiles, "active_files": shown, "timeline": timeline,
        "focus_cycle": focus, "profile_cycles": _profile_cycles(focus),
        "can_mark_timeline": request.user.has_perm("cycling.change_datafile"),
        "can_upload": request.user.has_perm("cycling.add_datafile"),
        "has_cycles": has_cycles, "kinds": DataFile.Kind.choices,
        "n_warnings": sum(len([x for x in f.findings if x["severity"] == "warning"]) for f in shown),
        "fade": fade, "lab_zone": settings.TIME_ZONE, "catalogue_recompute": last_catalogue_recompute(cell),
        "plot_marks": {"pauses": pauses, "knee_cycle": fade.get("knee_cycle"),
                       "retention_reference_cycle": fade.get("retention_reference_cycle"),
                       "decay_reference_cycle": fade.get("decay_reference_cycle"),
                       "cycles_to_80_percent": fade.get("cycles_to_80_percent"),
                       "cycles_to_70_percent": fade.get("cycles_to_70_percent")},
    })


def _findings_of(datafile) -> list[dict]:
    """The ingest's findings, warnings first, each with its record range in words."""
    out = []
    for f in (datafile.provenance or {}).get("findings", []):
        a, b = f.get("first_record"), f.get("last_record")
        where = "" if a is None else (f"record {a:,}" if a == b or b is None else f"records {a:,}–{b:,}")
        out.append({**f, "records": where})
    return sorted(out, key=lambda f: f.get("severity") != "warning")


def _how_made(datafile, profiles: dict) -> dict:
    """Provenance of a file's numbers for the page: versions, the build values used, CE convention, the format
    profile (by its name as it is now) and the dQ/dV parameters (the ingest's if it recorded them, else
    analysis.DqdvParams' defaults, which it used)."""
    from dataclasses import asdict

    from cycling.analysis import DqdvParams

    prov = datafile.provenance or {}
    stored = dict(prov.get("dqdv_params") or {})
    if "window" in stored:  # files ingested before the field carried its unit
        stored["window_points"] = stored.pop("window")
    return {**{k: v for k, v in prov.items() if k not in ("land_cycle_table", "findings")},
            "format_profile": cycling_selectors.format_profile_of(prov, profiles),
            "dqdv": stored or asdict(DqdvParams()), "dqdv_defaults": not stored,
            "computed_at": parse_datetime(prov["computed_at"]) if prov.get("computed_at") else None}


def _run_start(datafile):
    """The run's start (metadata.start_time_utc, aware); templates show it in the lab's zone."""
    value = (datafile.metadata or {}).get("start_time_utc")
    return parse_datetime(value) if value else None


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
        "needs": missing_permissions(request.user, {"cycling.view_cyclesummary": "the comparison's plots and tables"}),
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
