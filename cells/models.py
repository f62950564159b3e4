"""The cell registry: projects, cohorts, materials, coatings, cell builds, pressing steps, cycler devices."""
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from . import derived
from .querysets import RestrictedQuerySet

positive = MinValueValidator(0.0, message="must be positive")


def _positive_or_none(value, label):
    if value is not None and value <= 0:
        return {label: "Must be greater than zero."}
    return {}


class Project(models.Model):
    """A research project of the lab; members see its cells, nobody else does (staff see all)."""

    PROJECT_PATH = ""  # for RestrictedQuerySet.restrict()
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="lab_projects")
    created_at = models.DateTimeField(auto_now_add=True)
    # The reference cycles of the project's metrics (cycling.analysis.fade); empty = the defaults.
    retention_reference_cycle = models.PositiveIntegerField(
        null=True, blank=True, help_text="Cell cycle that retention and cycles to 80/70 % are measured against; "
                                         "empty = each cell's first long-term cycle (else its first cycle).")
    decay_reference_cycle = models.PositiveIntegerField(
        null=True, blank=True, help_text="Cell cycle the decay per cycle is measured from; empty = each cell's first "
                                         "complete cycle (the study's first 0.1C discharge).")
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    REFERENCE_FIELDS = ("retention_reference_cycle", "decay_reference_cycle")

    def save(self, *args, **kwargs):
        # A new reference cycle changes every figure of the project's cells: their data_version moves on, so the
        # cached dashboards and the stored cell figures are recomputed (whichever face saved the project).
        before = (Project.objects.filter(pk=self.pk).values_list(*self.REFERENCE_FIELDS).first()
                  if self.pk else None)
        super().save(*args, **kwargs)
        if before is not None and tuple(before) != tuple(getattr(self, f) for f in self.REFERENCE_FIELDS):
            Cell.objects.filter(project=self).update(data_version=models.F("data_version") + 1)


class CellGroup(models.Model):
    """A cohort of replicate cells built the same way, e.g. "LNTO-coated" or "bare"."""

    PROJECT_PATH = "project"  # for RestrictedQuerySet.restrict()
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="groups")
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    color = models.CharField(max_length=7, blank=True, help_text="Plot colour, #rrggbb.")
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["project__name", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_group_per_project")]

    def __str__(self):
        return self.name


class Material(models.Model):
    """A reusable material record: cathode active material, solid electrolyte, anode, additive or coating."""

    class Kind(models.TextChoices):
        CATHODE_ACTIVE = "cathode_active", "Cathode active material"
        SOLID_ELECTROLYTE = "solid_electrolyte", "Solid electrolyte"
        ANODE = "anode", "Anode"
        CONDUCTIVE_ADDITIVE = "conductive_additive", "Conductive additive"
        COATING = "coating", "Coating"

    name = models.CharField(max_length=80, unique=True, help_text="e.g. SC-NMC532, LGPS, In-Li, LNTO")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    formula = models.CharField(max_length=120, blank=True, help_text="e.g. LiNi0.5Mn0.3Co0.2O2")
    supplier = models.CharField(max_length=120, blank=True)
    theoretical_capacity_mah_g = models.FloatField(
        "Theoretical capacity (mAh/g)",
        null=True, blank=True, validators=[positive], help_text="Default for builds using this active material."
    )
    potential_vs_li_v = models.FloatField(
        "Potential vs Li⁺/Li (V)",
        null=True, blank=True, help_text="Anode potential vs Li+/Li (In-Li: 0.62 V); converts voltage windows."
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self):
        return self.name


class Coating(models.Model):
    """A cathode coating recipe (material, thickness, amount, method, anneal). No coating = a bare cathode."""

    material = models.ForeignKey(
        Material, on_delete=models.PROTECT, limit_choices_to={"kind": Material.Kind.COATING}, related_name="coatings"
    )
    thickness_nm = models.FloatField("Thickness (nm)", validators=[positive])
    wt_percent = models.FloatField(
        "Coating content (wt%)",
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(100.0)]
    )
    method = models.CharField(max_length=80, blank=True, help_text="e.g. sol-gel, ALD, dry mixing")
    anneal_temperature_c = models.FloatField("Anneal temperature (°C)", null=True, blank=True)
    anneal_time_h = models.FloatField("Anneal time (h)", null=True, blank=True, validators=[positive])
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["material__name", "thickness_nm"]

    def __str__(self):
        return f"{self.material} {self.thickness_nm:g} nm"


