"""Web pages of the exports app."""

from django.urls import path

from . import views

app_name = "exports"

urlpatterns = [
    path("incidents/<int:pk>/export.md", views.export_markdown, name="markdown"),
    path("incidents/<int:pk>/export.pdf", views.export_pdf, name="pdf"),
]
