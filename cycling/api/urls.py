"""Routes of the cycling API under /api/v1/."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from . import figures, peaks, records, views

router = DefaultRouter()
router.register("datafiles", views.DataFileViewSet, basename="datafile")

urlpatterns = [
    path("cells/<int:pk>/cycles/", views.CellCyclesView.as_view(), name="cell-cycles"),
    path("cells/<int:pk>/curves/", views.CellCurvesView.as_view(), name="cell-curves"),
    # dQ/dV with explicit smoothing parameters and CSV (peaks.py); replaces views.CellDqdvView's route.
    path("cells/<int:pk>/dqdv/", peaks.CellDqdvView.as_view(), name="cell-dqdv"),
    path("cells/<int:pk>/peaks/", peaks.CellPeaksView.as_view(), name="cell-peaks"),
    path("cells/<int:pk>/records/", records.CellRecordsView.as_view(), name="cell-records"),
    path("datafiles/<int:pk>/records/", records.DataFileRecordsView.as_view(), name="datafile-records"),
    path("cells/<int:pk>/figure/", figures.CellFigureView.as_view(), name="cell-figure"),
    *router.urls,
]
