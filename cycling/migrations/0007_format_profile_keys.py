"""Files read (or to be read) by a format profile name it by key as well as by name: a rename of the profile then
keeps their provenance and their re-reads (before, both were by name only)."""
from django.db import migrations


def add_keys(apps, schema_editor):
    DataFile = apps.get_model("cycling", "DataFile")
    FormatProfile = apps.get_model("cycling", "FormatProfile")
    keys = dict(FormatProfile.objects.values_list("name", "pk"))
    if not keys:
        return
    for datafile in DataFile.objects.filter(kind="cycling").only("pk", "metadata", "provenance").iterator():
        provenance, metadata = dict(datafile.provenance or {}), dict(datafile.metadata or {})
        changed = False
        if provenance.get("profile") in keys and not provenance.get("profile_id"):
            provenance["profile_id"] = keys[provenance["profile"]]
            changed = True
        if metadata.get("profile_requested") in keys and not metadata.get("profile_requested_id"):
            metadata["profile_requested_id"] = keys[metadata["profile_requested"]]
            changed = True
        if changed:
            DataFile.objects.filter(pk=datafile.pk).update(provenance=provenance, metadata=metadata)


class Migration(migrations.Migration):

    dependencies = [
        ("cycling", "0006_format_profile"),
    ]

    operations = [
        migrations.RunPython(add_keys, migrations.RunPython.noop),
    ]
