from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Who is told what: the in-app inbox and the e-mails sent for it."""

    name = "notifications"
    verbose_name = "Notifications"
