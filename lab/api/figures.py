"""Figure API of the compare page: its capacity, CE or retention plot as SVG or PDF (cycling.figures draws it)."""
from drf_spectacular.utils import OpenApiParameter, extend_schema

from cells.selectors import groups_visible_to
from cells.services import audit
from cycling import figures
from cycling.api.figures import _OUTPUT, _RESPONSES, _figure_response, _FigureView

from .. import compare


class CompareFigureView(_FigureView):
    """The compare page's capacity, CE or retention plot: group means with their band, page colours."""

    @extend_schema(parameters=[
        OpenApiParameter("groups", str, description="Comma-separated cell-group ids, e.g. 1,2"),
        OpenApiParameter("cells", str, description="Comma-separated cell ids"),
        OpenApiParameter("metric", str, enum=list(figures.COMPARE_METRICS)),
        OpenApiParameter("band", str, enum=["sd", "minmax"], description="Band around the mean (default sd)"),
        OpenApiParameter("reference_cycle", int), _OUTPUT,
    ], responses=_RESPONSES, operation_id="compare_figure")
    def get(self, request):
        fmt, metric = self.output(), request.query_params.get("metric", "discharge_mah_g")
        if fmt is None:
            return self.bad("output must be svg or pdf")
        if metric not in figures.COMPARE_METRICS:
            return self.bad(f"metric must be one of {', '.join(figures.COMPARE_METRICS)}")
        payload = compare.compare(request.user, compare.selection_from(request.query_params))
        if not payload["groups"]:
            return self.bad("choose at least one cell group you may see (groups=1,2)")
        data = figures.compare_figure(payload, metric=metric, band=request.query_params.get("band", "sd"), fmt=fmt)
        first = groups_visible_to(request.user).get(pk=payload["groups"][0]["id"])
        audit(actor=request.user, action="export.figure", obj=first, figure=f"compare-{metric}", output=fmt,
              groups=[g["id"] for g in payload["groups"]])
        return _figure_response(data, fmt, f"compare-{metric}")
