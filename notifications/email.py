"""Sending one notification by e-mail, exactly once."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from incidents.permissions import can_view

from .models import Notification


def email_notification(notification_id: int) -> bool:
    """Send the notification's e-mail if it has not been sent; True when sent now.

    The row is claimed (`emailed_at` set) in the same transaction that sends, under a row
    lock, so two workers given the same job send one e-mail. A send that fails rolls the
    claim back and the job is retried."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update()
            .select_related("recipient", "incident")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if note is None or not note.recipient.email or not note.recipient.is_active:
            return False
        if note.incident_id is not None and not can_view(note.recipient, note.incident):
            # They left the review's group since they were told: the e-mail would name it.
            # Recorded, so the sweep stops queuing an e-mail that will never go.
            note.email_withheld_at = timezone.now()
            note.save(update_fields=["email_withheld_at"])
            return False
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
        link = f"{settings.SEAMS_BASE_URL.rstrip('/')}{note.url}" if note.url else ""
        body = f"{note.text}\n\n{link}\n".rstrip() + "\n"
        send_mail(
            subject=f"[Seams] {note.get_kind_display()}: {note.text[:80]}",
            message=body,
            from_email=None,
            recipient_list=[note.recipient.email],
        )
    return True
