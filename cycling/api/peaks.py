"""dQ/dV with explicit smoothing parameters and dQ/dV peak tracking per cell, as JSON or long-format CSV."""
from dataclasses import asdict

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, response, serializers, status

from assb_lab.params import BadQueryParameter, query_number
from cycling.analysis import DqdvParams
from cycling.exports import table_response

from .. import selectors
from .views import _CYCLES_PARAM, _CellDataView

_DEFAULTS = DqdvParams()
# Bounds keep one request cheap: the grid and the filter window set the size of the dQ/dV matrix.
_LIMITS = {"grid_mv": (0.5, 50.0), "window_points": (3, 201), "polyorder": (1, 5)}

PARAMS = [
    OpenApiParameter("grid_mv", float, description=f"Voltage grid step in mV (default {_DEFAULTS.grid_mv:g}, "
                     f"{_LIMITS['grid_mv'][0]:g}-{_LIMITS['grid_mv'][1]:g})"),
    OpenApiParameter("window_points", int, description=f"Savitzky-Golay window in grid points, odd (default "
                     f"{_DEFAULTS.window_points}, {_LIMITS['window_points'][0]}-{_LIMITS['window_points'][1]})"),
    OpenApiParameter("polyorder", int, description=f"Savitzky-Golay polynomial order, below the window "
                     f"(default {_DEFAULTS.polyorder})"),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv: long format, units in the headers"),
]

DQDV_CSV_COLUMNS = [("cycle", "cycle"), ("half", "half"), ("voltage_v", "voltage (V)"), ("dqdv", "dQ/dV ({unit})")]
PEAKS_CSV_COLUMNS = [
    ("peak_id", "peak_id"), ("cycle", "cycle"), ("half", "half"), ("rank", "rank"), ("voltage_v", "voltage (V)"),
    ("height_mah_v", "height (mAh/V)"), ("area_mah", "area (mAh)"), ("prominence_mah_v", "prominence (mAh/V)"),
    ("width_v", "width (V)"), ("drift_mv_per_cycle", "track drift (mV/cycle)"),
]


