"""Project scoping as one chainable queryset method, `Model.objects.restrict(user, action)` (after NetBox's
RestrictedQuerySet): every scoped model names the path from itself to its project in `PROJECT_PATH`."""
from __future__ import annotations

from django.apps import apps
from django.db.models import QuerySet


def sees_everything(user) -> bool:
    """Staff and superusers see every project (a cycler device never does)."""
    return bool(getattr(user, "is_superuser", False) or getattr(user, "is_staff", False))


class RestrictedQuerySet(QuerySet):
    """A queryset that can be narrowed to what a user (or a cycler device) may see or do."""

    def restrict(self, user, action: str = "view") -> QuerySet:
        """Only the rows in projects `user` may work with, for `action` ('view', 'change', 'delete', ...).

        - staff and superusers: everything;
        - a cycler device (cells.auth.DevicePrincipal, known by its `device`): the projects it is registered to;
        - anyone else signed in: the projects they are a member of; an action other than 'view' also needs
          the model permission (`cells.change_cell` ...), which the roles (viewer, researcher, lab-admin) grant;
        - anonymous: nothing.
        """
        path = self.model.PROJECT_PATH
        device = getattr(user, "device", None)  # duck-typed: importing cells.auth here would make a circle
        if device is not None:
            projects = device.projects.all()
        elif sees_everything(user):
            return self
        elif not getattr(user, "is_authenticated", False):
            return self.none()
        else:
            if action != "view":
                meta = self.model._meta
                if not user.has_perm(f"{meta.app_label}.{action}_{meta.model_name}"):
                    return self.none()
            # A subquery, not a join on the members table: no duplicate rows, no DISTINCT needed.
            # cells.models imports this module: the model is looked up, not imported.
            projects = apps.get_model("cells", "Project").objects.filter(members=user)
        return self.filter(**{f"{path}__in" if path else "pk__in": projects.values("pk")})
