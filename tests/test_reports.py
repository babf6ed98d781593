"""Recurrence reports on a hand-built history whose right answers are known."""

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse

from incidents import services
from incidents.analysis.recurrence import recompute_all
from incidents.models import Component, Incident
from reports.analysis import ReportParams, build_snapshot, to_markdown, to_zip
from reports.models import Report
from reports.services import report_generate
from taxonomy.models import LeverageLevel, StructuralPattern

from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db
Q1 = ReportParams(since=datetime(2025, 1, 1, tzinfo=UTC), until=datetime(2025, 4, 1, tzinfo=UTC))


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def review(title, day, hours, pattern, components, actions=(), **fields):
    start = at(day)
    return services.incident_create(
        by=None,
        content=services.ReviewContent(
            fields={"title": title, "started_at": start,
                    "resolved_at": start + timedelta(hours=hours), **fields},
            components=components,
            patterns=[services.PatternClaim(StructuralPattern.objects.get(slug=pattern), "r")],
            actions=list(actions),
        ),
    )  # fmt: skip


@pytest.fixture
def history(django_capture_on_commit_callbacks):
    security = GroupFactory(name="security")
    rules = LeverageLevel.objects.get(slug="rules")
    with django_capture_on_commit_callbacks(execute=True):
        review("2024 regex outage", "2024-05-01", 2, "fast-global-propagation", ["WAF"], [
            services.ActionEntry("Restore CPU limit", status="done", kind="component_patch",
                                 completed_at=at("2024-06-01"),
                                 pattern=StructuralPattern.objects.get(
                                     slug="fast-global-propagation")),
        ])  # fmt: skip
        review("Slow drift", "2024-11-15", 1, "slack-erosion", ["Object store"])
        review("Feature file panic", "2025-02-01", 3, "fast-global-propagation", ["Proxy"],
               users_affected="1,200 users", users_affected_count=1200)  # fmt: skip
        review("Pager storm", "2025-02-10", 1, "alert-fatigue", ["Pager"], [
            services.ActionEntry("Consolidate alerts", status="open", kind="structural_fix",
                                 leverage_level=rules),
        ])  # fmt: skip
        # Prose with numbers in it is never read as a number of users.
        review("Pager storm again", "2025-03-01", 1, "alert-fatigue", ["Pager two"],
               users_affected="40 minutes of ~38% of pages")  # fmt: skip
        secret = review("Token leak", "2025-03-15", 4, "buried-assumption", ["Checkout"])
    Incident.objects.filter(pk=secret.pk).update(restricted_to=security)
    store = Component.objects.get(name="Object store")
    for name in ("Checkout", "Proxy"):
        Component.objects.get(name=name).depends_on.add(store)
    # Each review was written once its incident was resolved, so an earlier one could be
    # learnt from before the next began (what "recurs" asks, docs/recurrence.md).
    Incident.objects.update(created_at=F("resolved_at"))
    recompute_all()
    return security


def test_headline_figures_and_the_comparison_with_the_previous_window(history, user):
    user.groups.add(history)  # a member of the restricted review's group counts it
    snap = build_snapshot(params=Q1, viewer=user)
    assert snap["headline"] == {
        "incidents": 4,
        "weighted_hours": 9.0,  # all SEV3, weight 1
        "weighted_hours_unknown": 0,
        "users_affected": 1200,  # the one number recorded as a number
        "users_affected_unknown": 3,
        "structures_recurred": 2,
        "in_recurring_structure": 3,
        "share_in_recurring_structure": 0.75,
        "date_unknown": 0,
    }
    assert snap["previous_window"]["since"].startswith("2024-10-03")
    assert snap["previous_headline"]["incidents"] == 1
    assert snap["previous_headline"]["weighted_hours"] == 1.0
    assert snap["change"]["incidents"] == 3
    assert snap["change"]["weighted_hours"] == 8.0


def test_structures_are_marked_and_ranked(history, user):
    snap = build_snapshot(params=Q1, viewer=user)
    by_pattern = {s["name"]: s for s in snap["structures"]}
    fgp = by_pattern["Fast global propagation"]
    assert fgp["status"] == "recurred despite remediation"
    assert fgp["components"] == ["Proxy", "WAF"]
    assert fgp["incidents_in_window"] == 1
    assert fgp["incidents_in_total"] == 2
    fatigue = by_pattern["Alert fatigue"]
    assert fatigue["status"] == "new"
    assert fatigue["open_structural_actions"] == ["Consolidate alerts"]
    assert [s["patterns"][0] for s in snap["structures"]] == [
        "Fast global propagation",
        "Alert fatigue",
    ]  # 3 h beats 2 h
    assert snap["component_patch_only_structures"] == ["Fast global propagation"]


