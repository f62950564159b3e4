"""Web pages of impedance (EIS) results."""
from django.urls import path

from . import views

urlpatterns = [
    path("cells/<int:pk>/impedance/", views.cell_impedance, name="cell-impedance"),
]
