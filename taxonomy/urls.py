from django.urls import path

from . import views

app_name = "taxonomy"

urlpatterns = [
    path("patterns/", views.pattern_list, name="patterns"),
    path("leverage/", views.leverage_levels, name="leverage"),
    path("perrow/", views.perrow, name="perrow"),
]
