"""Writes of the cell registry: the only code that creates or changes cells outside the admin forms."""
from django.db import transaction
from django.db.models import F

from assb_lab.lib import jsonable

from .auth import DevicePrincipal
from .models import AuditEvent, Cell
from .signals import catalogue_recompute


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


# Bookkeeping fields (their change is no edit anyone made) and secrets (a device's token never enters the log).
_NOT_AUDITED = {"created_at", "updated_at", "data_version", "last_seen_at", "key", "password", "secret"}


def field_values(obj) -> dict:
    """The object's stored fields as JSON-safe values (a foreign key by its id, a date as ISO text)."""
    out = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or field.name in _NOT_AUDITED:
            continue
        value = getattr(obj, field.attname)
        out[field.name] = value.isoformat() if hasattr(value, "isoformat") else jsonable(value)
    return out


def field_changes(before: dict | None, after: dict | None) -> dict:
    """{field: [old, new]} of the fields whose value differs (a create has old None, a delete new None)."""
    before, after = before or {}, after or {}
    return {name: [before.get(name), after.get(name)] for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)}


@transaction.atomic
def object_save(*, actor, save, instance=None):
    """Create or edit a registry object (a build sheet, a material, a group ...) from any face (API, admin,
    command) and audit it with the old -> new value of every field that changed: AuditEvent.detail["changes"]
    = {field: [old, new]}. `save()` stores the change and returns the object; `instance` is the object
    being edited (None for a create): its stored state is read before `save()` runs."""
    stored = (type(instance)._default_manager.filter(pk=instance.pk).first()
              if instance is not None and instance.pk else None)
    before = field_values(stored) if stored is not None else None
    obj = save()
    changes = field_changes(before, field_values(obj))
    audit(actor=actor, action="create" if stored is None else "update", obj=obj, changes=changes)
    return obj


@transaction.atomic
def object_delete(*, obj, actor) -> None:
    """Delete a registry object from any face, audited with the values it had ({field: [old, None]})."""
    audit(actor=actor, action="delete", obj=obj, changes=field_changes(field_values(obj), None))
    obj.delete()


def cell_data_changed(*, cell_id: int) -> None:
    """What the dashboards show of the cell's data changed: bump its data_version (one UPDATE, inside the
    caller's transaction, so the new version becomes visible together with the new rows)."""
    Cell.objects.filter(pk=cell_id).update(data_version=F("data_version") + 1)


def next_replicate_number(*, group_id: int) -> int:
    """The replicate number a new cell of the group gets: one above the highest so far."""
    highest = (Cell.objects.filter(group_id=group_id).order_by("-replicate_number")
               .values_list("replicate_number", flat=True).first())
    return (highest or 0) + 1


def replicate_name(base: str) -> str:
    """A free name for the next replicate of `base`: its trailing number counted up (LNTO-03 -> LNTO-04, keeping
    the digits), else `base-copyN`."""
    stem = base.rstrip("0123456789")
    digits = base[len(stem):]
    if digits:
        n = int(digits) + 1
        while Cell.objects.filter(name=f"{stem}{n:0{len(digits)}d}").exists():
            n += 1
        return f"{stem}{n:0{len(digits)}d}"
    return _next_free_name(base)


@transaction.atomic
def cell_register(*, cell: Cell, pressing_steps: list, actor, source_cell: Cell | None = None) -> Cell:
    """Save a new build sheet (validated by its form) with its pressing steps, numbered in order, and audit it."""
    cell.full_clean()
    cell.save()
    for order, step in enumerate(pressing_steps, start=1):
        step.cell, step.order = cell, order
        step.full_clean()
        step.save()
    detail = {"source_cell": source_cell.pk} if source_cell is not None else {}
    audit(actor=actor, action="create", obj=cell, **detail)
    return cell


def _next_free_name(base: str) -> str:
    n = 2
    while Cell.objects.filter(name=f"{base}-copy{n}").exists():
        n += 1
    return f"{base}-copy{n}"


