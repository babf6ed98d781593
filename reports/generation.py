"""Generating a recurrence report: build its snapshot once, under its requester's visibility,
and keep it unchanged. Run by the job in `reports.tasks`."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .analysis import ReportParams, build_snapshot, page_view, scope_group_ids
from .models import Report

logger = logging.getLogger(__name__)


class FullVisibility:
    """The viewer for reports made from the command line by an operator (and for a stored
    report whose requester was deleted): sees everything. The stored report's scope groups
    then name every restricted group that contributed, so it opens only for their members."""

    is_authenticated = True
    is_superuser = True
    pk = None


def params_from_json(data: dict[str, Any]) -> ReportParams:
    """The stored parameters of a report, as ReportParams."""

    def when(value: str | None) -> datetime | None:
        if value is None:
            return None  # all time
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"not a date-time: {value!r}")
        return parsed

    return ReportParams(
        since=when(data.get("since")),
        until=when(data.get("until")),
        component=data.get("component"),
        include_dependents=data.get("include_dependents", True),
        severity=data.get("severity"),
        shape=data.get("shape"),
        pattern=data.get("pattern"),
    )


def report_generate(*, report_id) -> Report | None:
    """Build and store the snapshot, once. Running it again after success changes nothing;
    after a crash it starts over (nothing partial was stored)."""
    claimed = (
        Report.objects.filter(pk=report_id)
        .exclude(status=Report.Status.DONE)
        .update(status=Report.Status.RUNNING)
    )
    report = Report.objects.filter(pk=report_id).select_related("created_by").first()
    if not claimed or report is None:
        return report  # already done (a redelivered job), or deleted
    viewer = report.created_by or FullVisibility()
    try:
        params = params_from_json(report.params)
        snapshot = build_snapshot(params=params, viewer=viewer)
        groups = Group.objects.filter(pk__in=scope_group_ids(params=params, viewer=viewer))
    except DatabaseError:
        Report.objects.filter(pk=report_id).update(status=Report.Status.PENDING)
        raise  # transient: the task retries with backoff
    except Exception as exc:  # a bug or bad parameters: say so on the report, do not retry
        logger.exception("report %s failed", report_id)
        Report.objects.filter(pk=report_id).update(
            status=Report.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        return Report.objects.get(pk=report_id)
    with transaction.atomic():
        done = (
            Report.objects.filter(pk=report_id)
            .exclude(status=Report.Status.DONE)
            .update(
                status=Report.Status.DONE,
                snapshot=snapshot,
                page=page_view(snapshot),
                catalogue_version=snapshot["catalogue_version"],
                finished_at=timezone.now(),
                error="",
            )
        )
        if done:
            report.scope_groups.set(groups)
    return Report.objects.get(pk=report_id)
