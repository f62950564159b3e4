"""Project-level views that belong to no app."""
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.http import JsonResponse
from rest_framework.permissions import BasePermission


def healthz(request):
    """Liveness for load balancers: answers 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def api_docs_public() -> bool:
    return bool(getattr(settings, "ASSB_API_DOCS_PUBLIC", False))


class ApiDocsVisible(BasePermission):
    """The API schema and docs: anyone when ASSB_API_DOCS_PUBLIC, else a signed-in user (session or token)."""

    def has_permission(self, request, view):
        return api_docs_public() or bool(request.user and request.user.is_authenticated)


def docs_page(view):
    """A docs page (Swagger UI, ReDoc) sends an anonymous browser to the login page when the docs are not
    public, as every other page does (ApiDocsVisible still guards the view itself)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not api_docs_public() and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped
