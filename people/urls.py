"""Web pages of the people app."""

from django.urls import path  # noqa: F401

app_name = "people"

urlpatterns: list = []
