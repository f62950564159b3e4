"""Routes of the impedance API under /api/v1/."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()  # the API root view comes from the cycling router
router.register("eis/spectra", views.EisSpectrumViewSet, basename="eis-spectrum")

urlpatterns = [
    path("cells/<int:pk>/rint/", views.CellRintView.as_view(), name="cell-rint"),
    path("eis/rint/", views.RintCompareView.as_view(), name="eis-rint"),
    path("eis/drt/", views.DrtCompareView.as_view(), name="eis-drt-compare"),
    *router.urls,
]
