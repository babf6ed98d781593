"""What the trackers app does when a review is saved: notes the linked items closed or
reopened in Seams, whose issues a job then closes or reopens (`services.note_item_statuses`)."""

from __future__ import annotations

from django.dispatch import receiver

from incidents.services import review_written

from . import services


@receiver(review_written, dispatch_uid="trackers.note_item_statuses")
def note_item_statuses(sender, incident_id: int, **kwargs) -> None:
    """Inside the save's transaction: the waiting change commits with the save, or not at
    all."""
    services.note_item_statuses(incident_id)
