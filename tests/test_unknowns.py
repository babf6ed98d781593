"""Unknown shown as unknown: an imported review that does not say its severity or its date
reads "Unknown" and "Date unknown" everywhere, survives an untouched save as it is, and sorts
and filters without crashing or moving."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from incidents import services
from incidents.forms import IncidentForm
from incidents.models import Incident

from .factories import UserFactory, review
from .test_round_trip import browser_submission, stored_review

pytestmark = pytest.mark.django_db


def imported(title: str = "Undated write-up", **fields) -> Incident:
    """A review as an import stores one that says neither its severity nor its date."""
    content = services.ReviewContent(
        fields={
            "title": title, "status": "published", "severity": "unknown", "started_at": None,
            "summary": "Something broke.", "organisation": "Elsewhere Inc",
            "external_id": title, **fields,
        }
    )  # fmt: skip
    return services.incident_create(by=None, content=content, note="Imported from x.md")


@pytest.fixture
def editor(client):
    user = UserFactory(username="editor", is_superuser=True)
    client.force_login(user)
    return user


def test_an_untouched_save_of_an_unknown_severity_and_date_changes_nothing(client, editor):
    incident = imported()
    url = reverse("incidents:edit", args=[incident.pk])
    before = stored_review(incident.pk)
    page = client.get(url).content.decode()
    data = browser_submission(page, "review-form")
    assert data["severity"] == ["unknown"]
    assert data["started_at"] == [""]
    assert client.post(url, data).status_code == 302
    assert stored_review(incident.pk) == before


def test_an_author_may_replace_unknown_with_a_real_severity(client, editor):
    incident = imported()
    url = reverse("incidents:edit", args=[incident.pk])
    data = browser_submission(client.get(url).content.decode(), "review-form")
    data["severity"] = ["sev2"]
    assert client.post(url, data).status_code == 302
    incident.refresh_from_db()
    assert incident.severity == "sev2"
    # Once a level is chosen, Unknown is no longer offered: nobody unlearns a severity.
    assert "unknown" not in dict(IncidentForm(instance=incident).fields["severity"].choices)


def test_a_hand_written_review_cannot_choose_unknown(client, editor):
    assert "unknown" not in dict(IncidentForm().fields["severity"].choices)
    page = client.get(reverse("incidents:create")).content.decode()
    data = browser_submission(page, "review-form")
    data.update(title=["Written here"], severity=["unknown"])
    response = client.post(reverse("incidents:create"), data)
    assert response.status_code == 200
    assert "severity" in response.context["forms"].incident.errors
    assert not Incident.objects.exists()


def test_list_and_detail_say_unknown_instead_of_nothing(client, editor):
    incident = imported()
    page = client.get(reverse("incidents:list")).content.decode()
    assert "Date unknown" in page
    assert ">Unknown</span>" in page
    detail = client.get(incident.get_absolute_url()).content.decode()
    assert "Severity unknown" in detail
    assert "Date unknown." in detail
    assert "At Elsewhere Inc." in detail


def test_users_affected_shows_the_number_only_when_one_is_known(client, editor):
    counted = imported("Counted", users_affected_count=1200, users_affected="EU customers")
    prose = imported("Prose only", users_affected="about 38%")
    assert "1200 users; EU customers" in client.get(counted.get_absolute_url()).content.decode()
    assert 'about 38% <span class="muted">(number unknown)</span>' in (
        client.get(prose.get_absolute_url()).content.decode()
    )


def test_undated_reviews_are_listed_after_the_dated_ones_on_every_page(client, editor):
    dated = [
        review(title=f"Dated {n}", started_at=dt.datetime(2020, 1, n + 1, tzinfo=dt.UTC))
        for n in range(30)
    ]
    undated = [imported(f"Undated {n}") for n in range(3)]
    titles = []
    for page in (1, 2):
        response = client.get(reverse("incidents:list"), {"page": page})
        titles += [i.title for i in response.context["page"].object_list]
    assert titles == [i.title for i in reversed(dated)] + [i.title for i in reversed(undated)]
    assert response.context["page"].paginator.count == 33


def test_the_api_says_unknown_and_filters_by_it(read_api):
    imported()
    review(title="Known", severity="sev1")
    rows = read_api.get("/api/v1/incidents/", {"severity": "unknown"}).json()["results"]
    assert [(r["title"], r["severity"], r["started_at"]) for r in rows] == [
        ("Undated write-up", "unknown", None)
    ]
    detail = read_api.get(f"/api/v1/incidents/{Incident.objects.get(title='Known').pk}/")
    assert detail.status_code == 200
    for since in ("2000-01-01T00:00:00Z",):
        listed = read_api.get("/api/v1/incidents/", {"since": since}).json()["results"]
        # An undated review is in no window.
        assert [r["title"] for r in listed] == ["Known"]


def test_a_draft_a_bot_opens_without_a_severity_has_an_unknown_one(write_api):
    response = write_api.post("/api/v1/incidents/", {"title": "Paged at 3am"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["severity"] == "unknown"
    assert Incident.objects.get().severity == Incident.Severity.UNKNOWN


def test_the_schema_lists_unknown_among_the_severities(read_api):
    schema = read_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    enums = [s.get("enum") for s in schema["components"]["schemas"].values() if "sev1" in str(s)]
    assert any(e and "unknown" in e for e in enums), enums
