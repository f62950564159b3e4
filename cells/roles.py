"""Lab roles as Django groups: viewer reads, researcher registers cells and uploads, catalogue curator keeps the
lab-wide catalogue (materials, coatings), lab-admin does all."""
from django.contrib.auth.models import Group, Permission

VIEWER, RESEARCHER, CATALOGUE_CURATOR, LAB_ADMIN = "viewer", "researcher", "catalogue-curator", "lab-admin"

_LAB_APPS = ("cells", "cycling", "impedance", "monitoring")
_NOT_FOR_RESEARCHERS = {"cyclerdevice", "auditevent", "project", "alertrule", "webhook", "delivery"}
# The lab-wide catalogue: records every project's cells point to. Everyone reads it; a researcher may add a new
# entry (a proposal: it changes no existing cell), only curators and lab admins change or delete one.
CATALOGUE_MODELS = {"material", "coating"}


def ensure_roles(sender=None, **_kwargs) -> None:
    """Create or update the role groups; runs after every migrate, so it is idempotent."""
    if sender is not None and getattr(sender, "label", None) not in _LAB_APPS:
        return
    perms = Permission.objects.filter(content_type__app_label__in=_LAB_APPS).select_related("content_type")
    # Webhooks hold signing secrets: like device tokens, not for viewers.
    viewer = [p for p in perms if p.codename.startswith("view_") and p.content_type.model not in {"cyclerdevice", "webhook"}]
    researcher = viewer + [
        p
        for p in perms
        if (p.codename.split("_", 1)[0] == "add" and p.content_type.model not in _NOT_FOR_RESEARCHERS)
        or (p.codename.split("_", 1)[0] == "change"
            and p.content_type.model not in _NOT_FOR_RESEARCHERS | CATALOGUE_MODELS)
    ]
    researcher += [p for p in perms if p.codename in {"delete_datafile", "delete_eisspectrum"}]
    curator = viewer + [
        p for p in perms
        if p.content_type.app_label == "cells" and p.content_type.model in CATALOGUE_MODELS
        and p.codename.split("_", 1)[0] in {"add", "change", "delete"}
    ]
    for name, chosen in ((VIEWER, viewer), (RESEARCHER, researcher), (CATALOGUE_CURATOR, curator),
                         (LAB_ADMIN, list(perms))):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(chosen)
