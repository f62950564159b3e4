"""Web pages of monitoring."""
from django.urls import path

from . import views

urlpatterns = [
    path("board/", views.board_page, name="board"),
    path("alerts/", views.alert_inbox, name="alert-inbox"),
]
