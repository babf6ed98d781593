"""API v1 routes of the webhooks, included under /api/v1/ by config/api_urls.py."""

from rest_framework.routers import SimpleRouter

from .api import DeliveryViewSet, EndpointViewSet

router = SimpleRouter()
router.register("webhooks/endpoints", EndpointViewSet, basename="webhook-endpoint")
router.register("webhooks/deliveries", DeliveryViewSet, basename="webhook-delivery")

urlpatterns = router.urls
