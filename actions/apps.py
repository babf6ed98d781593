from django.apps import AppConfig


class ActionsConfig(AppConfig):
    """Action items as work people own: my items, overdue items, reminders."""

    name = "actions"
    verbose_name = "Action items"
