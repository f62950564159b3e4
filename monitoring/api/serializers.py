"""REST representations of the board, alerts, rules, subscriptions and webhooks."""
import zoneinfo

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from cells.models import CellGroup
from cells.selectors import cells_visible_to, groups_visible_to, projects_visible_to

from .. import rules
from ..models import KIND_CHOICES, Alert, AlertRule, RunState, Subscription, Webhook, mask_secret
from ..webhook_safety import UnsafeWebhookUrl, check_webhook_url


def _lab_time(value):
    if value is None:
        return None
    return value.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).strftime("%Y-%m-%d %H:%M")


class AlertSerializer(serializers.ModelSerializer):
    """An alert with the cell it is about, the cycle where it began and a link to the cell page there."""

    cell_name = serializers.CharField(source="cell.name", read_only=True)
    rule_label = serializers.CharField(source="title", read_only=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    muted = serializers.SerializerMethodField()
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", read_only=True, default=None)

    class Meta:
        model = Alert
        fields = ["id", "cell", "cell_name", "kind", "rule_label", "cycle", "message", "values", "status",
                  "opened_at", "last_seen_at", "closed_at", "acknowledged_at", "acknowledged_by", "muted_until",
                  "muted", "url"]
        read_only_fields = fields

    def get_muted(self, alert) -> bool:
        return alert.is_muted()


class BoardAlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    rule_label = serializers.CharField(source="title")
    cycle = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()
    status = serializers.CharField()
    muted = serializers.SerializerMethodField()
    url = serializers.CharField(source="get_absolute_url")

    def get_muted(self, alert) -> bool:
        return alert.is_muted()


class BoardIncidentSerializer(serializers.Serializer):
    headline = serializers.IntegerField(help_text="The cell's most severe live alert.")
    folded = serializers.ListField(child=serializers.IntegerField(), help_text="Its other live alerts, folded under it.")


class BoardRowSerializer(serializers.ModelSerializer):
    """One running (or recently finished) test: where it runs, how fresh its data is, how the cell is doing.

    Documents the shape; the rows themselves are built by monitoring.selectors.board_payload (fast path).
    """

    cell = serializers.IntegerField(source="cell_id")
    cell_name = serializers.CharField(source="cell.name")
    cell_url = serializers.CharField(source="cell.get_absolute_url")
    project = serializers.CharField(source="cell.project.name")
    group = serializers.CharField(source="cell.group.name")
    group_color = serializers.CharField(source="cell.group.color")
    device = serializers.CharField(source="device.name", default=None)
    state = serializers.CharField(source="state_now")
    state_label = serializers.SerializerMethodField()
    hours_since_last_record = serializers.SerializerMethodField()
    last_record_lab_time = serializers.SerializerMethodField()
    run_started_lab_time = serializers.SerializerMethodField()
    open_alerts = serializers.IntegerField()
    alerts = BoardAlertSerializer(many=True, help_text="Live alerts, most severe first.")
    incident = BoardIncidentSerializer(allow_null=True, read_only=True,
                                       help_text="One incident per cell: its headline alert and the folded ones.")

    class Meta:
        model = RunState
        fields = ["cell", "cell_name", "cell_url", "project", "group", "group_color", "device", "channel",
                  "run_started_at", "run_started_lab_time", "last_record_at", "last_record_lab_time",
                  "hours_since_last_record", "latest_cycle", "latest_capacity", "capacity_unit", "reference_cycle",
                  "retention_percent", "latest_ce_percent", "sparkline", "state", "state_label", "open_alerts",
                  "alerts", "incident", "finished_at", "evaluated_at"]

    def get_state_label(self, row) -> str:
        return RunState.State(row.state_now).label

    def get_hours_since_last_record(self, row) -> float | None:
        if row.last_record_at is None:
            return None
        return round((timezone.now() - row.last_record_at).total_seconds() / 3600.0, 2)

    def get_last_record_lab_time(self, row) -> str | None:
        return _lab_time(row.last_record_at)

    def get_run_started_lab_time(self, row) -> str | None:
        return _lab_time(row.run_started_at)


class MuteSerializer(serializers.Serializer):
    hours = serializers.FloatField(min_value=0.01, max_value=24 * 90, help_text="How long to mute, in hours.")


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class AlertRuleSerializer(serializers.ModelSerializer):
    unit = serializers.CharField(read_only=True)
    scope = serializers.CharField(source="scope_label", read_only=True)
    label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = AlertRule
        fields = ["id", "kind", "label", "threshold", "unit", "enabled", "project", "group", "cell", "scope",
                  "notes", "updated_at"]

    def validate(self, attrs):
        user = self.context["request"].user
        merged = {f: attrs.get(f, getattr(self.instance, f, None)) for f in ("kind", "threshold", "project", "group",
                                                                             "cell")}
        if sum(merged[f] is not None for f in ("project", "group", "cell")) > 1:
            raise serializers.ValidationError("Choose one scope: a project, a group or a cell (or none for the lab).")
        for field, visible in (("project", projects_visible_to), ("group", groups_visible_to),
                               ("cell", cells_visible_to)):
            obj = merged[field]
            if obj is not None and not visible(user).filter(pk=obj.pk).exists():
                raise serializers.ValidationError({field: "Not one you may see."})
        default = rules.RULE_KINDS[merged["kind"]][2]
        if merged["threshold"] is None and default is not None:
            raise serializers.ValidationError({"threshold": f"This rule needs a limit in {rules.RULE_KINDS[merged['kind']][1]}."})
        return attrs


class SubscriptionSerializer(serializers.ModelSerializer):
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=KIND_CHOICES), required=False,
                                  help_text="Rule kinds to receive; empty = all.")
    groups = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=CellGroup.objects.all(),
        help_text="Ids of the project's cell groups whose alerts to receive; empty = all groups.")

    class Meta:
        model = Subscription
        fields = ["id", "project", "groups", "kinds", "in_app", "email"]

    def validate(self, attrs):
        project = attrs.get("project", getattr(self.instance, "project", None))
        groups = attrs.get("groups", list(self.instance.groups.all()) if self.instance is not None else [])
        visible = set(groups_visible_to(self.context["request"].user).values_list("pk", flat=True))
        foreign = sorted(str(g.pk) for g in groups if g.pk not in visible or g.project_id != project.pk)
        if foreign:
            raise serializers.ValidationError(
                {"groups": f"Not groups of project {project} that you may see: {', '.join(foreign)}."})
        return attrs

    def validate_email(self, email):
        if email and not self.context["request"].user.email:
            raise serializers.ValidationError("E-mails need your e-mail address: set it first (settings page).")
        return email

    def validate_project(self, project):
        if not projects_visible_to(self.context["request"].user).filter(pk=project.pk).exists():
            raise serializers.ValidationError("You are not a member of this project.")
        return project


