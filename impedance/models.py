"""EIS results derived from an uploaded file: one row per sweep, and the circuit fits of each sweep."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from cells.querysets import RestrictedQuerySet


class EisSpectrum(models.Model):
    """One impedance sweep of an uploaded EIS file (a looped file gives several), as measured on a cell.

    The data are stored as JSON arrays (a sweep has at most a few hundred points) in the file's order,
    Z'' signed (capacitive < 0). ``after_cycle`` places the sweep on the R_int vs cycle axis; the ingest
    reads it, in this order, from ``after_cycle=N`` in the upload notes, else from the file name
    (``..._c100.mpt``, ``..._cycle100...``, ``..._cyc-100...``), else leaves it empty (0 = before cycling).
    """

    PROJECT_PATH = "cell__project"  # for RestrictedQuerySet.restrict()
    datafile = models.ForeignKey("cycling.DataFile", on_delete=models.CASCADE, related_name="eis_spectra")
    cell = models.ForeignKey("cells.Cell", on_delete=models.CASCADE, related_name="eis_spectra")
    sweep = models.PositiveSmallIntegerField(default=1, help_text="1-based sweep of a looped file.")
    after_cycle = models.PositiveIntegerField(
        null=True, blank=True, help_text="Measured after this cycle (0 = before cycling; empty = unknown)."
    )
    temperature_c = models.FloatField("Temperature (°C)", null=True, blank=True, help_text="From the file, else the cell's.")
    dc_potential_v = models.FloatField("DC potential (V)", null=True, blank=True, help_text="DC potential of the sweep, if the file says.")
    n_points = models.PositiveIntegerField()
    freq_min_hz = models.FloatField("Lowest frequency (Hz)")
    freq_max_hz = models.FloatField("Highest frequency (Hz)")
    freq_hz = models.JSONField(help_text="Frequencies in Hz, in the file's order.")
    z_real_ohm = models.JSONField(help_text="Z' in ohm.")
    z_imag_ohm = models.JSONField(help_text="Z'' in ohm, signed (capacitive < 0).")
    kk_max_residual_pct = models.FloatField("Kramers-Kronig max residual (%)", null=True, blank=True, help_text="Lin-KK: max |residual| in % of |Z|.")
    kk_passes = models.BooleanField(
        null=True, help_text="Lin-KK residuals are noise: no residual above 6 noise sigmas and no run of 5, 10 or 20 "
        "points whose mean is above 4.5 standard errors (noise estimated from the residuals).")
    kk = models.JSONField(default=dict, blank=True, help_text="Lin-KK residuals per frequency, n_rc, mu, the noise, "
                          "the amplitude and structure statistics, the finding and the rule's version.")
    metadata = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["cell_id", "after_cycle", "datafile_id", "sweep"]
        verbose_name = "EIS spectrum"
        verbose_name_plural = "EIS spectra"
        constraints = [models.UniqueConstraint(fields=["datafile", "sweep"], name="one_row_per_sweep")]
        indexes = [models.Index(fields=["cell", "after_cycle"])]

    def __str__(self):
        where = f"after cycle {self.after_cycle}" if self.after_cycle is not None else "cycle unknown"
        return f"{self.cell} sweep {self.sweep} ({where})"


class EisFit(models.Model):
    """An equivalent-circuit fit of one sweep and the interfacial resistance R_int it gives.

    The ingest adds a fit with the default circuit; each refit with another circuit adds a row and becomes
    the current one (``is_current``; exactly one per spectrum). The area-specific R_int uses the cell's
    electrode area at the time of the fit, which is stored with it.
    """

    PROJECT_PATH = "spectrum__cell__project"  # for RestrictedQuerySet.restrict()
    spectrum = models.ForeignKey(EisSpectrum, on_delete=models.CASCADE, related_name="fits")
    circuit = models.CharField(max_length=200)
    r_int_elements = models.JSONField(default=list, help_text="Resistors whose sum is R_int, e.g. ['R2'].")
    r_int_definition = models.TextField(blank=True)
    parameters = models.JSONField(
        default=dict, help_text="{name: {value, stderr, unit, fixed}} in impedance.py's parameter naming."
    )
    chi_square = models.FloatField(null=True)
    chi_square_reduced = models.FloatField("Reduced χ²", null=True)
    weighting = models.CharField(max_length=12, default="modulus")
    r_int_ohm = models.FloatField("R_int (Ω)", null=True)
    r_int_stderr_ohm = models.FloatField("R_int standard error (Ω)", null=True)
    area_cm2 = models.FloatField("Electrode area (cm²)", null=True, blank=True, help_text="The cell's electrode area used.")
    r_int_ohm_cm2 = models.FloatField("R_int (Ω·cm²)", null=True, blank=True)
    r_int_stderr_ohm_cm2 = models.FloatField("R_int standard error (Ω·cm²)", null=True, blank=True)
    converged = models.BooleanField(default=False)
    seeded_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The earlier fit whose values started this one (a series over cycles).",
    )
    elapsed_s = models.FloatField("Fit time (s)", null=True)
    library_versions = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    provenance = models.JSONField(
        default=dict, blank=True,
        help_text="Why this circuit: chosen from the data (candidates, AIC, inductive tail), kept from the cell's "
        "series, or given by a user; and, when no R_int is given, why the data cannot give one (refused).",
    )
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["spectrum_id", "-is_current", "-created_at"]
        verbose_name = "EIS fit"
        constraints = [
            models.UniqueConstraint(fields=["spectrum"], condition=Q(is_current=True), name="one_current_fit"),
        ]
        indexes = [models.Index(fields=["spectrum", "is_current"])]

    def __str__(self):
        r = f"{self.r_int_ohm:.4g} ohm" if self.r_int_ohm is not None else "no R_int"
        return f"{self.circuit}: R_int {r}"

    def parameter_values(self) -> dict[str, float]:
        """{name: value} of the fitted parameters, e.g. to seed the next fit of a series."""
        return {name: p["value"] for name, p in (self.parameters or {}).items() if p.get("value") is not None}
