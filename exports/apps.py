from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """One review handed to someone outside Seams: Markdown and PDF."""

    name = "exports"
    verbose_name = "Exports"
