"""Report pages: ask for a report, watch it being made, read it with charts and tables,
follow any figure to the incidents behind it, export it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from incidents.forms import date_widget
from incidents.links import incident_path_prefix
from incidents.models import Component, Incident
from incidents.permissions import visible_components
from taxonomy.models import EmergentShape, StructuralPattern

from .analysis import (
    SEVERITY_LABELS,
    SNAPSHOT_SCHEMA_VERSION,
    ReportParams,
    page_view,
    to_markdown,
    to_zip,
    window_label,
)
from .models import Report
from .services import report_request


class ReportForm(forms.Form):
    """The window and filters of a report, for people (the API has its own serializer)."""

    all_time = forms.BooleanField(
        required=False,
        label="All time",
        help_text="Every dated incident, whatever the dates below say (nothing to compare with).",
    )
    since = forms.DateField(widget=date_widget(), required=False)
    until = forms.DateField(widget=date_widget(), required=False, help_text="Exclusive.")
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
        if data.get("all_time"):
            return data
        if not data.get("since") or not data.get("until"):
            raise forms.ValidationError("Give the start and the end of the window, or all time.")
        if data["until"] <= data["since"]:
            raise forms.ValidationError("The end of the window must be after its start.")
        return data

    def params(self) -> ReportParams:
        d = self.cleaned_data

        def at_midnight(day) -> datetime | None:
            return None if d.get("all_time") else datetime.combine(day, time.min, tzinfo=UTC)

        return ReportParams(
            since=at_midnight(d.get("since")),
            until=at_midnight(d.get("until")),
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
    listed = list(
        Report.objects.visible_to(request.user)
        .select_related("created_by")
        .defer("snapshot", "page")
        .order_by("-created_at")[:100]
    )
    describe = _describer([r.params for r in listed])
    rows = [
        {
            "report": r,
            "window": window_label(r.params.get("since"), r.params.get("until")),
            "filters": describe(r.params),
        }
        for r in listed
    ]
    return render(request, "reports/list.html", {"form": form, "rows": rows})


def _describer(params: list[dict[str, Any]]):
    """A function saying a report's filters in words, with the names looked up once for all
    the reports listed (slugs are codes, not what people read)."""
    shapes = dict(EmergentShape.objects.values_list("slug", "name"))
    patterns = dict(StructuralPattern.objects.values_list("slug", "name"))
    wanted = {p.get("component") for p in params} - {None, ""}
    components = dict(Component.objects.filter(slug__in=wanted).values_list("slug", "name"))

    def describe(p: dict[str, Any]) -> str:
        parts = []
        if p.get("severity"):
            parts.append(f"severity {SEVERITY_LABELS.get(p['severity'], p['severity'])}")
        if p.get("shape"):
            parts.append(f"shape {shapes.get(p['shape'], p['shape'])}")
        if p.get("pattern"):
            parts.append(f"pattern {patterns.get(p['pattern'], p['pattern'])}")
        if p.get("component"):
            parts.append(f"component {components.get(p['component'], p['component'])}")
        return "; ".join(parts)

    return describe


@login_required
def report_detail(request: HttpRequest, pk) -> HttpResponse:
    """One report: progress while it is made, then the snapshot with charts and tables."""
    report = get_object_or_404(
        Report.objects.visible_to(request.user).select_related("created_by").defer("snapshot"),
        pk=pk,
    )
    page = report.page
    if page is None and report.status == Report.Status.DONE:
        page = page_view(report.snapshot)  # a report stored before pages were kept
    outdated = bool(page) and page.get("schema_version", 1) < SNAPSHOT_SCHEMA_VERSION
    if page and not outdated:
        _link_incidents(page)
    return render(
        request,
        "reports/detail.html",
        {
            "report": report,
            "window": window_label(report.params.get("since"), report.params.get("until")),
            "outdated": outdated,
            "snapshot": None if outdated else page,
            "chart_data": None if outdated else _chart_data(page),
        },
    )


def _link_incidents(page: dict) -> None:
    """Give every listed incident its page's path (one `reverse` for all of them)."""
    prefix = incident_path_prefix("incidents:detail")
    for row in [*page["incidents"], *page.get("perrow_points", [])]:
        row["path"] = f"{prefix}{row['id']}/"
    for structure in page["structures"]:
        for row in structure["incidents"]:
            row["path"] = f"{prefix}{row['id']}/"


