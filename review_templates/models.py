"""A review template: what an organisation asks every review of a kind to contain."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
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

    def get_absolute_url(self) -> str:
        return reverse("review_templates:edit", args=[self.pk])

    def clean(self) -> None:
        """Refuse section names and timeline kinds Seams does not know (see `sections`)."""
        from .sections import check_template

        check_template(
            required_sections=self.required_sections,
            timeline_kinds=self.timeline_kinds,
            prompts=self.prompts,
        )

    def required_labels(self) -> list[str]:
        """The required sections in people's words, in the order the review reads."""
        from .sections import labels

        return labels(self.required_sections)
