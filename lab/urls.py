"""Web pages that compose the apps: the cell list, a cell's page, the compare page."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("cells/<int:pk>/", views.cell_detail, name="cell-page"),
    path("compare/", views.compare_page, name="compare"),
    path("compare/export/", views.compare_export, name="compare-export"),
]
