"""API v1: one router for the whole API. Each app keeps its own viewsets; they are put
together here, above every app, so that no app has to import the ones that build on it
(reports build on incidents, incidents on the catalogue)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from duplicates.api import DuplicateViewSet
from incidents.api import views as incident_views
from reports.api.views import ReportViewSet
from taxonomy.api import views as taxonomy_views

app_name = "api"

router = DefaultRouter()
router.register("incidents", incident_views.IncidentViewSet, basename="incident")
router.register("components", incident_views.ComponentViewSet, basename="component")
router.register("recurrences", incident_views.RecurrenceViewSet, basename="recurrence")
router.register("reports", ReportViewSet, basename="report")
router.register("duplicates", DuplicateViewSet, basename="duplicate")
router.register("patterns", taxonomy_views.PatternViewSet, basename="pattern")
router.register("shapes", taxonomy_views.ShapeViewSet, basename="shape")
router.register("leverage-levels", taxonomy_views.LeverageLevelViewSet, basename="leverage-level")

urlpatterns = [
    path("similar/", incident_views.SimilarView.as_view(), name="similar"),
    *router.urls,
    path("", include("review_templates.api_urls")),
    path("", include("notifications.api_urls")),
    path("", include("people.api_urls")),
    path("", include("reviewflow.api_urls")),
    path("", include("actions.api_urls")),
    path("", include("exports.api_urls")),
    path("", include("timeline_import.api_urls")),
    path("", include("trackers.api_urls")),
    path("", include("webhooks.api_urls")),
]
