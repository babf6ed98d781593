"""Web pages of the timeline import."""

from django.urls import path

from . import views

app_name = "timeline_import"

urlpatterns = [
    path("incidents/<int:pk>/timeline/import/", views.upload, name="upload"),
    path("incidents/<int:pk>/timeline/import/confirm/", views.confirm, name="confirm"),
]
