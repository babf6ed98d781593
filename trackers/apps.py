from django.apps import AppConfig


class TrackersConfig(AppConfig):
    """Action items linked to issues in GitHub, Jira or Linear, whose status flows back (and,
    where a connection says so, out again)."""

    name = "trackers"
    verbose_name = "Issue trackers"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the receivers)
