"""Lab roles as Django groups: viewer reads, researcher registers cells and uploads, lab-admin does all."""
from django.contrib.auth.models import Group, Permission

VIEWER, RESEARCHER, LAB_ADMIN = "viewer", "researcher", "lab-admin"

_LAB_APPS = ("cells", "cycling", "impedance", "monitoring")
_NOT_FOR_RESEARCHERS = {"cyclerdevice", "auditevent", "project", "alertrule", "webhook", "delivery"}


def ensure_roles(sender=None, **_kwargs) -> None:
    """Create or update the three role groups; runs after every migrate, so it is idempotent."""
    if sender is not None and getattr(sender, "label", None) not in _LAB_APPS:
        return
    perms = Permission.objects.filter(content_type__app_label__in=_LAB_APPS).select_related("content_type")
    # Webhooks hold signing secrets: like device tokens, not for viewers.
    viewer = [p for p in perms if p.codename.startswith("view_") and p.content_type.model not in {"cyclerdevice", "webhook"}]
    researcher = viewer + [
        p
        for p in perms
        if p.codename.split("_", 1)[0] in {"add", "change"} and p.content_type.model not in _NOT_FOR_RESEARCHERS
    ]
    researcher += [p for p in perms if p.codename in {"delete_datafile", "delete_eisspectrum"}]
    for name, chosen in ((VIEWER, viewer), (RESEARCHER, researcher), (LAB_ADMIN, list(perms))):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(chosen)
