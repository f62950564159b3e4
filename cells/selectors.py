"""Reads of the cell registry, always scoped to what the asking user may see.

The scoping rule itself is ONE queryset method, `Model.objects.restrict(user, action)` (cells.querysets);
these selectors only add the related rows the pages and API read with every cell.
"""
from django.db.models import QuerySet

from .models import AuditEvent, Cell, CellGroup, Project
from .querysets import sees_everything

CELL_RELATED = ("project", "group", "cathode_material", "coating__material", "catholyte", "conductive_additive",
                "electrolyte", "anode")


def projects_visible_to(user) -> QuerySet[Project]:
    return Project.objects.restrict(user)


def cells_visible_to(user) -> QuerySet[Cell]:
    return Cell.objects.restrict(user).select_related(*CELL_RELATED)


def groups_visible_to(user) -> QuerySet[CellGroup]:
    return CellGroup.objects.restrict(user).select_related("project")


def last_catalogue_recompute(cell: Cell) -> AuditEvent | None:
    """The latest time a catalogue change (cells.services.catalogue_update) had this cell analysed again."""
    return (AuditEvent.objects.filter(action="catalogue.recompute", object_type="cells.cell", object_id=str(cell.pk))
            .select_related("user").order_by("-at", "-pk").first())


__all__ = ["CELL_RELATED", "cells_visible_to", "last_catalogue_recompute", "groups_visible_to", "projects_visible_to", "sees_everything"]
