"""What the timeline import remembers: which chat messages a review already holds."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from incidents.models import Incident


class ImportedMessage(models.Model):
    """One chat message imported into a review's timeline, so a second import of the same
    export (or the same pasted transcript) adds nothing twice.

    It names the message by its source id (a Slack message's `ts` and author, or a digest of
    a transcript line), not by the timeline event it became: every save of a review rewrites
    its timeline rows (`incidents.services`), so an event's id does not last, while the fact
    that the message was imported does — also after the author edited or removed the event.
    """

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="imported_chat_messages"
    )
    source_id = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "source_id"], name="timeline_import_once_per_review"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_id} → review {self.incident_id}"
