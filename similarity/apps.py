from django.apps import AppConfig


class SimilarityConfig(AppConfig):
    """ "Have we seen this before?": the text index over whole reviews, ranked retrieval with
    structure and explanations on top, and the confidence of each answer."""

    name = "similarity"
    verbose_name = "Similar incidents"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the analysis signals)
