"""Who may do what through the API: roles are Django groups with model permissions; devices only upload."""
from rest_framework import permissions

from .auth import DevicePrincipal


def is_device(request) -> bool:
    return isinstance(request.user, DevicePrincipal)


class LabModelPermissions(permissions.DjangoModelPermissions):
    """Model permissions including `view` for reads; cycler devices only where a view allows them.

    A view opts devices in with `device_actions = {"create", "retrieve", ...}`.
    """

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        if is_device(request):
            return getattr(view, "action", None) in getattr(view, "device_actions", ())
        allowed = super().has_permission(request, view)
        if not allowed and getattr(type(self), "message", None) is None:
            # Say which permission is missing (DRF's default text names none); instances live for one request.
            model = self._queryset(view).model
            needed = self.get_required_permissions(request.method, model)
            missing = [p for p in needed if not request.user.has_perm(p)]
            self.message = (f"This needs the permission {', '.join(missing or needed)}, which a lab role grants "
                            "(viewer to read, researcher to register and upload); ask a lab admin.")
        return allowed


class CatalogueModelPermissions(LabModelPermissions):
    """The lab-wide catalogue (cells.roles.CATALOGUE_MODELS): everyone reads, researchers may add a new entry,
    only lab admins and catalogue curators change or delete one (the model permissions say so); the refusal
    tells a researcher what to do instead."""

    message = (
        "Materials and coatings are the lab-wide catalogue that every project's cells use: only lab admins and "
        "catalogue curators may change or delete an entry. Add a new entry instead (a curator reviews it), ask a "
        "curator to correct this one, or give your cell its own value on its build sheet (its theoretical "
        "capacity overrides the material's)."
    )
