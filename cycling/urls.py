"""Web pages of cycling data."""
from django.urls import path

from . import views

urlpatterns = [
    path("cells/<int:pk>/cycles/export/", views.cell_cycles_export, name="cell-cycles-export"),
    path("cells/<int:pk>/timeline/", views.cell_timeline_mark, name="cell-timeline-mark"),
    path("formats/", views.format_profile_list, name="format-profiles"),
    path("formats/new/", views.format_profile_edit, name="format-profile-new"),
    path("formats/<int:pk>/", views.format_profile_edit, name="format-profile-edit"),
    path("formats/<int:pk>/export/", views.format_profile_export, name="format-profile-export"),
    path("formats/import/", views.format_profile_import, name="format-profile-import"),
]
