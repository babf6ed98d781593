"""Web pages of the people app."""

from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("people/", views.people_list, name="list"),
    path("people/<int:pk>/", views.person_detail, name="detail"),
    path("people/<int:pk>/role/", views.change_role, name="role"),
    path("people/<int:pk>/deactivate/", views.set_active, {"active": False}, name="deactivate"),
    path("people/<int:pk>/reactivate/", views.set_active, {"active": True}, name="reactivate"),
    path("people/teams/", views.team_list, name="teams"),
    path("people/teams/<int:pk>/", views.team_detail, name="team"),
    path("people/teams/<int:pk>/remove/<int:user_pk>/", views.team_remove, name="team_remove"),
    path("people/invite/", views.invite, name="invite"),
    path("invite/<str:token>/", views.accept_invitation, name="accept"),
    path("sso/start/", views.sso_start, name="sso_start"),
    path("sso/callback/", views.sso_callback, name="sso_callback"),
]
