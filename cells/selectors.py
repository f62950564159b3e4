"""Reads of the cell registry, always scoped to what the asking user may see."""
from django.db.models import QuerySet

from .auth import DevicePrincipal
from .models import Cell, CellGroup, Project


def sees_everything(user) -> bool:
    return bool(getattr(user, "is_superuser", False) or getattr(user, "is_staff", False))


def projects_visible_to(user) -> QuerySet[Project]:
    if isinstance(user, DevicePrincipal):
        return user.device.projects.all()
    if sees_everything(user):
        return Project.objects.all()
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    return Project.objects.filter(members=user)


def cells_visible_to(user) -> QuerySet[Cell]:
    qs = Cell.objects.select_related(
        "project", "group", "cathode_material", "coating__material", "catholyte", "conductive_additive",
        "electrolyte", "anode",
    )
    if sees_everything(user) and not isinstance(user, DevicePrincipal):
        return qs
    return qs.filter(project__in=projects_visible_to(user))


def groups_visible_to(user) -> QuerySet[CellGroup]:
    qs = CellGroup.objects.select_related("project")
    if sees_everything(user) and not isinstance(user, DevicePrincipal):
        return qs
    return qs.filter(project__in=projects_visible_to(user))
