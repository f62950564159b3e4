"""Routes of the monitoring API under /api/v1/."""
from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("alert-rules", views.AlertRuleViewSet, basename="alertrule")
router.register("alert-subscriptions", views.SubscriptionViewSet, basename="alertsubscription")
router.register("webhooks", views.WebhookViewSet, basename="webhook")

urlpatterns = [
    path("board/", views.BoardView.as_view(), name="board-api"),
    path("board/<int:pk>/finish/", views.BoardFinishView.as_view(), name="board-finish"),
    path("board/<int:pk>/unfinish/", views.BoardUnfinishView.as_view(), name="board-unfinish"),
    *router.urls,
]
