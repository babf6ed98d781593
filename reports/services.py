"""Writes for recurrence reports: ask for one (its job generates it once, see
`reports.generation`)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .analysis import ReportParams
from .generation import FullVisibility, params_from_json, report_generate
from .models import Report
from .tasks import enqueue_report

__all__ = ["FullVisibility", "params_from_json", "report_generate", "report_request"]


def report_request(*, by: AbstractBaseUser, params: ReportParams) -> Report:
    """Record the request and queue its generation once the row is committed."""
    with transaction.atomic():
        report = Report.objects.create(created_by=by, params=params.to_json())
        transaction.on_commit(lambda: enqueue_report(report.pk))
    return report
