"""A named reviewer's decision on a review: approve it, or ask for changes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ReviewDecision(models.Model):
    """One decision by one named reviewer on one version of a review.

    Decisions are never edited: a reviewer's later decision supersedes their earlier one
    (the latest row per reviewer counts), so the history of a review round stays readable.
    `version` is the review's version the reviewer decided on; an approval of an older
    version than the current one is stale (see `reviewflow.gate`)."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="review_decisions"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_decisions"
    )
    decision = models.CharField(max_length=20, choices=Decision.choices)
    # Markdown; required when asking for changes (the author must know what to change).
    note = models.TextField(blank=True)
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["incident", "reviewer", "-id"], name="decision_latest_idx")]

    def __str__(self) -> str:
        who = f"{self.reviewer_id} on {self.incident_id} v{self.version}"
        return f"{self.get_decision_display()} by {who}"
