"""Report jobs: generate one report, and queue again those whose job was lost."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from incidents.tasks import RETRY_POLICY

from .generation import report_generate
from .models import Report

logger = logging.getLogger(__name__)


# The name predates the reports app: queued messages outlive deploys, so it stays.
@shared_task(name="incidents.generate_report", soft_time_limit=300, time_limit=360, **RETRY_POLICY)
def generate_report_task(report_id: str) -> str:
    """Generate one recurrence report's snapshot (idempotent: a done report is left alone)."""
    report = report_generate(report_id=report_id)
    return report.status if report else "missing"


def enqueue_report(report_id) -> bool:
    """Queue a report's generation; if the broker is down, the sweep queues it later."""
    try:
        generate_report_task.apply_async(args=[str(report_id)])
    except Exception:
        logger.warning("could not queue report %s; the sweep will", report_id, exc_info=True)
        return False
    return True


def sweep_stale_reports(*, grace_seconds: int | None = None, limit: int = 1000) -> int:
    """Queue again the reports whose job was lost (broker down when asked, worker died
    mid-run): pending or running for longer than the grace period. Generation is
    idempotent, so a report still in the queue and queued again is only wasted work."""
    grace = settings.SEAMS_ANALYSIS_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = timezone.now() - timezone.timedelta(seconds=grace)
    ids = list(
        Report.objects.filter(
            status__in=[Report.Status.PENDING, Report.Status.RUNNING], created_at__lte=cutoff
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    queued = sum(enqueue_report(pk) for pk in ids)
    if ids:
        logger.info("sweep: %d reports were waiting, %d queued", len(ids), queued)
    return queued


@shared_task(
    name="reports.sweep_stale_reports", soft_time_limit=240, time_limit=280, **RETRY_POLICY
)
def sweep_stale_reports_task() -> int:
    """Queue the reports whose generation was lost."""
    return sweep_stale_reports()
