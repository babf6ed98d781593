"""A recurrence report: the parameters asked for and, once generated, an immutable snapshot."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db import models
from django.urls import reverse
from django.utils import timezone


class ReportQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ReportQuerySet:
        """Reports whose listed restricted incidents all belong to groups the user is in."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.exclude(scope_groups__in=Group.objects.exclude(user=user))


class Report(models.Model):
    """A recurrence report: the parameters asked for, and — once the job has run — an
    immutable snapshot of what the data said then, under the asker's visibility."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Being generated"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="reports"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    params = models.JSONField()
    # What the snapshot may show: restricted groups whose incidents it lists by name. A
    # viewer outside any of them cannot open it.
    scope_groups = models.ManyToManyField(Group, blank=True, related_name="+")
    catalogue_version = models.CharField(max_length=64, blank=True)
    snapshot = models.JSONField(null=True, blank=True)
    # The snapshot trimmed for the web page (see reports.analysis.page_view), written with
    # it: the page then never loads a multi-megabyte snapshot.
    page = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        # The table was created when reports were part of `incidents`; it keeps its name.
        db_table = "incidents_report"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Report {self.params.get('since')}–{self.params.get('until')}"

    def save(self, *args, **kwargs) -> None:
        # A finished snapshot is a record of what the data said then: never rewrite it.
        if not self._state.adding and Report.objects.filter(pk=self.pk, status="done").exists():
            raise ValueError("A finished report is immutable; generate a new one.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("reports:detail", args=[self.pk])
