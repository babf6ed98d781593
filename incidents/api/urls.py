from rest_framework.routers import DefaultRouter

from . import views

app_name = "api"

router = DefaultRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("patterns", views.PatternViewSet, basename="pattern")
router.register("shapes", views.ShapeViewSet, basename="shape")
router.register("recurrences", views.RecurrenceViewSet, basename="recurrence")

urlpatterns = router.urls
