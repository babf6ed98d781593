"""Background jobs of the trackers app: make a link, close or reopen a linked issue, poll
the trackers, sweep lost jobs.

Every job is named, acknowledged late, time-limited and idempotent. A tracker that fails
for a while (network, 5xx, rate limits) is retried with exponential backoff and full jitter
up to a cap; after the last try, or at once for an error no retry helps (a wrong token, an
unknown project), the link is marked failed with the tracker's reason, for the item's page
and the API to show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.result import EagerResult
from django.conf import settings
from django.db import DatabaseError, InterfaceError

from common.retry import full_jitter

from . import services
from .clients import TrackerError
from .models import TrackerConnection

logger = logging.getLogger(__name__)

MAX_RETRIES = 6
BACKOFF_BASE = 2  # seconds: the first retry waits up to 2 s, then 4, 8 …
BACKOFF_CAP = 300  # … never more than five minutes
# The job's lease on a link (services.CLAIM_FOR) outlasts its hard time limit.
LIMITS = {"soft_time_limit": 60, "time_limit": 90}
COMMON = {"acks_late": True, "reject_on_worker_lost": True, "max_retries": MAX_RETRIES}


def backoff(retries: int) -> float:
    """Seconds before retry number `retries + 1`: exponential, capped, with full jitter
    (anywhere from 0 to the cap of this round), so that many jobs failing together against
    one tracker do not come back together."""
    return full_jitter(retries, base=BACKOFF_BASE, cap=BACKOFF_CAP)


# What `_attempt` returns when the job's last try failed and the failure was recorded.
FAILED = object()


def _attempt(task, link_id: int, work: Callable[[int], Any], failed: Callable[[int, str], None]):
    """One try of a job about one link: `work(link_id)`'s result; on a tracker error the link
    is let go, and the job retried (a transient error, tries left) or the failure recorded
    (`failed`) and FAILED returned; on a database error, retried."""
    try:
        return work(link_id)
    except TrackerError as error:
        services.release(link_id)
        if error.transient and task.request.retries < task.max_retries:
            raise task.retry(exc=error, countdown=backoff(task.request.retries)) from error
        failed(link_id, str(error))
        return FAILED
    except (DatabaseError, InterfaceError) as error:
        services.release(link_id)
        raise task.retry(exc=error, countdown=backoff(task.request.retries)) from error


@shared_task(bind=True, name="trackers.push_issue", **LIMITS, **COMMON)
def push_issue_task(self, link_id: int) -> str:
    """Create the issue of one link (or read the linked one); see `services.push_issue`."""
    link = _attempt(self, link_id, services.push_issue, services.push_failed)
    if link is FAILED:
        return "failed"
    return "skipped" if link is None else "linked"


def _enqueue(task, link_id: int, what: str) -> bool:
    """Queue a job about one link (called after commit); never raise. If the broker cannot
    take it, the link keeps saying what it waits for, and the sweep queues it later."""
    try:
        result = task.apply_async(args=[link_id])
    except Exception:  # the broker's failure modes are many; none may fail the request
        logger.warning("could not queue tracker %s %s; the sweep will", what, link_id,
                       exc_info=True)  # fmt: skip
        return False
    return not (isinstance(result, EagerResult) and result.failed())


def enqueue_push(link_id: int) -> bool:
    """Queue the job of one link: making it (see `_enqueue`)."""
    return _enqueue(push_issue_task, link_id, "link")


@shared_task(bind=True, name="trackers.push_status", **LIMITS, **COMMON)
def push_status_task(self, link_id: int) -> str:
    """Close or reopen one linked issue as its item is in Seams; see
    `services.push_status`."""
    pushed = _attempt(self, link_id, services.push_status, services.push_status_failed)
    if pushed is FAILED:
        return "failed"
    if pushed.again:
        enqueue_status_push(link_id)  # changed again while this one was being sent
    return pushed.sent or "unchanged"


def enqueue_status_push(link_id: int) -> bool:
    """Queue sending one item's status to its issue (see `_enqueue`)."""
    return _enqueue(push_status_task, link_id, "status")


@shared_task(bind=True, name="trackers.poll_connection", **LIMITS, **COMMON)
def poll_connection_task(self, connection_id: int) -> dict:
    """Poll one connection's linked issues; see `services.poll_connection`."""
    try:
        polled = services.poll_connection(connection_id)
    except TrackerConnection.DoesNotExist:
        return {"connection": connection_id, "gone": True}
    except TrackerError as error:
        if error.transient and self.request.retries < self.max_retries:
            raise self.retry(exc=error, countdown=backoff(self.request.retries)) from error
        # The next scheduled poll tries again; nothing is lost by waiting for it.
        logger.error("polling tracker connection %s failed: %s", connection_id, error)
        return {"connection": connection_id, "error": str(error)}
    except (DatabaseError, InterfaceError) as error:
        raise self.retry(exc=error, countdown=backoff(self.request.retries)) from error
    return {"connection": connection_id, **polled.__dict__}


@shared_task(name="trackers.poll", soft_time_limit=60, time_limit=90, acks_late=True)
def poll_task() -> int:
    """Queue a poll of every enabled connection (the beat's job)."""
    ids = list(TrackerConnection.objects.filter(enabled=True).values_list("pk", flat=True))
    for pk in ids:
        try:
            poll_connection_task.apply_async(
                args=[pk], expires=settings.SEAMS_TRACKER_POLL_INTERVAL
            )
        except Exception:
            logger.warning("could not queue the poll of connection %s", pk, exc_info=True)
    return len(ids)


@shared_task(name="trackers.sweep", soft_time_limit=120, time_limit=150, acks_late=True)
def sweep_task() -> int:
    """Queue again the links whose job was lost (see `sweep`)."""
    return sweep()


def sweep(*, grace_seconds: int | None = None) -> int:
    """Queue the job of every link asked for longer than the grace period ago and still not
    made, and of every item status change waiting that long to be sent. A job that was only
    slow holds its link (`claimed_until`), so it is not doubled; one that runs twice finds
    the issue by its marker, or the issue already as the item is. Returns how many were
    queued."""
    if grace_seconds is None:
        grace_seconds = settings.SEAMS_TRACKER_GRACE_SECONDS
    grace = timedelta(seconds=grace_seconds)
    links = sum(enqueue_push(pk) for pk in services.stale_links(grace=grace))
    return links + sum(enqueue_status_push(pk) for pk in services.stale_pushes(grace=grace))