class ElectrolyteBatch(models.Model):
    """One batch of solid electrolyte powder (bought or synthesised): the pellets measured for its conductivity,
    the symmetric cells measured for its critical current density and the full cells built from it point to it,
    so a cell page can show the conductivity of the electrolyte it was built from."""

    name = models.CharField(max_length=80, unique=True, help_text="Batch code, e.g. LGPS-2026-03")
    material = models.ForeignKey(
        Material, on_delete=models.PROTECT, related_name="batches",
        limit_choices_to={"kind": Material.Kind.SOLID_ELECTROLYTE},
    )
    supplier = models.CharField(max_length=120, blank=True, help_text="Supplier and lot, if bought.")
    synthesis = models.TextField(blank=True, help_text="Route and conditions, if made in the lab.")
    made_on = models.DateField("Date (received or synthesised)", null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["material__name", "name"]
        verbose_name_plural = "electrolyte batches"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("electrolyte-batch", args=[self.pk])

    def clean(self):
        if self.material_id and self.material.kind != Material.Kind.SOLID_ELECTROLYTE:
            raise ValidationError({"material": "An electrolyte batch is of a solid electrolyte."})


class Cell(models.Model):
    """One assembled cell (a build sheet): what it is made of, how it was pressed and how it is cycled.

    Derived values (active mass, areal capacity, 1C current, pressures) are properties computed by
    cells.derived, never stored, so a corrected mass changes them everywhere at once.
    """

    PROJECT_PATH = "project"  # for RestrictedQuerySet.restrict()
    class VoltageReference(models.TextChoices):
        LI = "Li+/Li", "vs Li+/Li"
        IN_LI = "In-Li", "vs In-Li (cell voltage)"

    class TestElectrode(models.TextChoices):
        CATHODE = "cathode", "Cathode (half cell)"
        ANODE = "anode", "Anode (half cell)"
        FULL = "full", "Full cell"

    class CellType(models.TextChoices):
        FULL = "full", "Full cell"
        SYMMETRIC = "symmetric", "Symmetric cell (Li | SE | Li)"
        PELLET = "pellet", "Blocking-electrode pellet (SS | SE | SS)"

    class FirstHalf(models.TextChoices):
        CHARGE = "charge", "Charge first"
        DISCHARGE = "discharge", "Discharge first"
        AUTO = "auto", "Detect from the data"

    # Identity
    name = models.CharField(max_length=80, unique=True)
    cell_type = models.CharField(
        max_length=12, choices=CellType.choices, default=CellType.FULL,
        help_text="A full cell, a symmetric Li | SE | Li cell (CCD) or an electrolyte pellet between ion-blocking "
                  "electrodes (conductivity).",
    )
    electrolyte_batch = models.ForeignKey(
        ElectrolyteBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="cells",
        help_text="The separator's electrolyte batch (for a pellet or symmetric cell: the one measured).",
    )
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="cells")
    group = models.ForeignKey(CellGroup, on_delete=models.PROTECT, related_name="cells")
    replicate_number = models.PositiveSmallIntegerField(default=1)
    builder = models.CharField(max_length=80, blank=True)
    build_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    # Cathode composite
    cathode_material = models.ForeignKey(
        Material, on_delete=models.PROTECT, related_name="+", limit_choices_to={"kind": Material.Kind.CATHODE_ACTIVE},
        null=True, blank=True, help_text="Required for a full cell; empty for a pellet or a symmetric cell.",
    )
    coating = models.ForeignKey(Coating, on_delete=models.PROTECT, null=True, blank=True, related_name="cells")
    catholyte = models.ForeignKey(
        Material, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        limit_choices_to={"kind": Material.Kind.SOLID_ELECTROLYTE}, help_text="Electrolyte in the composite.",
    )
    conductive_additive = models.ForeignKey(
        Material, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        limit_choices_to={"kind": Material.Kind.CONDUCTIVE_ADDITIVE},
    )
    cathode_active_fraction = models.FloatField("Cathode active fraction (0–1)", null=True, blank=True, help_text="Active wt fraction of the composite, e.g. 0.70 for 70:30.")
    composite_loading_mg_cm2 = models.FloatField("Composite loading (mg/cm²)", null=True, blank=True, help_text="Cathode composite per area.")
    # Separator, anode, geometry
    electrolyte = models.ForeignKey(
        Material, on_delete=models.PROTECT, related_name="+", limit_choices_to={"kind": Material.Kind.SOLID_ELECTROLYTE},
        help_text="Separator solid electrolyte.",
    )
    separator_mass_mg = models.FloatField("Separator mass (mg)", null=True, blank=True)
    anode = models.ForeignKey(
        Material, on_delete=models.PROTECT, related_name="+", limit_choices_to={"kind": Material.Kind.ANODE},
        null=True, blank=True, help_text="Required for a full cell.",
    )
    # Specimens (pellets, symmetric cells)
    electrode_metal = models.CharField(
        max_length=20, blank=True, help_text="Pellet: the blocking electrodes (SS, Au, C); symmetric cell: Li, In-Li.")
    pellet_thickness_mm = models.FloatField(
        "Pellet thickness (mm)", null=True, blank=True, help_text="Electrolyte layer thickness measured after pressing.")
    pressing_pressure_mpa = models.FloatField("Pressing pressure (MPa)", null=True, blank=True)
    pressing_time_s = models.FloatField("Pressing time (s)", null=True, blank=True)
    die_diameter_mm = models.FloatField("Die diameter (mm)", null=True, blank=True, help_text="Pellet diameter; gives the area if none is entered.")
    area_cm2 = models.FloatField("Electrode area (cm²)", null=True, blank=True, help_text="Electrode area; leave empty to use the die diameter.")
    # Cycling conditions
    stack_pressure_mpa = models.FloatField("Stack pressure (MPa)", null=True, blank=True)
    theoretical_capacity_mah_g = models.FloatField(
        "Theoretical capacity (mAh/g)",
        null=True, blank=True, help_text="Defines C-rates; empty = the active material's value."
    )
    voltage_min_v = models.FloatField("Voltage window, lower limit (V)", null=True, blank=True)
    voltage_max_v = models.FloatField("Voltage window, upper limit (V)", null=True, blank=True)
    voltage_reference = models.CharField(max_length=8, choices=VoltageReference.choices, default=VoltageReference.LI)
    temperature_c = models.FloatField("Temperature (°C)", null=True, blank=True, help_text="Empty = room temperature.")
    rest_before_test_h = models.FloatField("Rest before test (h)", null=True, blank=True)
    test_electrode = models.CharField(max_length=12, choices=TestElectrode.choices, default=TestElectrode.CATHODE)
    first_half = models.CharField(
        "First half-cycle", max_length=12, choices=FirstHalf.choices, default=FirstHalf.AUTO,
        help_text="Which half-cycle comes first; CE = second half / first half.",
    )
    cycler_channel = models.CharField(
        max_length=40, blank=True,
        help_text="The cycler channel it runs on, as the cycler names it (e.g. 1-053: Arbin unit 1, channel 53). "
                  "A file of several channels uploaded for a cell of this project gives this cell that channel's "
                  "data.",
    )
    is_demo = models.BooleanField(
        "Demo cell", default=False, editable=False,
        help_text="Created by the demo loader (setup_demo / quick start): the only cells it may add data to.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped (one UPDATE, in the writer's transaction) whenever what the dashboards show of the cell's data
    # changes: a swap-in, delete or timeline mark of a file, an EIS fit. With updated_at (the build sheet) it
    # keys the dashboard API's cache (cycling/cache.py), so a new import is never answered from a stale entry.
    data_version = models.PositiveBigIntegerField(default=0, editable=False)
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["project", "group"])]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("cell-page", args=[self.pk])

    # --- validation -----------------------------------------------------------------------
    def clean(self):
        errors = {}
        if self.cell_type == self.CellType.FULL or self.cathode_active_fraction is not None:
            if not (0 < (self.cathode_active_fraction or 0) <= 1):
                errors["cathode_active_fraction"] = "The active fraction must be in (0, 1], e.g. 0.70 for 70:30."
        if self.cell_type == self.CellType.FULL:
            for field in ("cathode_material", "anode"):
                if getattr(self, f"{field}_id") is None:
                    errors[field] = "A full cell needs it."
        if self.cell_type == self.CellType.PELLET and self.pellet_thickness_mm is None:
            errors["pellet_thickness_mm"] = "A pellet's conductivity needs its thickness."
        if self.electrolyte_batch_id and self.electrolyte_id and self.electrolyte_batch.material_id != self.electrolyte_id:
            errors["electrolyte_batch"] = "The batch is of another electrolyte than the separator's."
        for field in (
            "composite_loading_mg_cm2", "separator_mass_mg", "die_diameter_mm", "area_cm2",
            "stack_pressure_mpa", "theoretical_capacity_mah_g", "pellet_thickness_mm", "pressing_pressure_mpa",
        ):
            errors.update(_positive_or_none(getattr(self, field), field))
        if self.area_cm2 is None and self.die_diameter_mm is None:
            errors.setdefault("area_cm2", "Enter the electrode area or the die diameter.")
        if self.voltage_min_v is not None and self.voltage_max_v is not None and self.voltage_min_v >= self.voltage_max_v:
            errors["voltage_max_v"] = "The upper voltage limit must be above the lower one."
        if self.group_id and self.project_id and self.group.project_id != self.project_id:
            errors["group"] = "The group belongs to another project."
        if errors:
            raise ValidationError(errors)

    # --- derived values (one place: cells.derived) ---------------------------------------
    @property
    def is_coated(self) -> bool:
        return self.coating_id is not None

    @property
    def electrode_area_cm2(self) -> float | None:
        if self.area_cm2:
            return self.area_cm2
        if self.die_diameter_mm:
            return derived.disc_area_cm2(self.die_diameter_mm)
        return None

    @property
    def effective_theoretical_mah_g(self) -> float | None:
        if self.theoretical_capacity_mah_g:
            return self.theoretical_capacity_mah_g
        return self.cathode_material.theoretical_capacity_mah_g if self.cathode_material_id else None

    @property
    def active_loading_mg_cm2(self) -> float | None:
        if self.composite_loading_mg_cm2 is None or not self.cathode_active_fraction:
            return None
        return derived.active_loading_mg_cm2(self.composite_loading_mg_cm2, self.cathode_active_fraction)

    @property
    def active_mass_mg(self) -> float | None:
        loading, area = self.active_loading_mg_cm2, self.electrode_area_cm2
        return None if loading is None or area is None else derived.active_mass_mg(loading, area)

    @property
    def areal_capacity_mah_cm2(self) -> float | None:
        loading, cap = self.active_loading_mg_cm2, self.effective_theoretical_mah_g
        return None if loading is None or cap is None else derived.areal_capacity_mah_cm2(loading, cap)

    @property
    def one_c_current_ma(self) -> float | None:
        areal, area = self.areal_capacity_mah_cm2, self.electrode_area_cm2
        return None if areal is None or area is None else derived.one_c_current_ma(areal, area)

    @property
    def one_c_current_density_ma_cm2(self) -> float | None:
        return self.areal_capacity_mah_cm2

    @property
    def cell_voltage_window_v(self) -> tuple[float, float] | None:
        """The window in the cycler's frame (cell voltage): a window vs Li+/Li is shifted by the anode's potential."""
        if self.voltage_min_v is None or self.voltage_max_v is None:
            return None
        shift = 0.0
        if self.voltage_reference == self.VoltageReference.LI and self.anode_id:
            shift = self.anode.potential_vs_li_v or 0.0
        return (self.voltage_min_v - shift, self.voltage_max_v - shift)


