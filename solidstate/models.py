"""Stored results of the solid-state analyses: a pellet spectrum's conductivity, a symmetric cell's CCD."""
from django.db import models

ANALYSIS_VERSION = 1


class ConductivityMeasurement(models.Model):
    """The ionic conductivity of one pellet spectrum (sigma = L / (R A)); bulk values only where the bulk arc is
    inside the measured band. ``error`` holds why a spectrum gave none (then the numbers are empty)."""

    spectrum = models.OneToOneField("impedance.EisSpectrum", on_delete=models.CASCADE, related_name="conductivity")
    cell = models.ForeignKey("cells.Cell", on_delete=models.CASCADE, related_name="conductivity_measurements")
    temperature_c = models.FloatField("Temperature (°C)", null=True, blank=True)
    temperature_source = models.CharField(max_length=40, blank=True, help_text="upload notes, file or build sheet")
    thickness_mm = models.FloatField("Thickness (mm)", null=True)
    area_cm2 = models.FloatField("Area (cm²)", null=True)
    r_total_ohm = models.FloatField("R_total (Ω)", null=True)
    r_total_se_ohm = models.FloatField("R_total standard error (Ω)", null=True)
    sigma_total_s_cm = models.FloatField("σ_total (S/cm)", null=True)
    sigma_total_se_s_cm = models.FloatField("σ_total standard error (S/cm)", null=True)
    r_bulk_ohm = models.FloatField("R_bulk (Ω)", null=True, blank=True)
    r_bulk_se_ohm = models.FloatField("R_bulk standard error (Ω)", null=True, blank=True)
    sigma_bulk_s_cm = models.FloatField("σ_bulk (S/cm)", null=True, blank=True)
    sigma_bulk_se_s_cm = models.FloatField("σ_bulk standard error (S/cm)", null=True, blank=True)
    measured = models.CharField(max_length=20, blank=True, help_text='"bulk and total" or "total only"')
    statement = models.TextField(blank=True)
    error = models.TextField(blank=True)
    analysis_version = models.PositiveSmallIntegerField(default=ANALYSIS_VERSION)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cell", "temperature_c"]

    def __str__(self):
        return f"{self.cell} at {self.temperature_c} °C"

    # mS/cm, as labs report it
    @property
    def sigma_total_ms_cm(self):
        return None if self.sigma_total_s_cm is None else self.sigma_total_s_cm * 1e3

    @property
    def sigma_total_se_ms_cm(self):
        return None if self.sigma_total_se_s_cm is None else self.sigma_total_se_s_cm * 1e3

    @property
    def sigma_bulk_ms_cm(self):
        return None if self.sigma_bulk_s_cm is None else self.sigma_bulk_s_cm * 1e3


class CcdMeasurement(models.Model):
    """The critical current density of a symmetric cell from one cycling file (null when not reached)."""

    datafile = models.OneToOneField("cycling.DataFile", on_delete=models.CASCADE, related_name="ccd")
    cell = models.ForeignKey("cells.Cell", on_delete=models.CASCADE, related_name="ccd_measurements")
    area_cm2 = models.FloatField("Area (cm²)", null=True)
    steps = models.JSONField(default=list, help_text="[{current_density_ma_cm2, overpotential_mv, asr_ohm_cm2}]")
    ccd_ma_cm2 = models.FloatField("CCD (mA/cm²)", null=True, blank=True)
    short_time_s = models.FloatField("Short at (s)", null=True, blank=True)
    definition = models.TextField(blank=True)
    trace = models.JSONField(default=dict, blank=True, help_text="Downsampled voltage trace: time_s, voltage_v")
    error = models.TextField(blank=True)
    analysis_version = models.PositiveSmallIntegerField(default=ANALYSIS_VERSION)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.cell}: CCD {self.ccd_ma_cm2 if self.ccd_ma_cm2 is not None else 'not reached'}"


class PressureTrace(models.Model):
    """The stack-pressure channel of one cycling file (BDF ``Applied Pressure / Pa``...), downsampled, with the
    drift from the cell's registered stack pressure. ``has_channel`` False: the file has none (not retried)."""

    datafile = models.OneToOneField("cycling.DataFile", on_delete=models.CASCADE, related_name="pressure_trace")
    cell = models.ForeignKey("cells.Cell", on_delete=models.CASCADE, related_name="pressure_traces")
    has_channel = models.BooleanField(default=False)
    time_s = models.JSONField(default=list)
    pressure_mpa = models.JSONField(default=list)
    mean_pressure_mpa = models.FloatField("Mean stack pressure (MPa)", null=True, blank=True)
    registered_mpa = models.FloatField("Registered stack pressure (MPa)", null=True, blank=True)
    drift = models.JSONField(default=dict, blank=True, help_text="Active drift: since_s, pressure_mpa, message")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.datafile}: {self.mean_pressure_mpa} MPa"


class ElectronicMeasurement(models.Model):
    """The electronic conductivity of a pellet from one DC polarisation file (sigma_e = L I_ss / (V A)), only
    where the current reached a steady state (``steady_state`` says how it was detected; ``error`` why not)."""

    datafile = models.OneToOneField("cycling.DataFile", on_delete=models.CASCADE, related_name="electronic")
    cell = models.ForeignKey("cells.Cell", on_delete=models.CASCADE, related_name="electronic_measurements")
    thickness_mm = models.FloatField("Thickness (mm)", null=True)
    area_cm2 = models.FloatField("Area (cm²)", null=True)
    sigma_e_s_cm = models.FloatField("σ_e (S/cm)", null=True, blank=True)
    current_ss_ma = models.FloatField("Steady-state current (mA)", null=True, blank=True)
    voltage_v = models.FloatField("Voltage (V)", null=True, blank=True)
    steady_state = models.TextField(blank=True)
    error = models.TextField(blank=True)
    analysis_version = models.PositiveSmallIntegerField(default=ANALYSIS_VERSION)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.cell}: sigma_e {self.sigma_e_s_cm}"
