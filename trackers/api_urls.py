"""API v1 routes of the trackers app, included under /api/v1/ by config/api_urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import ActionItemTrackerView, ConnectionViewSet

router = SimpleRouter()
router.register("tracker-connections", ConnectionViewSet, basename="tracker-connection")

urlpatterns = [
    path(
        "action-items/<int:pk>/tracker/",
        ActionItemTrackerView.as_view(),
        name="action-item-tracker",
    ),
    *router.urls,
]
