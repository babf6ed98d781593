"""Report pages: ask for a report, watch it being made, read it with charts, export it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from reports.models import Report

from .analysis.reports import ReportParams, page_view, to_markdown, to_zip
from .forms import date_widget
from .links import incident_path_prefix
from .models import Incident
from .permissions import visible_components
from .reporting import report_request


class ReportForm(forms.Form):
    """The window and filters of a report, for people (the API has its own serializer)."""

    since = forms.DateField(widget=date_widget())
    until = forms.DateField(widget=date_widget(), help_text="Exclusive.")
    severity = forms.ChoiceField(choices=[("", "Any"), *Incident.Severity.choices], required=False)
    shape = forms.SlugField(required=False, help_text="Shape slug, e.g. cascade.")
    pattern = forms.SlugField(required=False, help_text="Pattern slug.")
    component = forms.SlugField(
        required=False, help_text="Component slug; incidents in what depends on it count too."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_component(self) -> str:
        slug = self.cleaned_data["component"]
        # Only components a review the user may see uses: one that only restricted reviews
        # use answers like an unknown one, so the form cannot tell an outsider it exists.
        if slug and not visible_components(self.user).filter(slug=slug).exists():
            raise forms.ValidationError(
                f"No component with the slug “{slug}” appears in the reviews you can see."
            )
        return slug

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            raise forms.ValidationError("The end of the window must be after its start.")
        return data

    def params(self) -> ReportParams:
        d = self.cleaned_data

        def at_midnight(day) -> datetime:
            return datetime.combine(day, time.min, tzinfo=UTC)

        return ReportParams(
            since=at_midnight(d["since"]),
            until=at_midnight(d["until"]),
            severity=d.get("severity") or None,
            shape=d.get("shape") or None,
            pattern=d.get("pattern") or None,
            component=d.get("component") or None,
        )


@login_required
def reports(request: HttpRequest) -> HttpResponse:
    """Earlier reports (who made them, for which window), and a form for a new one."""
    today = timezone.now().date()
    form = ReportForm(
        request.POST or None,
        user=request.user,
        initial={"since": today - timedelta(days=91), "until": today},
    )
    if request.method == "POST" and form.is_valid():
        report = report_request(by=request.user, params=form.params())
        messages.success(request, "The report is being generated.")
        return redirect(report)
    listed = (
        Report.objects.visible_to(request.user)
        .select_related("created_by")
        .defer("snapshot")
        .order_by("-created_at")[:100]
    )
    return render(request, "incidents/reports.html", {"form": form, "reports": listed})


@login_required
def report_detail(request: HttpRequest, pk) -> HttpResponse:
    """One report: progress while it is made, then the snapshot with charts."""
    report = get_object_or_404(
        Report.objects.visible_to(request.user).select_related("created_by").defer("snapshot"),
        pk=pk,
    )
    page = report.page
    if page is None and report.status == Report.Status.DONE:
        page = page_view(report.snapshot)  # a report stored before pages were kept
    if page:
        _link_incidents(page)
    return render(
        request,
        "incidents/report.html",
        {"report": report, "snapshot": page, "chart_data": _chart_data(page)},
    )


def _link_incidents(page: dict) -> None:
    """Give every listed incident its page's path (one `reverse` for all of them)."""
    prefix = incident_path_prefix("incidents:detail")
    for row in page["incidents"]:
        row["path"] = f"{prefix}{row['id']}/"
    for structure in page["structures"]:
        for row in structure["incidents"]:
            row["path"] = f"{prefix}{row['id']}/"


def _chart_data(snapshot: dict | None) -> dict | None:
    """Only what the charts draw, so the page does not embed the whole snapshot twice."""
    if not snapshot:
        return None
    return {
        "shape_mix": snapshot["shape_mix"],
        "perrow_cells": snapshot["perrow_cells"],
        "remediation": snapshot["remediation"]["by_level"],
        "structures": [
            {"label": " + ".join(s["patterns"]), "hours": s["incident_hours_in_window"]}
            for s in snapshot["structures"][:10]
        ],
    }


@login_required
def report_export(request: HttpRequest, pk, fmt: str) -> HttpResponse:
    """The snapshot as Markdown, JSON, or a zip of one CSV per table."""
    report = get_object_or_404(Report.objects.visible_to(request.user).defer("snapshot"), pk=pk)
    if report.status != Report.Status.DONE:
        messages.error(request, "This report is not ready yet.")
        return redirect(report)
    name = f"seams-report-{report.params['since'][:10]}-{report.params['until'][:10]}"
    if fmt == "md":
        response = HttpResponse(to_markdown(report.snapshot), content_type="text/markdown")
    elif fmt == "json":
        # The stored JSON as the database holds it: decoding and re-encoding megabytes of
        # snapshot in Python was most of this export's time.
        body = Report.objects.filter(pk=report.pk).values_list(
            Cast("snapshot", TextField()), flat=True
        )[0]
        response = HttpResponse(body, content_type="application/json")
    elif fmt == "zip":
        response = HttpResponse(to_zip(report.snapshot), content_type="application/zip")
    else:
        raise Http404("Exports are md, json or zip.")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
