"""Web pages of the reviewflow app."""

from django.urls import path  # noqa: F401

app_name = "reviewflow"

urlpatterns: list = []
