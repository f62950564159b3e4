"""Authentication backend: Django's ModelBackend with a user's permissions (own + roles) read in ONE query.

Every API request checks a model permission (cells.permissions.LabModelPermissions). ModelBackend builds two
ORM queries for that (the user's own permissions, then its groups'), whose compilation cost more CPU than
the cached answer of a dashboard request. The same set comes here from one prepared SQL statement; the
result is kept on the user object for the request, as ModelBackend does.
"""
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

_SQL = None


def _sql() -> str:
    global _SQL
    if _SQL is None:
        user = get_user_model()
        own, groups = user.user_permissions.through._meta, user.groups.through._meta
        group_perms = Group.permissions.through._meta
        q = connection.ops.quote_name
        _SQL = (
            f"SELECT ct.{q('app_label')}, p.{q('codename')} FROM {q(Permission._meta.db_table)} p "
            f"JOIN {q(ContentType._meta.db_table)} ct ON ct.{q('id')} = p.{q('content_type_id')} "
            f"WHERE p.{q('id')} IN (SELECT {q('permission_id')} FROM {q(own.db_table)} WHERE {q('user_id')} = %s "
            f"UNION SELECT gp.{q('permission_id')} FROM {q(group_perms.db_table)} gp "
            f"JOIN {q(groups.db_table)} ug ON ug.{q('group_id')} = gp.{q('group_id')} WHERE ug.{q('user_id')} = %s)"
        )
    return _SQL


class RoleBackend(ModelBackend):
    """ModelBackend (login, is_active, superusers) whose permission set costs one query."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                cursor.execute(_sql(), [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in cursor.fetchall()}
        return user_obj._perm_cache