def test_remediation_hotspots_shapes_and_incidents(history, user):
    snap = build_snapshot(params=Q1, viewer=user)
    # Object store is a hotspot only through the restricted Checkout review: not for outsiders.
    assert snap["hotspots"] == []
    assert snap["remediation"]["by_level"] == [
        {"leverage_number": 5, "leverage_level": LeverageLevel.objects.get(slug="rules").name,
         "kind": "structural_fix", "kind_label": "Structural fix", "state": "open",
         "state_label": "Not done", "count": 1, "figure": "remediation_1"}
    ]  # fmt: skip
    assert snap["figures"]["remediation_1"]["ids"] == [Incident.objects.get(title="Pager storm").pk]
    assert [i["title"] for i in snap["incidents"]] == [
        "Feature file panic",
        "Pager storm",
        "Pager storm again",
    ]
    user.groups.add(history)
    assert build_snapshot(params=Q1, viewer=user)["hotspots"][0] == {
        "component": "Object store", "incidents": 2, "direct": 0, "via_dependency": 2,
        "figure": "hotspot_1",
    }  # fmt: skip


def test_an_outsiders_snapshot_neither_shows_nor_counts_restricted_incidents(history, user):
    outsider = build_snapshot(params=Q1, viewer=user)
    assert outsider["headline"]["incidents"] == 3
    assert outsider["headline"]["weighted_hours"] == 5.0  # not the Token leak's 4 h
    assert "Token leak" not in json.dumps(outsider)
    assert "Checkout" not in json.dumps(outsider)
    user.groups.add(history)
    insider = build_snapshot(params=Q1, viewer=user)
    assert insider["headline"]["incidents"] == 4
    assert "Token leak" in [i["title"] for i in insider["incidents"]]


def test_filter_by_component_includes_what_depends_on_it(history, user):
    params = ReportParams(since=Q1.since, until=Q1.until, component="object-store")
    user.groups.add(history)
    snap = build_snapshot(params=params, viewer=user)
    assert snap["headline"]["incidents"] == 2  # Proxy and Checkout depend on the store
    alone = ReportParams(**{**params.__dict__, "include_dependents": False})
    assert build_snapshot(params=alone, viewer=user)["headline"]["incidents"] == 0


def test_a_finished_snapshot_never_changes(history, user, django_capture_on_commit_callbacks):
    report = Report.objects.create(created_by=user, params=Q1.to_json())
    report_generate(report_id=report.pk)
    report.refresh_from_db()
    before = report.snapshot
    with django_capture_on_commit_callbacks(execute=True):
        review("Another one", "2025-03-20", 1, "alert-fatigue", ["Pager"])
    report_generate(report_id=report.pk)  # a redelivered job
    report.refresh_from_db()
    assert report.snapshot == before
    report.error = "tamper"
    with pytest.raises(ValueError, match="immutable"):
        report.save()
    newer = Report.objects.create(created_by=user, params=Q1.to_json())
    report_generate(report_id=newer.pk)
    newer.refresh_from_db()
    assert newer.snapshot["headline"]["incidents"] == 4  # the restricted one not among them


def test_exports_carry_the_same_figures(history, user):
    user.groups.add(history)
    snap = build_snapshot(params=Q1, viewer=user)
    md = to_markdown(snap)
    assert "# Recurrence report 2025-01-01 – 2025-04-01" in md
    assert "### Fast global propagation — recurred despite remediation" in md
    assert "| Incidents | 4 | 1 | 3 |" in md
    assert "| Severity-weighted incident-hours | 9.0 | 1.0 | 8.0 |" in md
    files = zipfile.ZipFile(io.BytesIO(to_zip(snap)))
    assert set(files.namelist()) >= {"headline.csv", "structures.csv", "hotspots.csv"}
    assert "Object store,2,0,2" in files.read("hotspots.csv").decode()
    assert "Feature file panic" in files.read("incidents.csv").decode()


