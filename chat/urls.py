"""The URLs chat platforms call (not the Seams API: each speaks its platform's protocol)."""

from django.urls import path

from .slack import views

app_name = "chat"

urlpatterns = [
    path("integrations/slack/commands/", views.slash_command, name="slack-commands"),
    path("integrations/slack/events/", views.events, name="slack-events"),
    path("integrations/slack/interactivity/", views.interactivity, name="slack-interactivity"),
]
