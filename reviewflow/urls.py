"""Web pages of the reviewflow app."""

from django.urls import path

from . import views

app_name = "reviewflow"

urlpatterns = [
    path("incidents/<int:pk>/approve/", views.approve, name="approve"),
    path("incidents/<int:pk>/request-changes/", views.request_changes, name="request_changes"),
    path("incidents/<int:pk>/threads/", views.thread_start, name="thread_start"),
    path(
        "incidents/<int:pk>/threads/<int:thread_pk>/reply/",
        views.thread_reply,
        name="thread_reply",
    ),
    path(
        "incidents/<int:pk>/threads/<int:thread_pk>/resolve/",
        views.thread_resolve,
        name="thread_resolve",
    ),
    path(
        "incidents/<int:pk>/threads/<int:thread_pk>/reopen/",
        views.thread_reopen,
        name="thread_reopen",
    ),
]
