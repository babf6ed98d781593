"""E-mailing notifications: a job per notification, sent at most once."""

from __future__ import annotations

import logging

from celery import shared_task

from incidents.tasks import RETRY_POLICY

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
