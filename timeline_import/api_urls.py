"""API v1 routes of the timeline import, included under /api/v1/ by config/api_urls.py."""

from django.urls import path

from .api import TimelineImportView

urlpatterns = [
    path(
        "incidents/<int:id>/timeline/import/",
        TimelineImportView.as_view(),
        name="incident-timeline-import",
    ),
]