class PressingStep(models.Model):
    """One uniaxial pressing of a layer while the cell is assembled (force, die, hold time)."""

    class Layer(models.TextChoices):
        SEPARATOR = "separator", "Separator (electrolyte)"
        CATHODE = "cathode", "Cathode composite"
        ANODE = "anode", "Anode"
        STACK = "stack", "Whole stack"

    cell = models.ForeignKey(Cell, on_delete=models.CASCADE, related_name="pressing_steps")
    order = models.PositiveSmallIntegerField(default=1)
    layer = models.CharField(max_length=12, choices=Layer.choices)
    force_t = models.FloatField("Force (t)", help_text="Press force in tonnes.")
    die_diameter_mm = models.FloatField("Die diameter (mm)", )
    hold_time_s = models.FloatField("Hold time (s)", null=True, blank=True)

    class Meta:
        ordering = ["cell", "order"]

    def __str__(self):
        return f"{self.get_layer_display()}: {self.force_t:g} t on {self.die_diameter_mm:g} mm"

    def clean(self):
        errors = {}
        errors.update(_positive_or_none(self.force_t, "force_t"))
        errors.update(_positive_or_none(self.die_diameter_mm, "die_diameter_mm"))
        if self.hold_time_s is not None and self.hold_time_s < 0:
            errors["hold_time_s"] = "The hold time cannot be negative."
        if errors:
            raise ValidationError(errors)

    @property
    def pressure_mpa(self) -> float | None:
        if not self.force_t or not self.die_diameter_mm:
            return None
        return derived.pressure_mpa(self.force_t, self.die_diameter_mm)


def _new_device_key() -> str:
    return secrets.token_hex(20)


class CyclerDevice(models.Model):
    """A cycler PC that uploads exports with its own API token; it may only upload and read upload status."""

    name = models.CharField(max_length=80, unique=True)
    key = models.CharField(max_length=40, unique=True, default=_new_device_key, editable=False)
    projects = models.ManyToManyField(Project, blank=True, related_name="devices",
                                      help_text="Projects whose cells this PC may upload to.")
    timezone = models.CharField(max_length=64, default="Europe/Berlin",
                                help_text="Zone of the PC's clock: LAND's naive SysTime is read in it.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError({"timezone": f"Unknown time zone {self.timezone!r}."}) from None


class AuditEvent(models.Model):
    """Who did what to which record, and when: uploads, reprocessing, edits, deletions."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    device = models.ForeignKey(CyclerDevice, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=32)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        who = self.user or self.device or "system"
        return f"{self.at:%Y-%m-%d %H:%M} {who} {self.action} {self.object_type} {self.object_id}"
