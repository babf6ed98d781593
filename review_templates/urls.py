"""Web pages of the review_templates app."""

from django.urls import path

from . import views

app_name = "review_templates"

urlpatterns = [
    path("templates/", views.template_list, name="list"),
    path("templates/new/", views.template_create, name="create"),
    path("templates/<int:pk>/", views.template_edit, name="edit"),
    path("templates/<int:pk>/delete/", views.template_delete_view, name="delete"),
]
