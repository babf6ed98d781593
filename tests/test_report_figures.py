"""Reports a lead can defend: every number leads to the incidents behind it and equals the
sum over them; severity weighs; what is unknown is counted apart; all time is a window;
undated incidents are in none; no code of Seams' own reaches a page or an export."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.db.models import F
from django.urls import reverse

from incidents import services
from incidents.analysis.recurrence import recompute_all
from incidents.models import ActionItem, Incident
from reports.analysis import ReportParams, build_snapshot, to_markdown, to_zip
from reports.models import Report
from reports.services import report_generate
from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

pytestmark = pytest.mark.django_db

YEAR = ReportParams(since=datetime(2025, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def review(title, day, hours, severity="sev3", pattern="alert-fatigue", users=None, **extra):
    start = at(day) if day else None
    fields = {"title": title, "started_at": start, "severity": severity,
              "resolved_at": start + timedelta(hours=hours) if start and hours else None,
              "users_affected_count": users, "complexity": 4, "coupling": 5}  # fmt: skip
    fields.update(extra.pop("fields", {}))
    return services.incident_create(
        by=None,
        content=services.ReviewContent(
            fields=fields,
            shapes=list(
                EmergentShape.objects.filter(slug__in=["cascade", "worst-case-interaction"])
            ),
            components=["Edge proxy"],
            patterns=[services.PatternClaim(StructuralPattern.objects.get(slug=pattern), "r")],
            **extra,
        ),
    )


@pytest.fixture
def archive(django_capture_on_commit_callbacks):
    rules = LeverageLevel.objects.get(slug="rules")
    with django_capture_on_commit_callbacks(execute=True):
        review("Old pager storm", "2024-03-01", 2)
        review("Region down", "2025-02-01", 2, "sev1", users=5000)  # 2 h x 10 = 20
        review("Checkout slow", "2025-03-01", 1, "sev2", users=300)  # 1 h x 4 = 4
        review("Weeks of lag", "2025-04-01", 100)  # capped at 72 h x 1
        review("Typo on a page", "2025-05-01", 4, "sev4")  # 4 h x 0.25 = 1
        review("Imported, severity unknown", "2025-06-01", 5, "unknown", users=12)
        review("Still open", "2025-07-01", None, "sev2", actions=[
            services.ActionEntry("Own the alert routing", kind="structural_fix",
                                 leverage_level=rules),
            services.ActionEntry("Bump the limit", kind="component_patch",
                                 status=ActionItem.Status.DONE),
        ])  # fmt: skip
        review("Undated write-up", None, None, "sev2")
    Incident.objects.filter(started_at__isnull=False).update(created_at=F("started_at"))
    recompute_all()


def test_severity_weighs_and_the_unknown_is_left_out_and_counted(archive, admin_user):
    snap = build_snapshot(params=YEAR, viewer=admin_user)
    headline = snap["headline"]
    assert headline["incidents"] == 6  # the 2024 one and the undated one are in no window
    assert headline["weighted_hours"] == 20 + 4 + 72 + 1
    assert headline["weighted_hours_unknown"] == 2  # unknown severity; no end
    assert headline["users_affected"] == 5000 + 300 + 12
    assert headline["users_affected_unknown"] == 3
    assert headline["date_unknown"] == 1
    rows = {r["label"]: r for r in snap["by_severity"]}
    assert rows["Unknown"]["weight"] is None
    assert rows["Unknown"]["weighted_hours"] is None
    assert rows["Unknown"]["incidents"] == 1
    assert rows["SEV1 — critical"]["weighted_hours"] == 20
    assert rows["SEV2 — major"]["weighted_hours_unknown"] == 1  # still open: no end
    unknown = Incident.objects.get(title="Imported, severity unknown").pk
    assert unknown in snap["figures"]["weighted_hours_unknown"]["ids"]
    assert unknown not in snap["figures"]["weighted_hours"]["ids"]


def test_all_time_is_a_window_with_nothing_before_it(archive, admin_user):
    snap = build_snapshot(params=ReportParams(), viewer=admin_user)
    assert snap["window"] == "All time"
    assert snap["headline"]["incidents"] == 7  # every dated incident
    assert snap["headline"]["date_unknown"] == 1  # and the undated one counted apart
    assert snap["previous_window"] is None
    assert snap["previous_headline"] is None
    assert snap["change"] is None
    assert "all time, so nothing to compare with" in to_markdown(snap)
    undated = Incident.objects.get(title="Undated write-up").pk
    assert snap["figures"]["date_unknown"]["ids"] == [undated]
    assert undated not in snap["figures"]["incidents"]["ids"]


def test_all_time_from_the_form_and_the_api(archive, logged_in, read_api,
                                            django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(reverse("reports:list"), {"all_time": "on"})
    report = Report.objects.get()
    assert response["Location"] == report.get_absolute_url()
    assert report.params["since"] is None
    assert (
        "Recurrence report: All time" in logged_in.get(report.get_absolute_url()).content.decode()
    )
    assert "All time" in logged_in.get(reverse("reports:list")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = read_api.post("/api/v1/reports/", {}, format="json")
    assert response.status_code == 202
    assert read_api.get(response.json()["url"]).json()["snapshot"]["window"] == "All time"
    half = read_api.post("/api/v1/reports/", {"since": "2025-01-01T00:00:00Z"}, format="json")
    assert half.status_code == 400
    assert "until" in half.json()["error"]["fields"]


class _Text(HTMLParser):
    """The text a reader sees (and the scripts' data), without tags and attributes."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


FIGURE_LINK = re.compile(
    r'<a href="(/reports/[0-9a-f-]+/incidents/([a-z0-9_-]+)/)"[^>]*>([\d.]+)</a>'
)
ROW = re.compile(
    r'<tr data-incident="(\d+)" data-weighted-hours="([^"]*)" data-users-affected="([^"]*)"'
)


def _figure_rows(client, url):
    html = client.get(url).content.decode()
    rows = [
        (int(pk), float(w) if w else None, int(u) if u else None) for pk, w, u in ROW.findall(html)
    ]
    return rows, html


@pytest.fixture
def report(archive, admin_user):
    return report_generate(
        report_id=Report.objects.create(created_by=admin_user, params=YEAR.to_json()).pk
    )


def test_every_number_on_the_page_is_the_sum_over_the_incidents_it_links_to(report, admin_client):
    html = admin_client.get(report.get_absolute_url()).content.decode()
    links = FIGURE_LINK.findall(html)
    keys = {key for _, key, _ in links}
    assert {"incidents", "weighted_hours", "weighted_hours_unknown", "users_affected",
            "users_affected_unknown", "previous_incidents", "date_unknown",
            "severity_sev1", "structure_1", "remediation_1", "hotspot_1"} <= keys  # fmt: skip
    for url, key, shown in links:
        rows, page = _figure_rows(admin_client, url)
        weighted = round(sum(w for _, w, _ in rows if w is not None), 1)
        users = sum(u for _, _, u in rows if u is not None)
        if key.endswith("weighted_hours"):
            assert float(shown) == weighted, key
        elif key.endswith("users_affected"):
            assert int(shown) == users, key
        elif key.startswith("structure_"):
            assert float(shown) in (weighted, len(rows)), key  # its hours, and its count
        elif key.startswith("remediation_"):
            continue  # counts action items; the link lists the incidents they belong to
        else:
            assert int(float(shown)) == len(rows), key
        # The table's own totals say the same.
        assert f'data-incidents="{len(rows)}" data-weighted-hours="{weighted}"' in page, key


def test_a_structure_figure_sums_exactly_its_members_in_the_window(report, admin_client):
    structure = report.snapshot["structures"][0]
    url = reverse("reports:figure", args=[report.pk, structure["figure"]])
    rows, _ = _figure_rows(admin_client, url)
    members = {i["id"] for i in structure["incidents"]}
    assert {pk for pk, _, _ in rows} == members
    assert len(rows) == structure["incidents_in_window"]
    weighted = round(sum(w for _, w, _ in rows if w is not None), 1)
    assert weighted == structure["weighted_hours_in_window"]


def test_a_figure_lists_only_what_the_reader_may_see_and_unknown_figures_are_404(
    report, admin_client, client, user
):
    assert admin_client.get(reverse("reports:figure", args=[report.pk, "nope"])).status_code == 404
    assert admin_client.get(f"/reports/{report.pk}/incidents/..%2F/").status_code == 404
    client.force_login(user)  # no restricted review here: the report opens for anyone
    secret = Incident.objects.get(title="Region down")
    from .factories import GroupFactory

    Incident.objects.filter(pk=secret.pk).update(restricted_to=GroupFactory())
    rows, html = _figure_rows(client, reverse("reports:figure", args=[report.pk, "incidents"]))
    assert secret.pk not in {pk for pk, _, _ in rows}
    assert "Region down" not in html
    assert "1 incident counted here is no longer visible to you" in html


CODES = re.compile(
    r"\b(sev[1-4]|unknown_severity|structural_fix|component_patch|structuralfix|componentpatch"
    r"|in_review|wont_do|in_progress|pattern:|pair:|mechanism:|alert-fatigue|worst-case-interaction"
    r"|fast-global-propagation)\b"
)


def test_no_internal_code_on_the_page_or_in_any_export(report, admin_client):
    page = visible_text(admin_client.get(report.get_absolute_url()).content.decode())
    assert "SEV1 — critical" in page
    assert "Structural fix" in page
    assert CODES.findall(page) == []
    for key in ("incidents", "severity_sev1", "remediation_1"):
        html = admin_client.get(reverse("reports:figure", args=[report.pk, key])).content
        assert CODES.findall(visible_text(html.decode())) == [], key
    markdown = admin_client.get(reverse("reports:export", args=[report.pk, "md"])).content.decode()
    assert CODES.findall(markdown) == []
    archive = zipfile.ZipFile(io.BytesIO(to_zip(report.snapshot)))
    for name in archive.namelist():
        assert CODES.findall(archive.read(name).decode()) == [], name
    listing = visible_text(admin_client.get(reverse("reports:list")).content.decode())
    assert CODES.findall(listing) == []


def test_filters_are_said_in_words(archive, admin_user, admin_client):
    params = ReportParams(**{**YEAR.__dict__, "severity": "sev2", "pattern": "alert-fatigue"})
    report = report_generate(
        report_id=Report.objects.create(created_by=admin_user, params=params.to_json()).pk
    )
    assert report.snapshot["filters"] == ["Severity SEV2 — major", "Pattern Alert fatigue"]
    assert "Filters: Severity SEV2 — major; Pattern Alert fatigue." in to_markdown(report.snapshot)
    listing = visible_text(admin_client.get(reverse("reports:list")).content.decode())
    assert "severity SEV2 — major; pattern Alert fatigue" in listing


def test_the_shape_mix_counts_per_period_with_every_period_present(archive, admin_user):
    mix = build_snapshot(params=YEAR, viewer=admin_user)["shape_mix"]
    assert mix["bucket"] == "month"
    assert [p["label"] for p in mix["periods"]][:3] == ["Jan 2025", "Feb 2025", "Mar 2025"]
    assert len(mix["periods"]) == 12  # empty months too: a time axis, not a list of events
    cascade = [s["name"] for s in mix["shapes"]].index("Cascade")
    assert sum(p["counts"][cascade] for p in mix["periods"]) == 6
    five_years = ReportParams(since=at("2021-01-01"), until=at("2026-01-01"))
    mix = build_snapshot(params=five_years, viewer=admin_user)["shape_mix"]
    assert mix["bucket"] == "quarter"
    assert len(mix["periods"]) == 20
    everything = build_snapshot(params=ReportParams(), viewer=admin_user)["shape_mix"]
    assert everything["periods"][0]["label"] == "Mar 2024"


def test_the_perrow_map_names_the_windows_incidents(report, admin_client):
    points = report.snapshot["perrow_points"]
    assert {p["title"] for p in points} == set(
        Incident.objects.filter(started_at__year=2025).values_list("title", flat=True)
    )
    html = admin_client.get(report.get_absolute_url()).content.decode()
    assert "Perrow&#x27;s map of the window&#x27;s incidents" in html or "Perrow's map" in html
    assert '"title": "Region down", "complexity": 4, "coupling": 5' in html  # the chart's data
    assert "Interactive complexity" in Path("static/seams-report.js").read_text()


def test_a_report_made_before_this_version_still_opens(report, admin_client, admin_user):
    old = Report.objects.create(created_by=admin_user, params=YEAR.to_json())
    Report.objects.filter(pk=old.pk).update(
        status="done", snapshot={"schema_version": 2}, page={"schema_version": 2}
    )
    html = admin_client.get(old.get_absolute_url()).content.decode()
    assert "made by an earlier version of Seams" in html
    assert admin_client.get(reverse("reports:export", args=[old.pk, "json"])).status_code == 200
