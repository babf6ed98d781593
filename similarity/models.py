"""What the similarity index stores per review, and the boilerplate it learned to ignore."""

from __future__ import annotations

from django.db import models

from incidents.models import Incident


class IndexedDocument(models.Model):
    """One review as the similarity index reads it.

    The text is what retrieval ranks: the title, the whole review (boilerplate sentences
    removed), and a *cause view* — the contributing factors and the sentences that say why —
    ranked separately and fused at a lower weight. The database's own full-text index sits
    beside this table (an FTS5 table on SQLite, a weighted tsvector column on PostgreSQL;
    migration 0002), so every search reads the same text.
    """

    incident = models.OneToOneField(
        Incident, primary_key=True, on_delete=models.CASCADE, related_name="indexed_document"
    )
    # Copied from the incident so ranking and scoping read one table.
    organisation = models.CharField(max_length=200, blank=True, db_index=True)
    title = models.TextField()
    body = models.TextField(blank=True)
    cause = models.TextField(blank=True)
    length = models.PositiveIntegerField(default=0, help_text="Words in title and body.")
    # Mechanisms the text names ({slug: [phrases]}), for explanations and structure.
    mechanisms = models.JSONField(default=dict, blank=True)
    indexed_version = models.PositiveIntegerField(default=0)
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "indexed review"

    def __str__(self) -> str:
        return self.title


class RecurringShingle(models.Model):
    """A run of five words that recurs across many reviews: template text, not content.

    Learned from the archive (`similarity.boilerplate.learn`), never from a list of names:
    status-page write-ups repeat their opening and closing paragraphs in every report, and
    those words say nothing about the mechanism.
    """

    hash = models.BigIntegerField(primary_key=True)
    documents = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.hash} ({self.documents} reviews)"
