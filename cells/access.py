"""What a page says when the user lacks a permission: which one, which roles grant it, whom to ask (never an
empty page or a bare 403)."""
from django.contrib.auth.models import Group
from django.shortcuts import render

from .roles import LAB_ADMIN, RESEARCHER, VIEWER


def roles_granting(perm: str) -> list[str]:
    """The lab roles (Django groups) that hold `perm` ("app_label.codename"), in order of rank."""
    app_label, codename = perm.split(".", 1)
    held = set(Group.objects.filter(name__in=(VIEWER, RESEARCHER, LAB_ADMIN), permissions__codename=codename,
                                    permissions__content_type__app_label=app_label).values_list("name", flat=True))
    return [name for name in (VIEWER, RESEARCHER, LAB_ADMIN) if name in held]


def permission_needed(request, perm: str, doing: str, *, status: int = 403):
    """A 403 page naming what the user tried, the permission it needs and the roles that grant it."""
    roles = roles_granting(perm)
    return render(request, "permission_needed.html", {
        "perm": perm, "doing": doing, "roles": roles, "granted_by": granted_by(roles),
    }, status=status)


def granted_by(roles: list[str]) -> str:
    """"the researcher or lab-admin roles grant it", in words (HTML-free; the template emphasises nothing)."""
    if not roles:
        return "no lab role grants it (a lab admin can)"
    names = roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " or " + roles[-1]
    return f"the {names} role grants it" if len(roles) == 1 else f"the {names} roles grant it"


def missing_permissions(user, needs: dict[str, str]) -> list[dict]:
    """Of `needs` ({perm: what needs it}), those `user` lacks, each with the roles that grant it in words; pages
    pass them as `needs` and base.html says so above the content instead of leaving plots empty."""
    return [{"perm": perm, "what": what, "granted_by": granted_by(roles_granting(perm))}
            for perm, what in needs.items() if not user.has_perm(perm)]
