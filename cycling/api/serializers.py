"""REST representations of data files and per-cycle results."""
from django.urls import reverse
from rest_framework import serializers

from readers import UNKNOWN_LAYOUT_HINT

from ..analysis.columns import MODEL, columns_for
from ..models import CYCLE_FIELDS, CycleSummary, DataFile
from ..selectors import format_profile_of, format_profile_provenance


class DataFileSerializer(serializers.ModelSerializer):
    cell_name = serializers.CharField(source="cell.name", read_only=True)
    status_url = serializers.SerializerMethodField()
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True, default=None)
    device = serializers.CharField(source="device.name", read_only=True, default=None)
    traceback = serializers.SerializerMethodField()
    # Which cycler wrote the file and which reader (and version) read it; null until a cycling file is read.
    instrument = serializers.SerializerMethodField()
    reader = serializers.SerializerMethodField()
    reader_version = serializers.SerializerMethodField()
    # A file refused because no reader recognises its layout: the page where a lab admin maps it once.
    format_profile_url = serializers.SerializerMethodField()
    # The format profile that read it (id, name as it is now, version applied, current version), else null.
    format_profile = serializers.SerializerMethodField()

    class Meta:
        model = DataFile
        fields = [
            "id", "cell", "cell_name", "kind", "original_name", "size_bytes", "sha256", "notes", "status",
            "progress_percent", "error", "warnings", "n_records", "n_cycles", "attempts", "superseded_by",
            "timeline_position", "timeline_relation", "timeline_mark", "cycle_offset", "timeline_warnings",
            "instrument", "reader", "reader_version", "metadata", "provenance", "uploaded_by", "device", "created_at", "started_at", "finished_at",
            "status_url", "traceback", "format_profile_url", "format_profile",
        ]
        read_only_fields = fields

    def get_status_url(self, obj) -> str:
        return self.context["request"].build_absolute_uri(reverse("datafile-detail", args=[obj.pk]))

    def get_format_profile_url(self, obj) -> str | None:
        if obj.status != DataFile.Status.FAILED or UNKNOWN_LAYOUT_HINT not in (obj.error or ""):
            return None
        return self.context["request"].build_absolute_uri(f"{reverse('format-profile-new')}?datafile={obj.pk}")

    def get_format_profile(self, obj) -> dict | None:
        provenance = obj.provenance or {}
        if not provenance.get("profile"):
            return None
        # A list asks once for the profiles of the whole page, not once per file (the context is the page's).
        profiles = self.context.setdefault("format_profiles", {})
        if provenance.get("profile_id") not in profiles:
            page = getattr(self.parent, "instance", None) if self.parent is not None else None
            rows = [getattr(f, "provenance", None) or {} for f in page] if page is not None else [provenance]
            asked = {p.get("profile_id") for p in rows if p.get("profile")}
            profiles.update(dict.fromkeys(asked, {}) | format_profile_provenance(rows))
        return format_profile_of(provenance, profiles)

    def get_traceback(self, obj) -> str | None:
        user = self.context["request"].user
        return obj.traceback if getattr(user, "is_staff", False) and obj.traceback else None

    def get_instrument(self, obj) -> str | None:
        return (obj.provenance or {}).get("instrument")

    def get_reader(self, obj) -> str | None:
        return (obj.provenance or {}).get("reader")

    def get_reader_version(self, obj) -> str | None:
        return (obj.provenance or {}).get("reader_version")

    def to_representation(self, obj):
        data = super().to_representation(obj)
        data["provenance"] = {k: v for k, v in (obj.provenance or {}).items() if k != "land_cycle_table"}
        return data


class DataFileUploadSerializer(serializers.Serializer):
    """Multipart upload: the file, the cell (id or name), the kind and free notes."""

    file = serializers.FileField()
    cell = serializers.CharField(help_text="Cell id or unique name.")
    kind = serializers.ChoiceField(choices=DataFile.Kind.choices, default=DataFile.Kind.CYCLING)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    channel = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=100,
        help_text="For a file of several channels (an Arbin workbook with one sheet per channel): the channel "
                  "whose data is this cell's, e.g. '1-053'. Without it, the cell's registered cycler channel is "
                  "read and each other channel goes to the cell of the project registered on it.")
    profile = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=80,
        help_text="The name of a format profile to read the file with (a text layout no reader knows, mapped "
                  "once by a lab admin). Files from a cycler PC with a profile need not name it.")


class CycleSummarySerializer(serializers.ModelSerializer):
    """One cycle of a cell: the column contract's MODEL columns (cycling.analysis.columns), then its data file."""

    class Meta:
        model = CycleSummary
        fields = [*CYCLE_FIELDS, "datafile"]
        extra_kwargs = {c.name: {"help_text": f"{c.description} Unit: {c.unit}." if c.unit else c.description}
                        for c in columns_for(MODEL)}


class CurveTraceSerializer(serializers.Serializer):
    cycle = serializers.IntegerField()
    half = serializers.ChoiceField(choices=["charge", "discharge"])
    capacity = serializers.ListField(child=serializers.FloatField())
    voltage_v = serializers.ListField(child=serializers.FloatField())
    datafile = serializers.IntegerField(help_text="The data file the cycle comes from.")
    file_cycle = serializers.IntegerField(help_text="The cycle's number in that file (cycle is the cell's).")


class CurvesSerializer(serializers.Serializer):
    cell = serializers.IntegerField()
    capacity_unit = serializers.CharField()
    traces = CurveTraceSerializer(many=True)


class GroupSeriesSerializer(serializers.Serializer):
    """A cell group's series against cycle; subclasses add the statistics they plot."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()
    cells = serializers.ListField(child=serializers.IntegerField())
    n_cells = serializers.IntegerField()
    cycle = serializers.ListField(child=serializers.IntegerField())