class CSVRenderer(renderers.BaseRenderer):
    """Lets ?format=csv through DRF's content negotiation; the views build the CSV body themselves."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        import json

        return json.dumps(data).encode()  # errors (400) stay readable


class DqdvParamsSerializer(serializers.Serializer):
    grid_mv = serializers.FloatField(help_text="Voltage grid step (mV).")
    smooth = serializers.BooleanField(help_text="Savitzky-Golay derivative (false: central differences).")
    window_points = serializers.IntegerField(help_text="Savitzky-Golay window (grid points, odd).")
    polyorder = serializers.IntegerField(help_text="Savitzky-Golay polynomial order.")


class CellDqdvTraceSerializer(serializers.Serializer):
    cycle = serializers.IntegerField()
    half = serializers.ChoiceField(choices=["charge", "discharge"])
    voltage_v = serializers.ListField(child=serializers.FloatField())
    dqdv = serializers.ListField(child=serializers.FloatField())
    peaks_v = serializers.ListField(child=serializers.FloatField())
    datafile = serializers.IntegerField(help_text="The data file the cycle comes from.")
    file_cycle = serializers.IntegerField(help_text="The cycle's number in that file (cycle is the cell's).")


class CellDqdvSerializer(serializers.Serializer):
    cell = serializers.IntegerField()
    dqdv_unit = serializers.CharField()
    analysis_version = serializers.CharField()
    params = DqdvParamsSerializer()
    traces = CellDqdvTraceSerializer(many=True)


class PeakTrackRowSerializer(serializers.Serializer):
    peak_id = serializers.CharField(help_text="Track name '<half>-<n>'.")
    cycle = serializers.IntegerField()
    half = serializers.ChoiceField(choices=["charge", "discharge"])
    rank = serializers.IntegerField(help_text="1 = highest peak of that half cycle.")
    voltage_v = serializers.FloatField()
    height_mah_v = serializers.FloatField()
    area_mah = serializers.FloatField(allow_null=True)
    prominence_mah_v = serializers.FloatField(allow_null=True)
    width_v = serializers.FloatField(allow_null=True)


class PeakDriftSerializer(serializers.Serializer):
    peak_id = serializers.CharField()
    half = serializers.CharField()
    first_cycle = serializers.IntegerField()
    last_cycle = serializers.IntegerField()
    n_cycles = serializers.IntegerField()
    first_voltage_v = serializers.FloatField()
    last_voltage_v = serializers.FloatField()
    mean_height_mah_v = serializers.FloatField()
    drift_mv_per_cycle = serializers.FloatField(allow_null=True, help_text="Least-squares slope of voltage vs cycle.")


class CellPeaksSerializer(serializers.Serializer):
    cell = serializers.IntegerField()
    datafile = serializers.IntegerField(allow_null=True, help_text="The active cycling file the peaks come from.")
    analysis_version = serializers.CharField()
    params = DqdvParamsSerializer()
    active_mass_mg = serializers.FloatField(allow_null=True)
    mass_g = serializers.FloatField(allow_null=True)
    height_unit = serializers.CharField()
    area_unit = serializers.CharField()
    peaks = PeakTrackRowSerializer(many=True)
    drift = PeakDriftSerializer(many=True)


class _ParamsMixin:
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer, CSVRenderer]

    def dqdv_params(self) -> DqdvParams | dict:
        """DqdvParams from the query (defaults from analysis.DqdvParams), or a dict of errors."""
        query, given, errors = self.request.query_params, {}, {}
        for name, cast in (("grid_mv", float), ("window_points", int), ("polyorder", int)):
            lo, hi = _LIMITS[name]
            try:
                value = query_number(query, name, kind=cast, min_value=lo, max_value=hi)
            except BadQueryParameter as exc:
                errors[name] = [exc.message]
                continue
            if value is not None:
                given[name] = value
        if errors:
            return errors
        try:
            return selectors.dqdv_params(**given)
        except ValueError as exc:  # DqdvParams names the field first: "window_points: ..."
            field, _, message = str(exc).partition(": ")
            return {field: [message]}

    def wants_csv(self) -> bool:
        return getattr(self.request.accepted_renderer, "format", "") == "csv"


class CellDqdvView(_ParamsMixin, _CellDataView):
    """dQ/dV of chosen cycles (Savitzky-Golay smoothed on a uniform voltage grid) with peak voltages and the
    smoothing parameters used (defaults from cycling.analysis.DqdvParams). format=csv: one row per point."""

    serializer_class = CellDqdvSerializer

    @extend_schema(parameters=[_CYCLES_PARAM, *PARAMS],
                   responses={(200, "application/json"): CellDqdvSerializer, (200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, pk):
        from cycling.analysis import ANALYSIS_VERSION

        params = self.dqdv_params()
        if isinstance(params, dict):
            return response.Response(params, status=status.HTTP_400_BAD_REQUEST)
        cell = self.get_cell()
        body = selectors.cell_dqdv(cell, self.cycle_tokens(), params)
        body.update(params=asdict(params), analysis_version=ANALYSIS_VERSION)
        if not self.wants_csv():
            return response.Response(body)
        columns = [(k, label.format(unit=body["dqdv_unit"])) for k, label in DQDV_CSV_COLUMNS]
        rows = [{"cycle": t["cycle"], "half": t["half"], "voltage_v": v, "dqdv": y}
                for t in body["traces"] for v, y in zip(t["voltage_v"], t["dqdv"], strict=True)]
        return table_response(columns, rows, fmt="csv", filename=f"{cell.name}-dqdv")


class CellPeaksView(_ParamsMixin, _CellDataView):
    """Main dQ/dV peaks per cycle and half of the cell's active cycling file (position, height, area),
    linked into tracks, with each track's drift in mV/cycle (cycling.analysis.checks.peak_tracking / peak_drift).
    Computed once per file, analysis version and parameters, then served from the cache. format=csv: one row
    per peak, units in the headers, the track's drift repeated on each row."""

    serializer_class = CellPeaksSerializer

    @extend_schema(parameters=PARAMS,
                   responses={(200, "application/json"): CellPeaksSerializer, (200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, pk):
        params = self.dqdv_params()
        if isinstance(params, dict):
            return response.Response(params, status=status.HTTP_400_BAD_REQUEST)
        cell = self.get_cell()
        body = selectors.cell_peaks(cell, params)
        if not self.wants_csv():
            return response.Response(body)
        drift = {d["peak_id"]: d["drift_mv_per_cycle"] for d in body["drift"]}
        rows = [{**p, "drift_mv_per_cycle": drift.get(p["peak_id"])} for p in body["peaks"]]
        return table_response(PEAKS_CSV_COLUMNS, rows, fmt="csv", filename=f"{cell.name}-dqdv-peaks")
