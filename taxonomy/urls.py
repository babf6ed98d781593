from django.urls import path

from . import views

app_name = "taxonomy"

urlpatterns = [
    path("patterns/", views.pattern_list, name="patterns"),
    path("patterns/<slug:slug>/", views.pattern_detail, name="pattern"),
    path("shapes/<slug:slug>/", views.shape_detail, name="shape"),
    path("leverage/", views.leverage_levels, name="leverage"),
    path("perrow/", views.perrow, name="perrow"),
]
