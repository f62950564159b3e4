"""The lab-wide default rules (monitoring.rules.RULE_KINDS); a lab admin edits them afterwards."""
from django.db import migrations

# Frozen here (not imported) so the migration keeps meaning what it meant when written.
DEFAULTS = {
    "retention_below": 80.0, "discharge_below": 10.0, "ce_below": 95.0, "capacity_drop": 5.0,
    "voltage_window": 0.05, "no_new_data": 12.0, "import_failed": None, "rint_above": 1000.0, "rint_growth": 30.0,
}


def create(apps, schema_editor):
    AlertRule = apps.get_model("monitoring", "AlertRule")
    for kind, threshold in DEFAULTS.items():
        AlertRule.objects.get_or_create(kind=kind, project=None, group=None, cell=None,
                                        defaults={"threshold": threshold, "enabled": True})


def remove(apps, schema_editor):
    apps.get_model("monitoring", "AlertRule").objects.filter(project=None, group=None, cell=None).delete()


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
