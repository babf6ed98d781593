"""API v1: one router for the whole API (incidents and the catalogue)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from duplicates.api import DuplicateViewSet
from taxonomy.api import views as taxonomy_views

from . import views

app_name = "api"

router = DefaultRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("components", views.ComponentViewSet, basename="component")
router.register("recurrences", views.RecurrenceViewSet, basename="recurrence")
router.register("reports", views.ReportViewSet, basename="report")
router.register("duplicates", DuplicateViewSet, basename="duplicate")
router.register("patterns", taxonomy_views.PatternViewSet, basename="pattern")
router.register("shapes", taxonomy_views.ShapeViewSet, basename="shape")
router.register("leverage-levels", taxonomy_views.LeverageLevelViewSet, basename="leverage-level")

urlpatterns = [
    path("similar/", views.SimilarView.as_view(), name="similar"),
    *router.urls,
]
