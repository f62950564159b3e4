"""Routes of the registry API under /api/v1/."""
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("projects", views.ProjectViewSet, basename="project")
router.register("materials", views.MaterialViewSet, basename="material")
router.register("coatings", views.CoatingViewSet, basename="coating")
router.register("groups", views.CellGroupViewSet, basename="group")
router.register("cells", views.CellViewSet, basename="cell")
urlpatterns = router.urls
