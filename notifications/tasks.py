"""E-mailing notifications: a job per notification, sent at most once."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from incidents.tasks import RETRY_POLICY

from .models import Notification

logger = logging.getLogger(__name__)


@shared_task(
    name="notifications.email_notification", soft_time_limit=30, time_limit=45, **RETRY_POLICY
)
def email_notification_task(notification_id: int) -> bool:
    """E-mail one notification unless it was already e-mailed."""
    from .email import email_notification

    return email_notification(notification_id)


def enqueue_emails(ids: list[int]) -> None:
    """Queue the e-mails; if the broker is down, the sweep sends them later."""
    for pk in ids:
        try:
            email_notification_task.apply_async(args=[pk])
        except Exception:
            logger.warning("could not queue e-mail for notification %s", pk, exc_info=True)


@shared_task(
    name="notifications.sweep_unsent_emails", soft_time_limit=240, time_limit=280, **RETRY_POLICY
)
def sweep_unsent_emails_task() -> int:
    """Queue again the e-mails whose job was lost (see `sweep_unsent_emails`)."""
    return sweep_unsent_emails()


# Older than this, an unsent e-mail is news nobody needs any more (and a first sweep after a
# long outage must not flood inboxes with it).
GIVE_UP_AFTER = timedelta(days=3)


def sweep_unsent_emails(*, grace_seconds: int | None = None, limit: int = 1000) -> int:
    """Queue the e-mail of every notification not e-mailed within the grace period (its job
    was lost: the broker was down, or a worker died). Sending claims the row, so a job that
    was only slow sends once all the same. Returns how many were queued."""
    if grace_seconds is None:
        grace_seconds = settings.SEAMS_NOTIFICATION_EMAIL_GRACE_SECONDS
    now = timezone.now()
    ids = list(
        Notification.objects.filter(
            emailed_at__isnull=True,
            email_withheld_at__isnull=True,
            created_at__lt=now - timedelta(seconds=grace_seconds),
            created_at__gte=now - GIVE_UP_AFTER,
            recipient__is_active=True,
        )
        .exclude(recipient__email="")
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    enqueue_emails(ids)
    return len(ids)
