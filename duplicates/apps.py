from django.apps import AppConfig


class DuplicatesConfig(AppConfig):
    """Possible duplicate incidents (the same outage imported or written up twice), and a
    reviewer's decision on each: merge (both sources kept) or dismiss."""

    name = "duplicates"
    verbose_name = "Possible duplicates"
