from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Reviews of incidents, their structure, and the analyses the background jobs derive."""

    name = "incidents"
    verbose_name = "Incidents"