def _chart_data(snapshot: dict | None) -> dict | None:
    """Only what the charts draw, so the page does not embed the whole snapshot twice."""
    if not snapshot:
        return None
    return {
        "shape_mix": {
            "bucket": snapshot["shape_mix"]["bucket"],
            "shapes": [shape["name"] for shape in snapshot["shape_mix"]["shapes"]],
            "periods": snapshot["shape_mix"]["periods"],
        },
        "perrow_points": [
            {"title": p["title"], "complexity": p["complexity"], "coupling": p["coupling"]}
            for p in snapshot["perrow_points"]
        ],
        "remediation": [
            {
                "level": r["leverage_level"],
                "kind": r["kind_label"],
                "state": r["state_label"],
                "count": r["count"],
            }
            for r in snapshot["remediation"]["by_level"]
        ],
        "structures": [
            {"label": s["name"], "hours": s["weighted_hours_in_window"]}
            for s in snapshot["structures"][:10]
        ],
    }


FIGURE_KEY = re.compile(r"[a-z0-9_-]{1,80}")


@login_required
def figure_incidents(request: HttpRequest, pk, figure: str) -> HttpResponse:
    """The incidents behind one figure of a report, with the values the figure adds up and
    their totals: a lead can check any number, and open every incident it rests on.

    The values are the snapshot's (what the data said when the report was made), so the
    totals equal the figure; each incident is listed only if the reader may see it now.
    """
    report = get_object_or_404(
        Report.objects.visible_to(request.user)
        .filter(status=Report.Status.DONE)
        .defer("snapshot", "page"),
        pk=pk,
    )
    if not FIGURE_KEY.fullmatch(figure):
        raise Http404("No such figure.")
    found = (
        Report.objects.filter(pk=report.pk)
        .values_list(
            f"snapshot__figures__{figure}", "snapshot__incidents", "snapshot__other_incidents"
        )
        .first()
    )
    if not found or not found[0]:
        raise Http404("No such figure in this report.")
    entry, listed, others = found
    ids = entry["ids"]
    visible = set(
        Incident.objects.visible_to(request.user).filter(pk__in=ids).values_list("pk", flat=True)
    )
    by_id = {row["id"]: row for row in [*(listed or []), *(others or [])]}
    prefix = incident_path_prefix("incidents:detail")
    rows = [{**by_id[i], "path": f"{prefix}{i}/"} for i in ids if i in visible and i in by_id]
    weighted = [r["weighted_hours"] for r in rows if r["weighted_hours"] is not None]
    users = [r["users_affected"] for r in rows if r["users_affected"] is not None]
    totals = {
        "incidents": len(rows),
        "weighted_hours": round(sum(weighted), 1),
        "weighted_hours_unknown": len(rows) - len(weighted),
        "users_affected": sum(users) if users else None,
        "users_affected_unknown": len(rows) - len(users),
    }
    return render(
        request,
        "reports/figure.html",
        {
            "report": report,
            "window": window_label(report.params.get("since"), report.params.get("until")),
            "title": entry["title"],
            "rows": rows,
            "totals": totals,
            "not_visible": len(ids) - len(rows),
        },
    )


@login_required
def report_export(request: HttpRequest, pk, fmt: str) -> HttpResponse:
    """The snapshot as Markdown, JSON, or a zip of one CSV per table."""
    report = get_object_or_404(Report.objects.visible_to(request.user).defer("snapshot"), pk=pk)
    if report.status != Report.Status.DONE:
        messages.error(request, "This report is not ready yet.")
        return redirect(report)
    since, until = report.params.get("since"), report.params.get("until")
    name = f"seams-report-{since[:10]}-{until[:10]}" if since and until else "seams-report-all-time"
    outdated = (report.page or {}).get("schema_version", 1) < SNAPSHOT_SCHEMA_VERSION
    if fmt in ("md", "zip") and outdated:
        messages.error(request, "This report was made by an earlier version: only JSON remains.")
        return redirect(report)
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
