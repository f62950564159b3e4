"""Effects API: the effect of one build fact on one outcome, the factor screen, the outcomes and factors offered."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from assb_lab.lib import jsonable
from cells.models import Cell

from .. import selectors

_SELECTION = [
    OpenApiParameter("project", int, description="A project id: all its cells you may see"),
    OpenApiParameter("groups", str, description="Comma-separated cell-group ids, e.g. 1,2"),
    OpenApiParameter("cells", str, description="Comma-separated cell ids, e.g. 5,7"),
    OpenApiParameter("outcome", str, required=True, description="Per-cell outcome key (see effects/options/)"),
    OpenApiParameter("cycle", int, description="Cycle N for the outcomes read at a cycle (discharge, retention, "
                     "R_int at N; R_int growth up to N)"),
]
_EFFECT = [
    *_SELECTION,
    OpenApiParameter("factor", str, required=True, description="Build-fact key (see effects/options/)"),
    OpenApiParameter("scale", str, enum=["linear", "log-log"], description="log-log: ln(outcome) on ln(factor), "
                     "the slope is the power-law exponent (numeric factors only)"),
    OpenApiParameter("detect", float, description="Difference (outcome unit) to plan replicates for; default: the "
                     "observed one"),
]


class LevelSerializer(serializers.Serializer):
    level = serializers.JSONField(help_text="Level name (categorical) or factor value (numeric)")
    n = serializers.IntegerField()
    mean = serializers.FloatField(allow_null=True)
    sd = serializers.FloatField(allow_null=True)
    ci95 = serializers.ListField(child=serializers.FloatField(allow_null=True), help_text="95 % t-interval of the mean")
    cells = serializers.ListField(child=serializers.CharField())


class RegressionSerializer(serializers.Serializer):
    slope = serializers.FloatField(allow_null=True)
    slope_ci95 = serializers.ListField(child=serializers.FloatField(allow_null=True))
    r2 = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField()
    scale = serializers.CharField()


class TestSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Welch's t-test, Welch's ANOVA or OLS slope t-test")
    statistic = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    effect_size = serializers.FloatField(allow_null=True)
    effect_size_name = serializers.CharField(help_text="Hedges' g, Cohen's f or Pearson r")


class WarningSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="small_n, missing_outcome, missing_factor, confounded, protocol, "
                                 "rank_test, skewed, one_level, two_values, not_logged, empty")
    message = serializers.CharField()
    cells = serializers.ListField(child=serializers.CharField())


class EffectSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    outcome_unit = serializers.CharField()
    factor = serializers.CharField()
    kind = serializers.CharField(help_text="categorical or numeric")
    levels = LevelSerializer(many=True)
    regression = RegressionSerializer(allow_null=True)
    test = TestSerializer(allow_null=True)
    warnings = WarningSerializer(many=True)
    difference = serializers.DictField(allow_null=True, required=False, help_text="Two levels: estimate of "
                                       "levels[0] − levels[1] (the reference) with its Welch 95 % CI")
    rank_test = serializers.DictField(allow_null=True, required=False)
    pairwise = serializers.ListField(child=serializers.DictField(), required=False,
                                     help_text="More than two levels: Welch per pair, p_holm corrected by Holm")
    planning = serializers.DictField(allow_null=True, required=False, help_text="Cells per level for power 0.8, α 0.05")
    excluded = serializers.ListField(child=serializers.DictField(), help_text="Cells left out, with the reason")


class ScreenEffectSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="difference <level> − <reference>, slope per unit or Cohen's f")
    estimate = serializers.FloatField(allow_null=True)
    ci95 = serializers.ListField(child=serializers.FloatField(allow_null=True))


class ScreenRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    factor = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    kind = serializers.CharField(help_text="categorical or numeric")
    n = serializers.IntegerField()
    n_levels = serializers.IntegerField()
    effect = ScreenEffectSerializer()
    test = serializers.CharField(allow_null=True)
    statistic = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    p_holm = serializers.FloatField(allow_null=True)
    correction = serializers.CharField()
    effect_size = serializers.FloatField(allow_null=True)
    effect_size_name = serializers.CharField(allow_null=True)
    variance_explained = serializers.FloatField(allow_null=True, help_text="η² (categorical) or R² (numeric)")
    confounded_with = serializers.ListField(child=serializers.CharField())


class ScreenSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    outcome_unit = serializers.CharField()
    n = serializers.IntegerField()
    rows = ScreenRowSerializer(many=True)
    warnings = WarningSerializer(many=True)
    excluded = serializers.ListField(child=serializers.DictField())


class OutcomeOptionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    unit = serializers.CharField()
    needs_cycle = serializers.BooleanField()


class FactorOptionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField(help_text="categorical or numeric")
    unit = serializers.CharField()


class OptionsSerializer(serializers.Serializer):
    outcomes = OutcomeOptionSerializer(many=True)
    factors = FactorOptionSerializer(many=True)
    scales = serializers.ListField(child=serializers.CharField())


class _EffectsBase(generics.GenericAPIView):
    queryset = Cell.objects.none()  # model permission: cells.view_cell; the cells themselves go through restrict()
    filter_backends = []
    pagination_class = None

    def query(self, **kw):
        try:
            return selectors.query_from(self.request.query_params, **kw)
        except selectors.BadQuery as exc:
            raise ValidationError({"detail": str(exc)}) from None


class EffectView(_EffectsBase):
    """The effect of one build fact on one per-cell outcome over the selection: levels with n, mean, sd, 95 % CI
    and their cells (categorical) or the OLS regression (numeric, optionally log-log), the test with its effect
    size, and warnings (n < 3, missing outcomes, confounded facts, different protocols)."""

    serializer_class = EffectSerializer

    @extend_schema(parameters=_EFFECT, responses=EffectSerializer)
    def get(self, request):
        query = self.query()
        return Response(jsonable(selectors.effect(request.user, query)))


class ScreenView(_EffectsBase):
    """Every build fact that varies in the selection, ranked by its effect on the outcome with CI, p and
    Holm-corrected p."""

    serializer_class = ScreenSerializer

    @extend_schema(parameters=_SELECTION, responses=ScreenSerializer)
    def get(self, request):
        query = self.query(screen=True)
        return Response(jsonable(selectors.screen(request.user, query)))


class OptionsView(_EffectsBase):
    """The outcomes (key, label, unit, needs_cycle) and build facts (key, label, kind, unit) one can ask for."""

    serializer_class = OptionsSerializer

    @extend_schema(responses=OptionsSerializer)
    def get(self, request):
        return Response(selectors.options())
