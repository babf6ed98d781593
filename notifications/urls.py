"""Web pages of the notifications app."""

from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read-all/", views.mark_all_read, name="mark_all_read"),
    path("inbox/<int:pk>/read/", views.mark_read, name="mark_read"),
]
