"""Report pages: the list and the form, one report, its exports, the incidents behind a figure."""

from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.reports, name="list"),
    path("reports/<uuid:pk>/", views.report_detail, name="detail"),
    path("reports/<uuid:pk>/export.<str:fmt>", views.report_export, name="export"),
    path("reports/<uuid:pk>/incidents/<str:figure>/", views.figure_incidents, name="figure"),
]
