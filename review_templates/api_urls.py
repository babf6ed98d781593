"""API v1 routes of the review_templates app, included under /api/v1/ by config/api_urls.py."""

from rest_framework.routers import SimpleRouter

from .api import ReviewTemplateViewSet

router = SimpleRouter()
router.register("templates", ReviewTemplateViewSet, basename="review-template")

urlpatterns = router.urls
