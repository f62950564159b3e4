"""Admin of monitoring: lab admins edit rule limits and webhooks; alerts and deliveries are shown for audit."""
from django.contrib import admin, messages

from cells.admin import AuditedAdmin

from .models import Alert, AlertRule, Delivery, RunState, Subscription, Webhook, mask_secret


@admin.register(AlertRule)
class AlertRuleAdmin(AuditedAdmin):
    list_display = ["kind", "threshold", "unit", "enabled", "scope_label", "updated_at"]
    list_editable = ["threshold", "enabled"]
    list_filter = ["kind", "enabled", "project"]
    autocomplete_fields = ["cell"]
    fieldsets = [(None, {"fields": ["kind", "threshold", "enabled", "notes"],
                         "description": "Units: retention and CE in %, discharge in mAh/g, voltage tolerance in V, "
                                        "no new data in hours, R_int in ohm, R_int growth in % per 100 cycles."}),
                 ("Scope (leave all empty for the whole lab; the most specific rule wins)",
                  {"fields": ["project", "group", "cell"]})]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["cell", "kind", "cycle", "status", "opened_at", "closed_at", "muted_until"]
    list_filter = ["status", "kind", "cell__project"]
    search_fields = ["cell__name", "message"]
    readonly_fields = ["cell", "kind", "rule", "cycle", "message", "values", "opened_at", "last_seen_at", "closed_at",
                       "acknowledged_at", "acknowledged_by", "resolved_by"]


@admin.register(RunState)
class RunStateAdmin(admin.ModelAdmin):
    list_display = ["cell", "state", "latest_cycle", "retention_percent", "last_record_at", "evaluated_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in RunState._meta.fields if f.name != "finished_at"]


@admin.register(Subscription)
class SubscriptionAdmin(AuditedAdmin):
    list_display = ["user", "project", "in_app", "email", "kinds"]
    list_filter = ["project", "email"]


@admin.register(Webhook)
class WebhookAdmin(AuditedAdmin):
    """The signing secret is shown once, after the webhook is added; the change page shows it masked."""

    list_display = ["name", "project", "url", "is_active"]
    list_filter = ["project", "is_active"]
    exclude = ["secret"]
    readonly_fields = ["masked_secret"]

    @admin.display(description="Secret")
    def masked_secret(self, obj):
        return mask_secret(obj.secret) if obj.pk else "made when saved, shown once"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            messages.warning(request, f"The signing secret of {obj.name}, shown only now: {obj.secret}")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["alert", "channel", "user", "webhook", "status", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["status", "channel"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
