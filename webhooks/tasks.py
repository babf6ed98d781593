"""Background jobs of the webhooks: send one delivery; sweep up due and lost deliveries;
announce overdue action items and catch up recurrences (both from the beat schedule)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from incidents.tasks import RETRY_POLICY

from .models import Delivery

logger = logging.getLogger(__name__)

# A retry due later than this is left to the sweep rather than held by the broker as a
# delayed job (Redis would hand a long-delayed job out again after its visibility timeout).
MAX_COUNTDOWN = 300


@shared_task(name="webhooks.deliver", soft_time_limit=30, time_limit=45, **RETRY_POLICY)
def deliver_task(delivery_id: int) -> str:
    """Send one delivery if it is due (idempotent: the delivery is claimed atomically, and
    one already sent or not yet due is left alone). HTTP failures are not Celery retries:
    the delivery records its next try, which this job's successor or the sweep makes."""
    from .delivery import deliver

    return deliver(delivery_id).result


def enqueue_deliveries(ids: list[int], *, countdown: float | None = None) -> None:
    """Queue the deliveries (called after commit); if the broker is down, or the delay is
    long, the sweep sends them when they are due."""
    if countdown is not None and countdown > MAX_COUNTDOWN:
        return
    for pk in ids:
        try:
            deliver_task.apply_async(args=[pk], countdown=countdown)
        except Exception:
            logger.warning("could not queue webhook delivery %s", pk, exc_info=True)


def due_deliveries(*, now: datetime | None = None, grace_seconds: int = 0, limit: int = 1000):
    """Ids of pending deliveries to active endpoints that are due (for longer than the grace
    period) and not held by a running job: those whose job was lost or never queued."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(
            state=Delivery.State.PENDING,
            endpoint__is_active=True,
            next_attempt_at__lte=now - timedelta(seconds=grace_seconds),
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@shared_task(name="webhooks.sweep_deliveries", soft_time_limit=240, time_limit=280, **RETRY_POLICY)
def sweep_deliveries_task() -> int:
    """Queue the deliveries that are due and not being sent (see `due_deliveries`)."""
    ids = due_deliveries(grace_seconds=settings.SEAMS_WEBHOOK_SWEEP_GRACE_SECONDS)
    enqueue_deliveries(ids)
    return len(ids)


@shared_task(
    name="webhooks.emit_periodic_events", soft_time_limit=600, time_limit=660, **RETRY_POLICY
)
def emit_periodic_events_task() -> dict:
    """Announce overdue action items (once per item and due date) and catch up recurrence
    events a full recompute or a lost signal did not emit. Idempotent: events are keyed."""
    from .events import emit_overdue_action_items, emit_recent_recurrences

    return {
        "overdue": emit_overdue_action_items(),
        "recurrences": emit_recent_recurrences(),
    }
