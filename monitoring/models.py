"""Monitoring records: alert rules, the board's row per running cell, alerts, subscriptions and deliveries."""
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cells.querysets import RestrictedQuerySet

from . import rules
from .webhook_safety import UnsafeWebhookUrl, check_webhook_url

KIND_CHOICES = [(kind, label) for kind, (label, _unit, _default) in rules.RULE_KINDS.items()]


class AlertRule(models.Model):
    """A limit of one rule kind for the whole lab, a project, a group or one cell; the most specific one wins.

    The lab-wide rows are created with sensible defaults on migrate; a lab admin edits them or adds
    narrower ones (e.g. a lower retention limit for one group) in the admin or the API.
    """

    kind = models.CharField(max_length=24, choices=KIND_CHOICES)
    threshold = models.FloatField(null=True, blank=True,
                                  help_text="The limit, in the rule's unit (%, mAh/g, V, h, ohm, % per 100 cycles).")
    enabled = models.BooleanField(default=True, help_text="Off: the rule raises no alert in this scope.")
    project = models.ForeignKey("cells.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey("cells.CellGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    cell = models.ForeignKey("cells.Cell", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "cell", "group", "project"]
        constraints = [
            models.UniqueConstraint(fields=["kind"], condition=Q(project=None, group=None, cell=None),
                                    name="one_lab_rule_per_kind"),
            models.UniqueConstraint(fields=["kind", "project"], condition=Q(project__isnull=False),
                                    name="one_project_rule_per_kind"),
            models.UniqueConstraint(fields=["kind", "group"], condition=Q(group__isnull=False),
                                    name="one_group_rule_per_kind"),
            models.UniqueConstraint(fields=["kind", "cell"], condition=Q(cell__isnull=False),
                                    name="one_cell_rule_per_kind"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} [{self.scope_label}]"

    @property
    def unit(self) -> str:
        return rules.RULE_KINDS[self.kind][1]

    @property
    def scope_label(self) -> str:
        if self.cell_id:
            return f"cell {self.cell}"
        if self.group_id:
            return f"group {self.group}"
        if self.project_id:
            return f"project {self.project}"
        return "whole lab"

    def clean(self):
        if sum(x is not None for x in (self.project_id, self.group_id, self.cell_id)) > 1:
            raise ValidationError("Choose one scope: a project, a group or a cell (or none for the whole lab).")
        if self.threshold is None and rules.RULE_KINDS.get(self.kind, ("", "", None))[2] is not None:
            raise ValidationError({"threshold": f"This rule needs a limit in {rules.RULE_KINDS[self.kind][1]}."})


class RunState(models.Model):
    """The board's row of one cell: its current run as of the last evaluation (after an ingest or by beat)."""

    PROJECT_PATH = "cell__project"  # for RestrictedQuerySet.restrict()

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        STALE = "stale", "Stale"
        FINISHED = "finished", "Finished"
        DIED = "died", "Died"
        FAILED = "failed", "Failed import"

    cell = models.OneToOneField("cells.Cell", primary_key=True, on_delete=models.CASCADE, related_name="run_state")
    datafile = models.ForeignKey("cycling.DataFile", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", help_text="The newest cycling file of the run.")
    device = models.ForeignKey("cells.CyclerDevice", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    channel = models.CharField(max_length=80, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)
    last_record_at = models.DateTimeField(null=True, blank=True, db_index=True)
    stale_at = models.DateTimeField(null=True, blank=True,
                                    help_text="When the run counts as stale if no newer record arrives.")
    latest_cycle = models.PositiveIntegerField(null=True, blank=True)
    latest_capacity = models.FloatField(null=True, blank=True)
    capacity_unit = models.CharField(max_length=8, blank=True)
    reference_cycle = models.PositiveIntegerField(null=True, blank=True)
    retention_percent = models.FloatField(null=True, blank=True)
    latest_ce_percent = models.FloatField(null=True, blank=True)
    sparkline = models.JSONField(default=list, blank=True, help_text="[[cycle, capacity], ...], at most 40 points.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.RUNNING, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True,
                                       help_text="Set by a researcher when the test ended; newer data reopens it.")
    import_error = models.TextField(blank=True)
    evaluated_at = models.DateTimeField(default=timezone.now)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["cell__name"]

    def __str__(self):
        return f"{self.cell}: {self.get_state_display()}"


class Alert(models.Model):
    """One broken rule of one cell, from the cycle where it began until it clears or a researcher resolves it.

    At most one alert per (cell, rule kind) is open at a time, so a re-export does not repeat it.
    """

    PROJECT_PATH = "cell__project"  # for RestrictedQuerySet.restrict()

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CLEARED = "cleared", "Cleared (condition gone)"
        RESOLVED = "resolved", "Resolved"

    cell = models.ForeignKey("cells.Cell", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=24, choices=KIND_CHOICES)
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    cycle = models.PositiveIntegerField(null=True, blank=True, help_text="The cycle where the condition began.")
    title = models.CharField(max_length=120, help_text="The rule with its limit, e.g. retention below 80 %.")
    message = models.TextField()
    values = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    muted_until = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [models.UniqueConstraint(fields=["cell", "kind"], condition=Q(closed_at=None),
                                               name="one_live_alert_per_cell_and_kind")]
        indexes = [models.Index(fields=["cell", "closed_at"])]

    def __str__(self):
        return f"{self.cell}: {self.get_kind_display()} (cycle {self.cycle})"

    def get_absolute_url(self) -> str:
        url = reverse("cell-page", args=[self.cell_id])
        return f"{url}?cycle={self.cycle}#cycle-{self.cycle}" if self.cycle is not None else url

    @property
    def is_live(self) -> bool:
        return self.closed_at is None

    def is_muted(self, now=None) -> bool:
        return self.muted_until is not None and self.muted_until > (now or timezone.now())


class Subscription(models.Model):
    """What of one project reaches one person: which groups and rule kinds, in the app and/or by e-mail."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions")
    project = models.ForeignKey("cells.Project", on_delete=models.CASCADE, related_name="+")
    groups = models.ManyToManyField("cells.CellGroup", blank=True, related_name="+",
                                    help_text="Groups of the project whose cells' alerts to receive; none = all.")
    kinds = models.JSONField(default=list, blank=True, help_text="Rule kinds to receive; empty = all.")
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=False)

    class Meta:
        ordering = ["user", "project"]
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="one_subscription_per_project")]

    def __str__(self):
        return f"{self.user} <- {self.project}"

    def clean(self):
        unknown = sorted(set(self.kinds or []) - set(rules.RULE_KINDS))
        if unknown:
            raise ValidationError({"kinds": f"Unknown rule kinds: {', '.join(unknown)}."})

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def covers(self, group_id: int) -> bool:
        """Alerts of a cell of this group reach the subscriber (every group when none is chosen)."""
        chosen = [g.pk for g in self.groups.all()]  # .all(): uses a prefetch_related("groups") when there is one
        return not chosen or group_id in chosen


def _new_secret() -> str:
    return secrets.token_hex(24)


def mask_secret(secret: str) -> str:
    """What reads show of a webhook's secret after its creation: its last four characters."""
    return "••••" + (secret or "")[-4:]


class Webhook(models.Model):
    """An incoming-webhook URL (Slack, Mattermost, Teams or any JSON receiver) that gets a project's alerts."""

    PROJECT_PATH = "project"  # for RestrictedQuerySet.restrict()

    project = models.ForeignKey("cells.Project", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=64, default=_new_secret,
                              help_text="Signs each body: X-Assb-Signature: sha256=HMAC(secret, timestamp.body).")
    kinds = models.JSONField(default=list, blank=True, help_text="Rule kinds to send; empty = all.")
    is_active = models.BooleanField(default=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["project", "name"]

    def __str__(self):
        return f"{self.name} ({self.project})"

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def clean(self):
        try:
            check_webhook_url(self.url)
        except UnsafeWebhookUrl as exc:
            raise ValidationError({"url": str(exc)}) from None


class Delivery(models.Model):
    """One notification of one alert to one recipient (an e-mail to a user, or a webhook POST) and its retries."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.UniqueConstraint(fields=["alert", "user"], condition=Q(channel="email"), name="one_email_per_alert"),
            models.UniqueConstraint(fields=["alert", "webhook"], condition=Q(channel="webhook"),
                                    name="one_post_per_alert_and_webhook"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} of {self.alert} ({self.status})"
