from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TaxonomyConfig(AppConfig):
    """The curated vocabulary: emergent shapes, structural patterns, leverage levels."""

    name = "taxonomy"
    verbose_name = "Taxonomy"

    def ready(self) -> None:
        from .catalogue import add_missing_after_migrate

        # Every `migrate` (and every test-database flush) adds shipped entries that are
        # missing, never touching existing ones, so an upgrade cannot clobber a local edit.
        post_migrate.connect(add_missing_after_migrate, sender=self)
