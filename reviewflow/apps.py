from django.apps import AppConfig


class ReviewflowConfig(AppConfig):
    """Review as a gate: named reviewers approve or request changes; threaded comments."""

    name = "reviewflow"
    verbose_name = "Review workflow"
