"""Web routes of the trackers app: an action item's tracker form, and the webhooks in."""

from django.urls import path

from . import views

app_name = "trackers"

urlpatterns = [
    path("action-items/<int:pk>/tracker/", views.request_link, name="request"),
    path("trackers/<int:pk>/webhook/", views.webhook, name="webhook"),
]
