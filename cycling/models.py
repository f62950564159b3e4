"""Uploaded data files (the original bytes, their state machine) and the per-cycle results derived from them."""
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from cells.querysets import RestrictedQuerySet

from .analysis.columns import MODEL, names_for


def datafile_upload_to(instance, filename):
    # Never derived from the user's file name: a generated name under a dated folder.
    return f"datafiles/{timezone.now():%Y/%m}/{instance.uid}.bin"


class DataFile(models.Model):
    """One uploaded export (a cycler's or EIS), kept byte for byte, and the state of its ingest.

    PENDING -> PARSING -> IMPORTED, or FAILED with a plain reason (traceback kept for staff).
    Identical bytes for the same cell are stored once (SHA-256).
    """

    PROJECT_PATH = "cell__project"  # for RestrictedQuerySet.restrict()
    class Kind(models.TextChoices):
        CYCLING = "cycling", "Cycling"
        EIS = "eis", "Impedance (EIS)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PARSING = "parsing", "Parsing"
        IMPORTED = "imported", "Imported"
        FAILED = "failed", "Failed"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cell = models.ForeignKey("cells.Cell", on_delete=models.CASCADE, related_name="datafiles")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CYCLING)
    file = models.FileField(upload_to=datafile_upload_to, max_length=255)
    original_name = models.CharField(max_length=255, help_text="The uploader's file name, for display only.")
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    notes = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    device = models.ForeignKey("cells.CyclerDevice", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    # ingest state
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress_percent = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the ingest failed, in plain words.")
    traceback = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # results
    records_file = models.CharField(max_length=255, blank=True, help_text="Storage name of the Parquet records.")
    n_records = models.PositiveIntegerField(null=True, blank=True)
    n_cycles = models.PositiveIntegerField(null=True, blank=True)
    channel_key = models.CharField(max_length=200, blank=True,
                                   help_text="Start time + channel/barcode: identifies a growing export.")
    metadata = models.JSONField(default=dict, blank=True)
    provenance = models.JSONField(default=dict, blank=True,
                                  help_text="Parser/analysis versions and the build values used.")
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                      help_text="A later export of the same run that replaced this one's cycles.")

    # the cell's timeline (cycling.analysis.timeline; recomputed by the services after every change)
    class TimelineMark(models.TextChoices):
        AUTO = "", "Decided from the cycler's clock"
        CONTINUES = "continues", "Continues the previous file"
        NEW_RUN = "new_run", "A new run (deliberate restart)"

    timeline_mark = models.CharField(max_length=12, choices=TimelineMark.choices, default="", blank=True,
                                     help_text="A researcher's decision on how this file follows the one before it.")
    timeline_relation = models.CharField(max_length=12, blank=True, editable=False,
                                         help_text="first, continues, overlaps or new_run (computed).")
    timeline_position = models.PositiveIntegerField(null=True, blank=True, editable=False)
    cycle_offset = models.PositiveIntegerField(default=0, editable=False,
                                               help_text="Added to the file's own cycle numbers to give the cell's.")
    timeline_warnings = models.JSONField(default=list, blank=True, editable=False)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["cell", "sha256"], name="unique_bytes_per_cell")]
        indexes = [models.Index(fields=["status", "queued_at"]), models.Index(fields=["cell", "kind", "status"])]

    def __str__(self):
        return f"{self.original_name} ({self.cell})"

    def get_absolute_url(self):
        return reverse("datafile-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        """Its results are the ones shown (see `shown_results`)."""
        shown = self.status == self.Status.IMPORTED or (self.status in SHOWN_STATUSES and self.finished_at is not None)
        return shown and self.superseded_by_id is None


class CycleSummary(models.Model):
    """One cycle of one data file: capacities, efficiency, energy, voltages, C-rate, dQ/dV peaks."""

    PROJECT_PATH = "cell__project"  # for RestrictedQuerySet.restrict()
    datafile = models.ForeignKey(DataFile, on_delete=models.CASCADE, related_name="cycles")
    cell = models.ForeignKey("cells.Cell", on_delete=models.CASCADE, related_name="cycles")
    cycle = models.PositiveIntegerField(help_text="The cell's cycle number on its timeline across files.")
    file_cycle = models.PositiveIntegerField(null=True, help_text="The cycle number in the file itself.")
    first_record = models.BigIntegerField(null=True)
    last_record = models.BigIntegerField(null=True)
    start_time_s = models.FloatField(null=True)
    end_time_s = models.FloatField(null=True)
    duration_s = models.FloatField(null=True)
    charge_mah = models.FloatField(null=True)
    discharge_mah = models.FloatField(null=True)
    charge_mah_g = models.FloatField(null=True)
    discharge_mah_g = models.FloatField(null=True)
    charge_mah_cm2 = models.FloatField(null=True)
    discharge_mah_cm2 = models.FloatField(null=True)
    ce_percent = models.FloatField(null=True)
    ce_convention = models.CharField(max_length=20, blank=True,
                                     help_text="discharge/charge (charge-first cells) or charge/discharge.")
    charge_energy_mwh = models.FloatField(null=True)
    discharge_energy_mwh = models.FloatField(null=True)
    charge_wh_kg = models.FloatField(null=True)
    discharge_wh_kg = models.FloatField(null=True)
    mean_charge_v = models.FloatField(null=True)
    mean_discharge_v = models.FloatField(null=True)
    median_charge_v = models.FloatField(null=True)
    median_discharge_v = models.FloatField(null=True)
    hysteresis_v = models.FloatField(null=True)
    cc_charge_fraction = models.FloatField(null=True)
    c_rate = models.FloatField(null=True)
    c_rate_label = models.CharField(max_length=12, blank=True)
    segment = models.CharField(max_length=16, blank=True)
    is_partial = models.BooleanField(default=False)
    dqdv_peak_charge_v = models.FloatField(null=True)
    dqdv_peak_discharge_v = models.FloatField(null=True)
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["cell", "datafile", "cycle"]
        constraints = [models.UniqueConstraint(fields=["datafile", "file_cycle"], name="one_row_per_file_cycle")]
        # (datafile, cycle): one cycle of many cells (the effects' outcome at cycle N) is read file by file,
        # the way SQLite and PostgreSQL plan it, without scanning each file's rows.
        indexes = [models.Index(fields=["cell", "cycle"]), models.Index(fields=["datafile", "cycle"])]

    def __str__(self):
        return f"{self.cell} cycle {self.cycle}"


# The per-cycle columns CycleSummary stores and the cycles API serves: the column contract's MODEL face
# (tests/cycling/test_column_contract.py holds the fields above to it).
CYCLE_FIELDS = names_for(MODEL)


# A file's results stay shown while they are being recomputed (a reprocess after a mass correction puts the
# file back to pending/parsing): the old rows remain until the ingest swaps the new ones in, in one
# transaction. `finished_at` is set only when an ingest ended, so a first import still running shows nothing.
SHOWN_STATUSES = (DataFile.Status.IMPORTED, DataFile.Status.PENDING, DataFile.Status.PARSING)


def shown_results(prefix: str = "") -> models.Q:
    """Filter of the data files whose results are shown (prefix e.g. 'datafile__' from CycleSummary)."""
    recomputing = models.Q(**{f"{prefix}status__in": SHOWN_STATUSES, f"{prefix}finished_at__isnull": False})
    return (models.Q(**{f"{prefix}status": DataFile.Status.IMPORTED}) | recomputing) & models.Q(
        **{f"{prefix}superseded_by__isnull": True})



class CellFigures(models.Model):
    """The headline figures of one cell (latest cycle, first discharge, retention and decay with their reference
    cycles), computed by cycling.analysis.cell_metrics, the one definition every face uses, and stored so the
    cell list can filter, sort and page them in SQL. Recomputed when the cell's data_version moves past the one
    they were computed from (cycling.services.cell_figures_refresh)."""

    PROJECT_PATH = "cell__project"  # for RestrictedQuerySet.restrict()
    cell = models.OneToOneField("cells.Cell", on_delete=models.CASCADE, primary_key=True, related_name="figures")
    data_version = models.PositiveBigIntegerField(help_text="The Cell.data_version these figures were computed from.")
    capacity_unit = models.CharField(max_length=8, blank=True)
    latest_cycle = models.PositiveIntegerField(null=True)
    first_discharge_mah_g = models.FloatField(null=True)
    last_capacity = models.FloatField(null=True, help_text="Delivered capacity of the latest cycle (capacity_unit).")
    retention_reference_cycle = models.PositiveIntegerField(null=True)
    retention_percent = models.FloatField(null=True)
    decay_reference_cycle = models.PositiveIntegerField(null=True)
    decay_percent_per_cycle = models.FloatField(null=True)
    initial_ce_percent = models.FloatField(null=True)
    first_charge_mah_g = models.FloatField(null=True)
    capacity_half = models.CharField(max_length=12, blank=True,
                                     help_text="The delivered half-cycle the capacities are of (charge or discharge).")
    reference_capacity = models.FloatField(null=True, help_text="Capacity of the retention reference cycle.")
    cycles_to_80_percent = models.PositiveIntegerField(null=True)
    long_term_c_rate_label = models.CharField(
        max_length=12, blank=True, help_text="The C-rate most long-term cycles ran at ('' when unknown).")
    computed_at = models.DateTimeField(auto_now=True)
    objects = RestrictedQuerySet.as_manager()

    def __str__(self):
        return f"figures of {self.cell_id} (data version {self.data_version})"


# CellFigures' metric columns, named as cell_metrics names them.
CELL_FIGURE_KEYS = ("capacity_unit", "first_discharge_mah_g", "last_capacity", "retention_reference_cycle",
                    "retention_percent", "decay_reference_cycle", "decay_percent_per_cycle", "initial_ce_percent",
                    "first_charge_mah_g", "capacity_half", "reference_capacity", "cycles_to_80_percent")


class FormatProfile(models.Model):
    """A lab's own mapping of a text layout no reader knows (columns, units, separators, header line, encoding),
    made once in the browser by a lab admin and applied to later files of that layout: those a cycler PC
    (``device``) uploads, and those whose upload names the profile. ``version`` counts its edits; a file's
    provenance names the profile and the version that read it."""

    name = models.CharField(max_length=80, unique=True,
                            help_text="The instrument or export it maps, e.g. 'XT-8 tester (German export)'.")
    device = models.ForeignKey("cells.CyclerDevice", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="format_profiles",
                               help_text="Its files are read with this profile when their header matches.")
    mapping = models.JSONField(help_text="cycling.parsers.profile mapping: columns, units, delimiter, decimal, "
                                         "header_row, encoding.")
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} (v{self.version})"
