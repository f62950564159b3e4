"""Routes of the effects API under /api/v1/."""
from django.urls import path

from . import views

urlpatterns = [
    path("effects/", views.EffectView.as_view(), name="effects-api"),
    path("effects/screen/", views.ScreenView.as_view(), name="effects-screen-api"),
    path("effects/options/", views.OptionsView.as_view(), name="effects-options-api"),
]
