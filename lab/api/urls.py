"""Routes of the lab API under /api/v1/: compare (data, summary, figure) and the dataset zip."""
from django.urls import path

from . import compare, dataset, figures

urlpatterns = [
    path("compare/figure/", figures.CompareFigureView.as_view(), name="compare-figure"),
    path("datasets/", dataset.DatasetView.as_view(), name="dataset-export"),
    path("compare/", compare.CompareView.as_view(), name="compare-api"),
    path("compare/summary/", compare.CompareSummaryView.as_view(), name="compare-summary-api"),
]
