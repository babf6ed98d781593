from django.urls import path

from . import views

app_name = "duplicates"

urlpatterns = [
    path("duplicates/<int:pk>/merge/", views.merge, name="merge"),
    path("duplicates/<int:pk>/dismiss/", views.dismiss, name="dismiss"),
]
