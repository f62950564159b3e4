"""Web pages of the effects."""
from django.urls import path

from . import views

urlpatterns = [
    path("effects/", views.effects_page, name="effects"),
    path("effects/figure/", views.effects_figure, name="effects-figure"),
    path("effects/export/", views.effects_export, name="effects-export"),
]
