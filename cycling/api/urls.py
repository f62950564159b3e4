"""Routes of the cycling API under /api/v1/."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from . import compare, views

router = DefaultRouter()
router.register("datafiles", views.DataFileViewSet, basename="datafile")

urlpatterns = [
    path("cells/<int:pk>/cycles/", views.CellCyclesView.as_view(), name="cell-cycles"),
    path("cells/<int:pk>/curves/", views.CellCurvesView.as_view(), name="cell-curves"),
    path("cells/<int:pk>/dqdv/", views.CellDqdvView.as_view(), name="cell-dqdv"),
    path("compare/", compare.CompareView.as_view(), name="compare-api"),
    path("compare/summary/", compare.CompareSummaryView.as_view(), name="compare-summary-api"),
    *router.urls,
]
