"""Project-level views that belong to no app."""
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """Liveness for load balancers: answers 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
