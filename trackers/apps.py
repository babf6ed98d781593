from django.apps import AppConfig


class TrackersConfig(AppConfig):
    """Action items linked to issues in GitHub, Jira or Linear, whose status flows back."""

    name = "trackers"
    verbose_name = "Issue trackers"
