"""Background jobs of the actions app: the reminder sweep, run by the beat schedule."""

from __future__ import annotations

from celery import shared_task

from incidents.tasks import RETRY_POLICY


@shared_task(name="actions.send_reminders", soft_time_limit=600, time_limit=660, **RETRY_POLICY)
def send_reminders_task() -> dict:
    """Send the action-item reminders that are due (idempotent: rerunning tells nobody
    twice)."""
    from .reminders import send_reminders

    sent = send_reminders()
    return {"due_soon": sent.due_soon, "overdue": sent.overdue}
