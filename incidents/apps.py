from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Reviews of incidents, their structure, and the analyses the background jobs derive."""

    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)
