"""Web pages of monitoring."""
from django.urls import path

from . import views

urlpatterns = [
    path("board/", views.board_page, name="board"),
    path("alerts/", views.alert_inbox, name="alert-inbox"),
    path("settings/alerts/", views.alert_settings, name="alert-settings"),
    path("settings/alerts/webhooks/<int:pk>/test/", views.webhook_test, name="webhook-test"),
]
