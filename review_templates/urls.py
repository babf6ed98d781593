"""Web pages of the review_templates app."""

from django.urls import path  # noqa: F401

app_name = "review_templates"

urlpatterns: list = []