class WebhookSerializer(serializers.ModelSerializer):
    """A webhook; its signing secret is shown in full once, in the answer to the POST that created it, and
    masked (the last four characters) in every later read."""

    kinds = serializers.ListField(child=serializers.ChoiceField(choices=KIND_CHOICES), required=False)

    class Meta:
        model = Webhook
        fields = ["id", "project", "name", "url", "secret", "kinds", "is_active"]
        extra_kwargs = {"secret": {"required": False}}

    def validate_url(self, url):
        try:
            check_webhook_url(url)
        except UnsafeWebhookUrl as exc:
            raise serializers.ValidationError(str(exc)) from None
        return url

    def validate_secret(self, secret):
        if secret.startswith("••••"):
            raise serializers.ValidationError(
                "That is the masked secret a read shows; leave `secret` out to keep the current one.")
        return secret

    def to_internal_value(self, data):
        # A client that sends back what it read (the masked secret) keeps the stored one.
        if self.instance is not None and hasattr(data, "get") and data.get("secret") == mask_secret(self.instance.secret):
            data = {k: v for k, v in data.items() if k != "secret"}
        return super().to_internal_value(data)

    def create(self, validated_data):
        hook = super().create(validated_data)
        hook.show_secret_once = True
        return hook

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not getattr(instance, "show_secret_once", False):
            data["secret"] = mask_secret(instance.secret)
        return data

    def validate_project(self, project):
        if not projects_visible_to(self.context["request"].user).filter(pk=project.pk).exists():
            raise serializers.ValidationError("You are not a member of this project.")
        return project