def test_api_starts_a_job_with_202_and_returns_the_snapshot(
    history, read_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = read_api.post(
            "/api/v1/reports/",
            {"since": "2025-01-01T00:00:00Z", "until": "2025-04-01T00:00:00Z"},
            format="json",
        )
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == body["url"]
    polled = read_api.get(body["url"]).json()
    assert polled["status"] == "done"
    assert polled["snapshot"]["headline"]["incidents"] == 3  # the token's user is no insider
    assert polled["catalogue_version"]
    assert set(polled["exports"]) == {"md", "json", "zip"}
    listed = read_api.get("/api/v1/reports/").json()["results"]
    assert listed[0]["id"] == body["id"]
    assert listed[0]["snapshot"] is None  # lists stay light


@pytest.mark.parametrize(
    "body",
    [
        {"since": "2025-04-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
        {"since": "2025-01-01T00:00:00Z"},
        {"since": "2015-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"},
        {"since": "2025-01-01T00:00:00Z", "until": "2025-04-01T00:00:00Z", "pattern": "nope"},
    ],
)
def test_bad_report_requests_are_400(read_api, body):
    response = read_api.post("/api/v1/reports/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]


def test_a_report_listing_restricted_incidents_is_hidden_from_outsiders(
    history, client, django_capture_on_commit_callbacks
):
    insider = UserFactory()
    insider.groups.add(history)
    report = Report.objects.create(created_by=insider, params=Q1.to_json())
    report_generate(report_id=report.pk)
    outsider = UserFactory()
    client.force_login(outsider)
    assert client.get(report.get_absolute_url()).status_code == 404
    assert str(report.pk) not in client.get(reverse("reports:list")).content.decode()
    client.force_login(insider)
    assert client.get(report.get_absolute_url()).status_code == 200


def test_report_pages_progress_charts_and_exports(
    history, logged_in, user, django_assert_max_num_queries
):
    pending = Report.objects.create(created_by=user, params=Q1.to_json())
    html = logged_in.get(pending.get_absolute_url()).content.decode()
    assert 'http-equiv="refresh"' in html
    report_generate(report_id=pending.pk)
    with django_assert_max_num_queries(6):
        html = logged_in.get(pending.get_absolute_url()).content.decode()
    assert "chart.umd.min.js" in html
    assert 'id="chart-structures"' in html
    assert "recurred despite remediation" in html
    md = logged_in.get(reverse("reports:export", args=[pending.pk, "md"]))
    assert md["Content-Disposition"].endswith('.md"')
    data = json.loads(logged_in.get(reverse("reports:export", args=[pending.pk, "json"])).content)
    assert data["headline"]["incidents"] == 3
    assert logged_in.get(reverse("reports:export", args=[pending.pk, "pdf"])).status_code == 404


def test_the_reports_page_makes_a_report(logged_in, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(
            reverse("reports:list"), {"since": "2025-01-01", "until": "2025-04-01"}
        )
    report = Report.objects.get()
    assert response["Location"] == report.get_absolute_url()
    assert report.status == "done"
    html = logged_in.get(reverse("reports:list")).content.decode()
    assert "2025-01-01 – 2025-04-01" in html


def test_the_command_prints_each_format(history):
    out = StringIO()
    call_command("recurrence_report", "--since", "2025-01-01", "--until", "2025-04-01", stdout=out)
    assert "Fast global propagation" in out.getvalue()
    assert "Token leak" in out.getvalue()  # an operator's command sees everything
    out = StringIO()
    call_command("recurrence_report", "--since", "2025-01-01", "--until", "2025-04-01",
                 "--format", "json", stdout=out)  # fmt: skip
    assert json.loads(out.getvalue())["headline"]["incidents"] == 4


def test_the_page_lists_the_first_items_and_says_how_many_more(
    history, logged_in, user, monkeypatch
):
    from reports import analysis as reports

    monkeypatch.setattr(reports, "PAGE_INCIDENTS", 2)
    monkeypatch.setattr(reports, "PAGE_STRUCTURE_INCIDENTS", 1)
    report = report_generate(
        report_id=Report.objects.create(created_by=user, params=Q1.to_json()).pk
    )
    assert len(report.snapshot["incidents"]) == 3  # the snapshot keeps every incident
    assert [i["title"] for i in report.page["incidents"]] == ["Feature file panic", "Pager storm"]
    html = logged_in.get(report.get_absolute_url()).content.decode()
    first = report.page["incidents"][0]["id"]
    assert f'href="{reverse("incidents:detail", args=[first])}"' in html
    assert "Pager storm again" not in html.split("Incidents in the window")[1]
    assert "… and 1 more, in the" in html
    alert = next(s for s in report.page["structures"] if s["name"] == "Alert fatigue")
    assert alert["incidents_more"] == 1
    assert len(alert["incidents"]) == 1
    assert "… and 1 more in the exports." in html


def test_a_restricted_review_before_the_window_shapes_neither_an_outsiders_report_nor_opens_one(
    history, user
):
    # The 2024 outage is in the window's structure but not in the window: its components
    # and its counts used to reach every reader of a report through the structure.
    earlier = Incident.objects.get(title="2024 regex outage")
    Incident.objects.filter(pk=earlier.pk).update(restricted_to=history)
    outsider = build_snapshot(params=Q1, viewer=user)
    assert "WAF" not in json.dumps(outsider)
    assert not any("Fast global propagation" in s["patterns"] for s in outsider["structures"])
    insider = UserFactory()
    insider.groups.add(history)
    report = report_generate(
        report_id=Report.objects.create(created_by=insider, params=Q1.to_json()).pk
    )
    fgp = next(s for s in report.snapshot["structures"] if s["signature"].endswith("propagation"))
    assert fgp["components"] == ["Proxy", "WAF"]
    assert list(report.scope_groups.all()) == [history]
    assert not Report.objects.visible_to(user).filter(pk=report.pk).exists()
    assert Report.objects.visible_to(insider).filter(pk=report.pk).exists()


def test_a_report_made_without_a_requester_opens_only_for_every_contributing_group(history, user):
    report = report_generate(report_id=Report.objects.create(params=Q1.to_json()).pk)
    assert report.snapshot["headline"]["incidents"] == 4  # nobody to hide anything from
    assert list(report.scope_groups.all()) == [history]
    assert not Report.objects.visible_to(user).filter(pk=report.pk).exists()
