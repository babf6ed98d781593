from django.urls import path

from . import views, views_catalogue, views_recurrences, views_review

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("incidents/new/", views.incident_create_view, name="create"),
    path("recurrences/", views_recurrences.recurrences, name="recurrences"),
    path("recurrences/<int:pk>/", views_recurrences.structure, name="structure"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/edit/", views.incident_edit_view, name="edit"),
    path("incidents/<int:pk>/history/", views_review.history, name="history"),
    path("incidents/<int:pk>/diff/", views_review.diff, name="diff"),
    path("incidents/<int:pk>/restore/<int:version>/", views_review.restore, name="restore"),
    path("incidents/<int:pk>/request-review/", views_review.request_review, name="request_review"),
    path("incidents/<int:pk>/publish/", views_review.publish, name="publish"),
    path("incidents/<int:pk>/comments/", views_review.comment, name="comment"),
    path("incidents/<int:pk>/suggestions/", views_review.decide_suggestion, name="decide"),
    path("write/preview/", views_review.preview, name="preview"),
    path("write/assist/", views_review.assist, name="assist"),
    path("patterns/<slug:slug>/", views_catalogue.pattern_detail, name="pattern"),
    path("shapes/<slug:slug>/", views_catalogue.shape_detail, name="shape"),
]
