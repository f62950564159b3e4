"""Web pages of the solid-state results: the electrolyte batches and one batch's page."""
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

from . import selectors, services


def refreshed_overview(batch, user):
    """The batch overview after computing any missing result of its pellets and symmetric cells."""
    services.batch_results_refresh(batch=batch, user=user)
    return selectors.batch_overview(batch, user)


@login_required
def batch_list(request):
    return render(request, "solidstate/batch_list.html", {"batches": selectors.batches_visible_to(request.user)})


@login_required
def batch_page(request, pk):
    batch = get_object_or_404(selectors.batches_visible_to(request.user), pk=pk)
    overview = refreshed_overview(batch, request.user)
    return render(request, "solidstate/batch.html", {**overview, "plot": selectors.batch_plot_data(overview)})


@login_required
def batch_json(request, pk):
    """The batch's results in the CLI's contracts: conductivity points + Arrhenius, and each CCD cell's."""
    batch = get_object_or_404(selectors.batches_visible_to(request.user), pk=pk)
    return JsonResponse(selectors.batch_results(refreshed_overview(batch, request.user)))


@login_required
def stack_pressure(request):
    """R_int and pellet conductivity against stack pressure across cells, and the active pressure drifts."""
    for cell in selectors.cells_visible_to(request.user).filter(datafiles__isnull=False).distinct():
        services.pressure_refresh(cell=cell)
    overview = selectors.pressure_overview(request.user)
    plot = {"rint": overview["rint"], "conductivity": overview["conductivity"]}
    return render(request, "solidstate/stack_pressure.html", {**overview, "plot": plot})
