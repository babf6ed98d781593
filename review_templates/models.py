"""A review template: what an organisation asks every review of a kind to contain."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ReviewTemplate(models.Model):
    """What a review written from this template must contain before it goes to review
    (`required_sections`), the timeline rows it starts with (`timeline_kinds`), and the
    questions shown beside each section (`prompts`, section name to text)."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    required_sections = models.JSONField(default=list, blank=True)
    timeline_kinds = models.JSONField(default=list, blank=True)
    prompts = models.JSONField(default=dict, blank=True)
    # The template a new review starts from when the author picks none.
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_review_template",
            )
        ]

    def __str__(self) -> str:
        return self.name
