"""Figures for papers over the API: the compare and cell plots as SVG or PDF (matplotlib, from the pages' data)."""
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, response, status

from cells.selectors import cells_visible_to
from cells.services import audit

from .. import figures, selectors
from ..models import CycleSummary

_OUTPUT = OpenApiParameter("output", str, enum=list(figures.FORMATS), description="svg (default) or pdf")
_RESPONSES = {(200, "image/svg+xml"): OpenApiTypes.BINARY, (200, "application/pdf"): OpenApiTypes.BINARY,
              400: OpenApiResponse(description="A bad metric, plot, output or an empty selection")}


def _figure_response(data: bytes, fmt: str, stem: str) -> HttpResponse:
    resp = HttpResponse(data, content_type=figures.FORMATS[fmt])
    resp["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return resp


class _FigureView(generics.GenericAPIView):
    queryset = CycleSummary.objects.none()  # model permission: cycling.view_cyclesummary (devices: none)
    filter_backends = []
    pagination_class = None

    def output(self):
        fmt = self.request.query_params.get("output", "svg")
        return fmt if fmt in figures.FORMATS else None

    def bad(self, message):
        return response.Response({"detail": message}, status=status.HTTP_400_BAD_REQUEST)


class CellFigureView(_FigureView):
    """The cell page's voltage profiles of chosen cycles, or its capacity and CE against cycle."""

    @extend_schema(parameters=[
        OpenApiParameter("plot", str, enum=["profiles", "capacity"], description="Default profiles"),
        OpenApiParameter("cycles", str, description="Profiles: cycle numbers or 'last' (default 1,2,10,100,last)"),
        _OUTPUT,
    ], responses=_RESPONSES, operation_id="cell_figure")
    def get(self, request, pk):
        cell = get_object_or_404(cells_visible_to(request.user), pk=pk)
        fmt, plot = self.output(), request.query_params.get("plot", "profiles")
        if fmt is None:
            return self.bad("output must be svg or pdf")
        if plot == "profiles":
            tokens = selectors.cycle_tokens(request.query_params.get("cycles"))
            data = figures.cell_profiles_figure(selectors.cell_curves(cell, tokens, 2000), title=cell.name, fmt=fmt)
        elif plot == "capacity":
            rows, seen = [], set()
            for row in selectors.cycles_of([cell.pk]).values("cycle", "discharge_mah", "discharge_mah_g", "ce_percent"):
                if row["cycle"] not in seen:  # newest file first within a cycle
                    seen.add(row["cycle"])
                    rows.append(row)
            data = figures.cell_capacity_figure(rows, color=cell.group.color or "#1f77b4", title=cell.name, fmt=fmt)
        else:
            return self.bad("plot must be profiles or capacity")
        audit(actor=request.user, action="export.figure", obj=cell, figure=plot, output=fmt)
        return _figure_response(data, fmt, f"{slugify(cell.name)}-{plot}")
