"""REST representations of EIS spectra, fits and R_int series (they render the selectors' dicts)."""
from rest_framework import serializers

from cycling.api.serializers import GroupSeriesSerializer


def _float_list(**kwargs):
    return serializers.ListField(child=serializers.FloatField(allow_null=True), **kwargs)


class ImpedanceDataSerializer(serializers.Serializer):
    """Nyquist and Bode data, high to low frequency as measured (fits: on a log grid)."""

    freq_hz = _float_list()
    z_real_ohm = _float_list()
    z_imag_ohm = _float_list(help_text="Signed: a capacitive arc has Z'' < 0 (plot -Z'' upwards).")
    z_mod_ohm = _float_list()
    phase_deg = _float_list()


class SpectrumSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    cell = serializers.IntegerField()
    cell_name = serializers.CharField()
    datafile = serializers.IntegerField()
    original_name = serializers.CharField()
    sweep = serializers.IntegerField()
    after_cycle = serializers.IntegerField(allow_null=True, help_text="Measured after this cycle (0 = before cycling).")
    temperature_c = serializers.FloatField(allow_null=True)
    dc_potential_v = serializers.FloatField(allow_null=True)
    n_points = serializers.IntegerField()
    freq_min_hz = serializers.FloatField()
    freq_max_hz = serializers.FloatField()
    kk_max_residual_pct = serializers.FloatField(allow_null=True)
    kk_passes = serializers.BooleanField(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())
    circuit = serializers.CharField(allow_null=True, help_text="Circuit of the current fit.")
    r_int_ohm = serializers.FloatField(allow_null=True)
    r_int_stderr_ohm = serializers.FloatField(allow_null=True)
    r_int_ohm_cm2 = serializers.FloatField(allow_null=True, help_text="R_int x the cell's electrode area.")
    fit_converged = serializers.BooleanField(allow_null=True)
    r_int_marked = serializers.BooleanField(
        allow_null=True, help_text="No R_int, not converged, or standard error above 20 % of R_int.")
    r_int_finding = serializers.CharField(allow_blank=True, help_text="Why R_int is marked (empty if not).")


class FitParameterSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    stderr = serializers.FloatField(allow_null=True)
    unit = serializers.CharField()
    fixed = serializers.BooleanField()


class FitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    circuit = serializers.CharField()
    is_current = serializers.BooleanField()
    r_int_elements = serializers.ListField(child=serializers.CharField())
    r_int_definition = serializers.CharField()
    r_int_ohm = serializers.FloatField(allow_null=True)
    r_int_stderr_ohm = serializers.FloatField(allow_null=True)
    area_cm2 = serializers.FloatField(allow_null=True)
    r_int_ohm_cm2 = serializers.FloatField(allow_null=True)
    r_int_stderr_ohm_cm2 = serializers.FloatField(allow_null=True)
    chi_square = serializers.FloatField(allow_null=True)
    chi_square_reduced = serializers.FloatField(allow_null=True)
    converged = serializers.BooleanField()
    parameters = serializers.DictField(child=FitParameterSerializer())
    weighting = serializers.CharField()
    library_versions = serializers.DictField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    curve = ImpedanceDataSerializer(allow_null=True, help_text="The circuit evaluated on 200 log-spaced points.")
    provenance = serializers.DictField(
        help_text="Why this circuit (chosen by AIC from candidates, kept from the cell's series, or given) and, "
        "when no R_int is given, why (refused).")
    r_int_marked = serializers.BooleanField()
    r_int_finding = serializers.CharField(allow_blank=True)


class KKSerializer(serializers.Serializer):
    freq_hz = _float_list()
    residuals_real_pct = _float_list()
    residuals_imag_pct = _float_list()
    threshold_pct = serializers.FloatField(allow_null=True)
    n_rc = serializers.IntegerField(allow_null=True)
    mu = serializers.FloatField(allow_null=True)
    c = serializers.FloatField(allow_null=True, help_text="mu criterion: RC elements added until mu < c.")
    fit_type = serializers.CharField(allow_null=True)
    add_cap = serializers.BooleanField(allow_null=True)
    add_inductance = serializers.BooleanField(allow_null=True)
    max_abs_residual_pct = serializers.FloatField(allow_null=True)
    passes = serializers.BooleanField(allow_null=True)
    noise_pct = serializers.FloatField(allow_null=True, help_text="Noise of the data in % of |Z|, estimated from "
                                       "the residuals' point-to-point differences (at least 0.2 %, an analyser's accuracy).")
    amplitude = serializers.FloatField(allow_null=True, help_text="Largest |residual| in noise standard deviations.")
    amplitude_limit = serializers.FloatField(allow_null=True)
    structure = serializers.FloatField(allow_null=True, help_text="Largest |mean| of 5, 10 or 20 consecutive "
                                       "residuals in standard errors (noise / sqrt(run)): drift leaves runs.")
    structure_limit = serializers.FloatField(allow_null=True)
    structure_window = serializers.DictField(help_text="Where the structure statistic peaks: part, n_points, "
                                             "from_hz, to_hz, mean_residual_pct.")
    finding = serializers.CharField(allow_blank=True, help_text="Why the spectrum fails, in words (empty: passes).")
    version = serializers.IntegerField(help_text="Version of the decision rule (1: max residual < 2 % of |Z|).")
    rule = serializers.CharField(allow_blank=True)


