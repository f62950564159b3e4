"""Web pages of the solid-state results: the electrolyte batches and one batch's page."""
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

from assb_lab.lib import jsonable
from cells.models import Cell

from . import selectors, services


def _refreshed(batch, user):
    cells = selectors.cells_visible_to(user).filter(electrolyte_batch=batch)
    for cell in cells.filter(cell_type__in=[Cell.CellType.PELLET, Cell.CellType.SYMMETRIC]):
        services.conductivity_refresh(cell=cell)
        services.ccd_refresh(cell=cell)
    return selectors.batch_overview(batch, user)


@login_required
def batch_list(request):
    return render(request, "solidstate/batch_list.html", {"batches": selectors.batches_visible_to(request.user)})


@login_required
def batch_page(request, pk):
    batch = get_object_or_404(selectors.batches_visible_to(request.user), pk=pk)
    overview = _refreshed(batch, request.user)
    return render(request, "solidstate/batch.html", {**overview, "plot": selectors.batch_plot_data(overview)})


@login_required
def batch_json(request, pk):
    """The batch's results in the CLI's contracts: conductivity points + Arrhenius, and each CCD cell's."""
    batch = get_object_or_404(selectors.batches_visible_to(request.user), pk=pk)
    overview = _refreshed(batch, request.user)
    points = [{"file": m.spectrum.datafile.original_name, "pellet": m.cell.name, "temperature_c": m.temperature_c,
               "r_bulk_ohm": m.r_bulk_ohm, "r_total_ohm": m.r_total_ohm, "sigma_bulk_s_cm": m.sigma_bulk_s_cm,
               "sigma_total_s_cm": m.sigma_total_s_cm, "statement": m.statement or m.error}
              for m in overview["measurements"]]
    arr = overview["arrhenius"]
    arrhenius = ({k: arr[k] for k in ("ea_ev", "ea_ev_se", "sigma_25c_s_cm", "form", "n_points")}
                 if arr and "ea_ev" in arr else None)
    ccd = []
    for c in overview["ccd"]:
        result = {"steps": [{k: s[k] for k in ("current_density_ma_cm2", "overpotential_mv")} for s in c.steps],
                  "ccd_ma_cm2": c.ccd_ma_cm2, "short_time_s": c.short_time_s, "definition": c.definition}
        ccd.append({"cell": c.cell.name, "file": c.datafile.original_name, "error": c.error or None,
                    "stack_pressure_mpa": c.cell.stack_pressure_mpa, "temperature_c": c.cell.temperature_c,
                    **(result if not c.error else {})})
    return JsonResponse(jsonable({"batch": batch.name, "material": batch.material.name,
                                  "conductivity": {"points": points, "arrhenius": arrhenius}, "ccd": ccd}))


@login_required
def stack_pressure(request):
    """R_int and pellet conductivity against stack pressure across cells, and the active pressure drifts."""
    for cell in selectors.cells_visible_to(request.user).filter(datafiles__isnull=False).distinct():
        services.pressure_refresh(cell=cell)
    overview = selectors.pressure_overview(request.user)
    plot = {"rint": overview["rint"], "conductivity": overview["conductivity"]}
    return render(request, "solidstate/stack_pressure.html", {**overview, "plot": plot})
