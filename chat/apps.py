from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Chat integrations: Slack's slash command, message shortcut and link unfurls."""

    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        # Embedded mode: a chat answer's job waits until the acknowledgement has been sent.
        from common import after_response

        after_response.connect()
