"""Web pages of the actions app."""

from django.urls import path

from . import views

app_name = "actions"

urlpatterns = [
    path("action-items/", views.my_items, name="mine"),
    path("action-items/overdue/", views.overdue, name="overdue"),
    path("action-items/<int:pk>/close/", views.close, name="close"),
]
