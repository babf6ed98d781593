"""API v1 routes of the exports app, included under /api/v1/ by config/api_urls.py."""

from django.urls import path

from .api import ReviewExportView

urlpatterns = [
    path("incidents/<int:id>/export/", ReviewExportView.as_view(), name="incident-export"),
]
