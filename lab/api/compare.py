"""Compare API: groups and cells side by side (mean/sd/min/max per cycle, rate capability, summary rows)."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers

from cycling import cache
from cycling.api.serializers import GroupSeriesSerializer
from cycling.models import CycleSummary

from .. import compare

_PARAMS = [
    OpenApiParameter("groups", str, description="Comma-separated cell-group ids, e.g. 1,2"),
    OpenApiParameter("cells", str, description="Comma-separated cell ids compared on their own, e.g. 5,7"),
    OpenApiParameter("reference_cycle", int, description="Retention = capacity / capacity at this cycle "
                     "(default: each cell's first long-term cycle, else its first cycle)"),
]


class CompareStatsSerializer(serializers.Serializer):
    mean = serializers.ListField(child=serializers.FloatField(allow_null=True))
    sd = serializers.ListField(child=serializers.FloatField(allow_null=True))
    min = serializers.ListField(child=serializers.FloatField(allow_null=True))
    max = serializers.ListField(child=serializers.FloatField(allow_null=True))
    n = serializers.ListField(child=serializers.IntegerField(), help_text="Cells contributing per cycle.")


class CompareGroupSeriesSerializer(GroupSeriesSerializer):
    discharge_mah_g = CompareStatsSerializer()
    ce_percent = CompareStatsSerializer()
    retention_percent = CompareStatsSerializer()


class CompareSegmentSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="C-rate label, e.g. 0.1C or C/3")
    segment = serializers.CharField(help_text="formation, long-term, rate-test or other")
    # "from" is a Python keyword: declared through the field map.

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.IntegerField()
        fields["to"] = serializers.IntegerField()
        return fields


class CompareCellSeriesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    group_id = serializers.IntegerField()
    group = serializers.CharField()
    color = serializers.CharField()
    selected = serializers.BooleanField(help_text="Chosen on its own (not only as a group member).")
    url = serializers.CharField()
    cycle = serializers.ListField(child=serializers.IntegerField())
    discharge_mah_g = serializers.ListField(child=serializers.FloatField(allow_null=True))
    ce_percent = serializers.ListField(child=serializers.FloatField(allow_null=True))
    retention_percent = serializers.ListField(child=serializers.FloatField(allow_null=True))
    retention_reference_cycle = serializers.IntegerField(allow_null=True)
    segments = CompareSegmentSerializer(many=True)


class CompareRateGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    mean = serializers.ListField(child=serializers.FloatField(allow_null=True))
    sd = serializers.ListField(child=serializers.FloatField(allow_null=True))
    n = serializers.ListField(child=serializers.IntegerField())


class CompareRateCellSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    mean = serializers.ListField(child=serializers.FloatField(allow_null=True))


class CompareRateCapabilitySerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField(), help_text="C-rate labels, slowest first.")
    groups = CompareRateGroupSerializer(many=True)
    cells = CompareRateCellSerializer(many=True)


class CompareSummaryColumnSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField(help_text="Header with its unit.")
    decimals = serializers.IntegerField()


class CompareSummarySerializer(serializers.Serializer):
    columns = CompareSummaryColumnSerializer(many=True)
    groups = serializers.ListField(child=serializers.DictField(), help_text="Per group: mean and <key>_sd of "
                                   "every metric across its cells; reference cycles (and r_int_cycle) when shared, "
                                   "<key>_varies when they differ; r_int_n = cells with an R_int.")
    cells = serializers.ListField(child=serializers.DictField(), help_text="Per cell: run metrics; R_int after "
                                  "formation (r_int_ohm, r_int_ohm_cm2) of the earliest EIS spectrum, the cycle it "
                                  "was measured after (r_int_cycle) and its id (r_int_spectrum_id); null without EIS.")


class CompareSelectionSerializer(serializers.Serializer):
    groups = serializers.ListField(child=serializers.IntegerField())
    cells = serializers.ListField(child=serializers.IntegerField())
    reference_cycle = serializers.IntegerField(allow_null=True)


class CompareSerializer(serializers.Serializer):
    selection = CompareSelectionSerializer()
    capacity_unit = serializers.CharField()
    groups = CompareGroupSeriesSerializer(many=True)
    cells = CompareCellSeriesSerializer(many=True)
    rate_capability = CompareRateCapabilitySerializer()
    summary = CompareSummarySerializer()


class _CompareBase(generics.GenericAPIView):
    queryset = CycleSummary.objects.none()  # model permission: cycling.view_cyclesummary
    filter_backends = []
    pagination_class = None

    def cached(self, endpoint: str, pick=lambda payload: payload):
        """The answer from the dashboard cache: keyed by the visible groups and cells as resolved for this
        user (their names, colours and data stamps) and the reference cycle, so hidden ids never count."""
        selection = compare.selection_from(self.request.query_params)
        resolved = compare.resolve(self.request.user, selection)
        groups, cells, single = resolved
        parts = [selection.reference_cycle, sorted(single),
                 *(f"g{g.pk}:{g.name}:{g.color}" for g in groups),
                 *(f"{cache.cell_stamp(c)}:{c.group_id}:{c.group.name}:{c.group.color}" for c in cells)]
        return cache.json_response(endpoint, parts,
                                   lambda: pick(compare.compare(self.request.user, selection, resolved)))


class CompareView(_CompareBase):
    """Groups and cells compared: per group the cycle axis with mean/sd/min/max of discharge capacity,
    CE and retention across replicates; per cell its series and C-rate segments; rate capability;
    summary rows. Only cells the user may see take part; unknown or hidden ids are ignored."""

    serializer_class = CompareSerializer

    @extend_schema(parameters=_PARAMS, responses=CompareSerializer)
    def get(self, request):
        return self.cached("compare")


class CompareSummaryView(_CompareBase):
    """Only the summary rows of a comparison (ICE, first discharge, capacity at 100/500, retention,
    decay %/cycle with its reference cycle, cycles to 80 %, R_int after formation with its cycle)."""

    serializer_class = CompareSummarySerializer

    @extend_schema(parameters=_PARAMS, responses=CompareSummarySerializer)
    def get(self, request):
        return self.cached("compare-summary", lambda payload: payload["summary"])
