"""The root of /api/v1/: every collection of every app's router (each app's DefaultRouter would list only its own,
and the first one included wins), plus the plain list views (board, electrolyte batches)."""
from rest_framework.routers import APIRootView

from cells.api.urls import router as cells_router
from cycling.api.urls import router as cycling_router
from impedance.api.urls import router as impedance_router
from monitoring.api.urls import router as monitoring_router

ROUTERS = (cells_router, cycling_router, impedance_router, monitoring_router)
# Collections that are not a router's viewset (plain list views).
EXTRA_COLLECTIONS = {"board": "board-api", "electrolyte-batches": "electrolyte-batch-list"}


def registry() -> list[tuple]:
    """(prefix, viewset, basename) of every registered collection."""
    return [entry for router in ROUTERS for entry in router.registry]


class LabAPIRootView(APIRootView):
    """The collections of the lab API; other endpoints (per-cell data, compare, datasets) are in /api/docs/."""

    api_root_dict = {**{prefix: f"{basename}-list" for prefix, _viewset, basename in registry()},
                     **EXTRA_COLLECTIONS}
