"""API v1 routes of the reviewflow app, included under /api/v1/ by config/api_urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("incidents/<int:pk>/review/", api.ReviewStateView.as_view(), name="incident-review"),
    path(
        "incidents/<int:pk>/request-review/",
        api.RequestReviewView.as_view(),
        name="incident-request-review",
    ),
    path("incidents/<int:pk>/approve/", api.ApproveView.as_view(), name="incident-approve"),
    path(
        "incidents/<int:pk>/request-changes/",
        api.RequestChangesView.as_view(),
        name="incident-request-changes",
    ),
    path("incidents/<int:pk>/publish/", api.PublishView.as_view(), name="incident-publish"),
    path("incidents/<int:pk>/threads/", api.ThreadListView.as_view(), name="incident-threads"),
    path(
        "incidents/<int:pk>/threads/<int:thread_pk>/replies/",
        api.ThreadReplyView.as_view(),
        name="thread-replies",
    ),
    path(
        "incidents/<int:pk>/threads/<int:thread_pk>/resolve/",
        api.ThreadResolveView.as_view(),
        name="thread-resolve",
    ),
    path(
        "incidents/<int:pk>/threads/<int:thread_pk>/reopen/",
        api.ThreadReopenView.as_view(),
        name="thread-reopen",
    ),
]
