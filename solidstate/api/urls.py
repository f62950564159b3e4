"""Routes of the solid-state API under /api/v1/."""
from django.urls import path

from . import views

urlpatterns = [
    path("electrolyte-batches/", views.BatchListView.as_view(), name="electrolyte-batch-list"),
    path("electrolyte-batches/<int:pk>/results/", views.BatchResultsView.as_view(), name="electrolyte-batch-results"),
]
