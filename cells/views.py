"""Web pages of the registry (server-rendered; the dashboards build on these)."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from .selectors import cells_visible_to


@login_required
def home(request):
    return render(request, "cells/cell_list.html", {"cells": cells_visible_to(request.user)})


@login_required
def cell_detail(request, pk):
    cell = get_object_or_404(cells_visible_to(request.user).prefetch_related("pressing_steps"), pk=pk)
    return render(request, "cells/cell_detail.html", {"cell": cell})
