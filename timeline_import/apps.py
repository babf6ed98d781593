from django.apps import AppConfig


class TimelineImportConfig(AppConfig):
    """A review's timeline built from the incident channel: a Slack export or a pasted chat."""

    name = "timeline_import"
    verbose_name = "Timeline import"
