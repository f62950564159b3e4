"""Writes of the cell registry: the only code that creates or changes cells outside the admin forms."""
from django.db import transaction
from django.db.models import F

from .auth import DevicePrincipal
from .models import AuditEvent, Cell


def audit(*, actor, action: str, obj, **detail) -> AuditEvent:
    """Record who did `action` to `obj`; `actor` is a user, a DevicePrincipal or None (the system)."""
    user = device = None
    if isinstance(actor, DevicePrincipal):
        device = actor.device
    elif actor is not None and getattr(actor, "is_authenticated", False):
        user = actor
    return AuditEvent.objects.create(
        user=user, device=device, action=action, object_type=obj._meta.label_lower,
        object_id=str(obj.pk), object_repr=str(obj)[:200], detail=detail,
    )


def cell_data_changed(*, cell_id: int) -> None:
    """What the dashboards show of the cell's data changed: bump its data_version (one UPDATE, inside the
    caller's transaction, so the new version becomes visible together with the new rows)."""
    Cell.objects.filter(pk=cell_id).update(data_version=F("data_version") + 1)


def _next_free_name(base: str) -> str:
    n = 2
    while Cell.objects.filter(name=f"{base}-copy{n}").exists():
        n += 1
    return f"{base}-copy{n}"


@transaction.atomic
def cell_duplicate(*, cell: Cell, name: str | None = None, actor=None) -> Cell:
    """Copy a build sheet (with its pressing steps) as the next replicate of the same group."""
    steps = list(cell.pressing_steps.all())
    replicate = (
        Cell.objects.filter(group=cell.group).order_by("-replicate_number").values_list("replicate_number", flat=True).first()
        or 0
    ) + 1
    copy = Cell.objects.get(pk=cell.pk)
    copy.pk = copy.id = None
    copy.name = name or _next_free_name(cell.name)
    copy.replicate_number = replicate
    copy.full_clean()
    copy.save()
    for step in steps:
        step.pk = step.id = None
        step.cell = copy
        step.save()
    audit(actor=actor, action="duplicate", obj=copy, source_cell=cell.pk)
    return copy
