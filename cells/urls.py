"""Registry pages: register a cell (and its live derived values)."""
from django.urls import path

from . import views

urlpatterns = [
    path("cells/new/", views.cell_register, name="cell-register"),
    path("cells/new/derive/", views.cell_derive, name="cell-derive"),
]
