"""Web pages of cycling data."""
from django.urls import path

from . import views

urlpatterns = [
    path("cells/<int:pk>/cycles/export/", views.cell_cycles_export, name="cell-cycles-export"),
    path("cells/<int:pk>/timeline/", views.cell_timeline_mark, name="cell-timeline-mark"),
]
