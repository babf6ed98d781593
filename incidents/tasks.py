"""Background jobs. Each task is thin: it loads by id and calls a plain function.

Every task has a stable explicit name (queued messages outlive deploys), acknowledges late
(a worker killed mid-task leaves the message to be redelivered), has time limits, and
retries transient failures with exponential backoff, jitter and a cap.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.result import EagerResult
from django.conf import settings
from django.db import DatabaseError, InterfaceError, transaction
from django.utils import timezone

from .analysis.recurrence import analyse_incident, recompute_all
from .models import Incident
from .selectors import warm_reader_views

logger = logging.getLogger(__name__)

# Shared by every task: what "transient" means, and how patiently to retry it.
RETRY_POLICY = {
    "autoretry_for": (DatabaseError, InterfaceError, ConnectionError, TimeoutError),
    "retry_backoff": 2,  # 2 s, 4 s, 8 s …
    "retry_backoff_max": 300,  # never wait more than five minutes between tries
    "retry_jitter": True,  # spread retries so a recovering database is not stampeded
    "max_retries": 6,  # then give up; the sweep will pick the incident up again
    "acks_late": True,
    "reject_on_worker_lost": True,
}


@shared_task(name="incidents.analyse_incident", soft_time_limit=60, time_limit=90, **RETRY_POLICY)
def analyse_incident_task(incident_id: int) -> dict:
    """Analyse one saved incident: recurrence memberships (and, later, suggestions)."""
    result = analyse_incident(incident_id=incident_id)
    _flag_duplicates(incident_id)
    return {"incident_id": result.incident_id, "structures": list(result.structures)}


def _flag_duplicates(incident_id: int) -> None:
    """Look for possible duplicates of the analysed incident. Advice only: a failure here is
    logged and never fails (or retries) the analysis, which is already committed."""
    try:
        from duplicates.detection import flag_duplicates

        # A savepoint: a database error here must not spoil an enclosing transaction.
        with transaction.atomic():
            incident = Incident.objects.filter(pk=incident_id).first()
            if incident is not None:
                flag_duplicates(incident)
    except Exception:
        logger.warning("could not flag duplicates of incident %s", incident_id, exc_info=True)


@shared_task(
    name="incidents.sweep_stale_analyses", soft_time_limit=240, time_limit=280, **RETRY_POLICY
)
def sweep_stale_analyses_task() -> int:
    """Queue analysis for incidents whose analysis was lost (broker down, worker died)."""
    return sweep_stale_analyses()


@shared_task(name="incidents.recompute_all", soft_time_limit=3300, time_limit=3600, **RETRY_POLICY)
def recompute_all_task() -> int:
    """Rebuild every pattern score and recurring structure (nightly, and after catalogue
    changes). Interrupted runs are redelivered (acks_late) and converge on rerun."""
    count = recompute_all()
    # Every structure has a new version now: judge them once for readers in no group.
    warm_reader_views()
    return count


def sweep_stale_analyses(*, grace_seconds: int | None = None, limit: int = 1000) -> int:
    """Find incidents saved more than `grace_seconds` ago and still not analysed; queue them.

    The grace period keeps the sweep from duplicating jobs that are merely still in the queue;
    a duplicate would be harmless (the analysis is idempotent), only wasted work.
    """
    grace = settings.SEAMS_ANALYSIS_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = timezone.now() - timezone.timedelta(seconds=grace)
    ids = list(
        Incident.objects.needing_analysis()
        .filter(analysis_requested_at__lte=cutoff)
        .order_by("analysis_requested_at")
        .values_list("pk", flat=True)[:limit]
    )
    queued = sum(enqueue_analysis(pk) for pk in ids)
    if ids:
        logger.info("sweep: %d incidents needed analysis, %d queued", len(ids), queued)
    return queued


def enqueue_analysis(incident_id: int) -> bool:
    """Queue the analysis of one incident; never raise.

    Called after commit: the review is already safe. If the broker cannot take the job, the
    incident stays marked as needing analysis and the sweep queues it later.
    """
    try:
        result = analyse_incident_task.apply_async(args=[incident_id])
    except Exception:  # the broker's failure modes are many; none may lose or refuse a save
        logger.warning(
            "could not queue analysis of incident %s; the sweep will catch it up",
            incident_id,
            exc_info=True,
        )
        return False
    if isinstance(result, EagerResult) and result.failed():
        # Only in the embedded mode, where the job ran in-process: it is still marked as
        # needing analysis, so the next sweep retries it.
        logger.warning("analysis of incident %s failed: %r", incident_id, result.result)
        return False
    return True
