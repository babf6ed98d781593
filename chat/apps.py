from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Chat integrations: Slack's slash command, message shortcut and link unfurls."""

    name = "chat"
    verbose_name = "Chat"
