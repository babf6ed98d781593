"""Possible duplicates: two reviews that may describe the same incident."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from incidents.models import Incident


class PossibleDuplicate(models.Model):
    """Two reviews Seams judged may describe the same incident, and what a reviewer decided.

    The pair is stored once, `first` being the review with the lower id. `similarity` (0–1)
    and `reasons` (short phrases such as "same organisation: Acme", "times overlap: …",
    "text similarity 0.91") say why it was flagged. A reviewer either merges the pair —
    `primary` is the review kept; the other one is *merged into* it and stays readable, so
    both sources are kept — or dismisses it, and a dismissed pair is never flagged again.
    Nothing in the reviews themselves changes: "merged into" is recorded here only.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MERGED = "merged", "Merged"
        DISMISSED = "dismissed", "Not a duplicate"

    first = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    similarity = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(1)])
    reasons = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The review kept when merged; the other one of the pair is merged into it.
    primary = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="unique_duplicate_pair"),
            models.CheckConstraint(
                condition=Q(first__lt=F("second")), name="duplicate_pair_ordered"
            ),
            models.CheckConstraint(
                condition=Q(primary__isnull=True) | Q(primary=F("first")) | Q(primary=F("second")),
                name="duplicate_primary_in_pair",
            ),
        ]
        indexes = [
            models.Index(fields=["second"], name="duplicate_second_idx"),
            models.Index(fields=["status", "-created_at"], name="duplicate_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.first_id} ~ {self.second_id} ({self.status})"

    def other(self, incident_id: int) -> int:
        """The id of the pair's other review."""
        return self.second_id if incident_id == self.first_id else self.first_id

    @property
    def merged_away_id(self) -> int | None:
        """The review merged into `primary` (None unless merged)."""
        if self.status != self.Status.MERGED or self.primary_id is None:
            return None
        return self.other(self.primary_id)