class SpectrumDetailSerializer(SpectrumSerializer):
    metadata = serializers.DictField()
    data = ImpedanceDataSerializer()
    kk = KKSerializer(help_text="Lin-KK residuals in % of |Z|.")
    fits = FitSerializer(many=True, help_text="Current fit first.")


class RefitSerializer(serializers.Serializer):
    """A refit request: the circuit (strict grammar) and which resistors form R_int."""

    circuit = serializers.CharField(max_length=200, help_text="e.g. R0-p(R1,CPE1)-p(R2,CPE2)-Wo1")
    r_int_elements = serializers.ListField(
        child=serializers.CharField(max_length=8), required=False, max_length=12,
        help_text="Resistors whose sum is R_int; default ['R2'].",
    )


class RintStatsSerializer(serializers.Serializer):
    mean = _float_list()
    sd = _float_list(help_text="Sample standard deviation over the cells; null below two cells.")
    n = serializers.ListField(child=serializers.IntegerField(), help_text="Cells contributing per cycle.")


class CellRintSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    group_id = serializers.IntegerField()
    group = serializers.CharField()
    color = serializers.CharField()
    area_cm2 = serializers.FloatField(allow_null=True)
    cycle = serializers.ListField(child=serializers.IntegerField(allow_null=True),
                                  help_text="after_cycle of each spectrum; null = unknown (listed last).")
    r_int_ohm = _float_list()
    r_int_stderr_ohm = _float_list()
    r_int_ohm_cm2 = _float_list()
    spectrum = serializers.ListField(child=serializers.IntegerField())
    kk_passes = serializers.ListField(child=serializers.BooleanField(allow_null=True))
    converged = serializers.ListField(child=serializers.BooleanField())
    circuit = serializers.ListField(child=serializers.CharField())
    marked = serializers.ListField(child=serializers.BooleanField(),
                                   help_text="No R_int, not converged, or standard error above 20 % of R_int.")
    finding = serializers.ListField(child=serializers.CharField(allow_blank=True), help_text="Why marked.")


class CellRintSelectedSerializer(CellRintSerializer):
    selected = serializers.BooleanField(help_text="Chosen on its own (not only as a group member).")


class GroupRintSerializer(GroupSeriesSerializer):
    r_int_ohm = RintStatsSerializer()
    r_int_ohm_cm2 = RintStatsSerializer()


class RintCompareSerializer(serializers.Serializer):
    groups = GroupRintSerializer(many=True)
    cells = CellRintSelectedSerializer(many=True)


class DrtPeakSerializer(serializers.Serializer):
    tau_s = serializers.FloatField()
    f_hz = serializers.FloatField()
    resistance_ohm = serializers.FloatField(help_text="Area of the peak; the peaks add up to r_pol_ohm.")


class DrtSerializer(serializers.Serializer):
    """The DRT of one sweep: the keys of `manage.py drt`, the series terms and the provenance of the method."""

    spectrum = serializers.IntegerField()
    tau_s = serializers.ListField(child=serializers.FloatField())
    gamma_ohm = serializers.ListField(child=serializers.FloatField(), help_text="gamma(ln tau) in ohm.")
    r_inf_ohm = serializers.FloatField()
    r_pol_ohm = serializers.FloatField(help_text="Integral of gamma over ln tau.")
    peaks = DrtPeakSerializer(many=True)
    residual_rel = serializers.FloatField()
    inductance_h = serializers.FloatField(allow_null=True)
    capacitance_f = serializers.FloatField(allow_null=True)
    provenance = serializers.DictField(help_text="method, basis, lambda and how it was chosen, tail, peak rule, version")

    def get_fields(self):
        fields = super().get_fields()
        fields["lambda"] = serializers.FloatField(help_text="Regularisation strength used.")  # a Python keyword
        return fields


class DrtCurveSerializer(serializers.Serializer):
    cell = serializers.IntegerField()
    cell_name = serializers.CharField()
    cycle = serializers.IntegerField()
    spectrum = serializers.IntegerField()
    tau_s = serializers.ListField(child=serializers.FloatField())
    gamma_ohm = serializers.ListField(child=serializers.FloatField())

    def get_fields(self):
        fields = super().get_fields()
        fields["lambda"] = serializers.FloatField()
        return fields


class GroupProcessSerializer(serializers.Serializer):
    f_hz_median = serializers.FloatField()
    cells = serializers.ListField(child=serializers.IntegerField())
    cycle = serializers.ListField(child=serializers.IntegerField())
    mean_ohm = serializers.ListField(child=serializers.FloatField())
    sd_ohm = serializers.ListField(child=serializers.FloatField(allow_null=True))
    n = serializers.ListField(child=serializers.IntegerField())


class GroupDrtSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField(allow_blank=True)
    drts = DrtCurveSerializer(many=True)
    processes = GroupProcessSerializer(many=True)


class DrtCompareSerializer(serializers.Serializer):
    groups = GroupDrtSerializer(many=True)
    cycles = serializers.ListField(child=serializers.IntegerField())
    version = serializers.IntegerField()
