from django.apps import AppConfig


class ReviewTemplatesConfig(AppConfig):
    """Review templates an organisation defines: required sections, timeline kinds, prompts."""

    name = "review_templates"
    verbose_name = "Review templates"