@transaction.atomic
def cell_duplicate(*, cell: Cell, name: str | None = None, actor=None) -> Cell:
    """Copy a build sheet (with its pressing steps) as the next replicate of the same group."""
    steps = list(cell.pressing_steps.all())
    replicate = next_replicate_number(group_id=cell.group_id)
    copy = Cell.objects.get(pk=cell.pk)
    copy.pk = copy.id = None
    copy.name = name or _next_free_name(cell.name)
    copy.replicate_number = replicate
    copy.cycler_channel = ""  # a replicate runs on a channel of its own
    copy.full_clean()
    copy.save()
    for step in steps:
        step.pk = step.id = None
        step.cell = copy
        step.save()
    audit(actor=actor, action="duplicate", obj=copy, source_cell=cell.pk)
    return copy


# --- the lab-wide catalogue ---------------------------------------------------------------------

# Catalogue values that enter the numbers, per model: field -> (label, unit, the cells whose analysis uses it).
# A cell with its own theoretical capacity does not use its material's; only a window given vs Li+/Li is
# shifted by the anode's potential. A new number (a density, say) is one more line here.
CATALOGUE_INPUTS = {
    "cells.material": {
        "theoretical_capacity_mah_g": (
            "theoretical capacity", "mAh/g",
            lambda m: Cell.objects.filter(cathode_material=m, theoretical_capacity_mah_g__isnull=True),
        ),
        "potential_vs_li_v": (
            "potential vs Li+/Li", "V",
            lambda m: Cell.objects.filter(anode=m, voltage_reference=Cell.VoltageReference.LI,
                                          voltage_min_v__isnull=False, voltage_max_v__isnull=False),
        ),
    },
}


def _value(obj, name: str):
    field = obj._meta.get_field(name)
    return getattr(obj, field.attname)  # a foreign key as its id


@transaction.atomic
def catalogue_update(*, obj, data: dict, actor=None):
    """Change a catalogue record (a Material or Coating) for the API and the admin alike: the new values are
    checked, the change is audited with {field: [old, new]}, and when a value that enters the numbers changed,
    every cell using it is analysed again (cells.signals.catalogue_recompute -> cycling's cell_recompute, the
    path a build-sheet correction takes) and gets an audit line the cell page shows."""
    model = type(obj)
    label = model._meta.label_lower
    stored = model.objects.select_for_update().get(pk=obj.pk)  # the values before, whatever `obj` holds now
    for name, value in data.items():
        setattr(obj, name, value)
    obj.full_clean()
    obj.save()
    changes = {name: jsonable([_value(stored, name), _value(obj, name)]) for name in data
               if _value(stored, name) != _value(obj, name)}
    inputs = CATALOGUE_INPUTS.get(label, {})
    changed_inputs = {name: changes[name] for name in changes if name in inputs}
    cell_ids = sorted({pk for name in changed_inputs for pk in inputs[name][2](obj).values_list("pk", flat=True)})
    audit(actor=actor, action="update", obj=obj, changes=changes, recomputed_cells=cell_ids)
    if cell_ids:
        Cell.objects.filter(pk__in=cell_ids).update(data_version=F("data_version") + 1)
        said = "; ".join(
            f"{obj} {inputs[name][0]} {_num(old)} → {_num(new)} {inputs[name][1]}"
            for name, (old, new) in changed_inputs.items()
        )
        for cell in Cell.objects.filter(pk__in=cell_ids):
            audit(actor=actor, action="catalogue.recompute", obj=cell, catalogue=label, catalogue_id=obj.pk,
                  changes=changed_inputs, summary=said)
        catalogue_recompute.send(sender=model, cell_ids=cell_ids, reason=f"catalogue changed: {said}")
    return obj


def _num(value) -> str:
    return "—" if value is None else f"{value:g}"
