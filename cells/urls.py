"""Web pages of the registry."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("cells/<int:pk>/", views.cell_detail, name="cell-page"),
]
