"""Web pages of cycling data: a cell's per-cycle table download and timeline marks (the compare page is in lab)."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from cells.selectors import cells_visible_to

from . import services
from .analysis.columns import EXPORT, headers_for, rounded_row
from .exports import table_response
from .models import DataFile
from .selectors import cycles_of

# The per-cycle download: the column contract's EXPORT face (headers with units), plus the file each cycle
# comes from; values rounded to each column's precision.
CYCLE_EXPORT_COLUMNS = [*headers_for(EXPORT)[:2], ("datafile__original_name", "File"), *headers_for(EXPORT)[2:]]


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
        rows.append(rounded_row(values))
    return table_response(CYCLE_EXPORT_COLUMNS, rows, fmt=request.GET.get("format", "csv"),
                          filename=f"{cell.name}-cycles", sheet="cycles")


@login_required
@require_POST
def cell_timeline_mark(request, pk):
    """A researcher marks how a file follows the previous one on the cell's timeline (audit-logged)."""
    cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
    if not request.user.has_perm("cycling.change_datafile"):
        raise PermissionDenied("Only researchers may change a cell's timeline.")
    datafile = get_object_or_404(DataFile, pk=request.POST.get("datafile"), cell=cell, kind=DataFile.Kind.CYCLING)
    mark = request.POST.get("mark", "")
    if mark not in DataFile.TimelineMark.values:
        return HttpResponseBadRequest(f"Unknown timeline mark {mark!r}: use continues, new_run or nothing.")
    services.datafile_mark_timeline(datafile=datafile, mark=mark, actor=request.user)
    return redirect(reverse("cell-page", args=[cell.pk]) + "#timeline")

