"""API v1 routes of the actions app, included under /api/v1/ by config/api_urls.py."""

from rest_framework.routers import SimpleRouter

from .api import ActionItemViewSet

router = SimpleRouter()
router.register("action-items", ActionItemViewSet, basename="action-item")

urlpatterns = router.urls
