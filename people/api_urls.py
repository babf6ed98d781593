"""API v1 routes of the people app, included under /api/v1/ by config/api_urls.py."""

from rest_framework.routers import SimpleRouter

from .api import PeopleViewSet

router = SimpleRouter()
router.register("people", PeopleViewSet, basename="person")

urlpatterns = router.urls
