"""Writing a review from a template: choosing it, its timeline rows and prompts, and the
sections it requires before the review is sent for review (web and API)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Incident
from review_templates.models import ReviewTemplate
from review_templates.requirements import RequiredSectionsEmpty

from .factories import UserFactory, review
from .test_round_trip import browser_submission
from .test_views import _form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def postmortem():
    """The organisation's default template (replacing the shipped default)."""
    ReviewTemplate.objects.filter(is_default=True).update(is_default=False)
    return ReviewTemplate.objects.create(
        name="Postmortem",
        required_sections=["summary", "impact", "timeline", "where_lucky"],
        timeline_kinds=["trigger", "detection", "recovery"],
        prompts={
            "summary": "Say it in two sentences.",
            "timeline": "Start where the trigger began.",
            "contributing_factors": "Several, never one.",
        },
        is_default=True,
    )


@pytest.fixture
def security():
    return ReviewTemplate.objects.create(
        name="Security", timeline_kinds=["escalation"], prompts={"impact": "What was exposed?"}
    )


def _kinds(html: str) -> list[str]:
    data = browser_submission(html, "review-form")
    total = int(data["timeline-TOTAL_FORMS"][0])
    return [data[f"timeline-{i}-kind"][0] for i in range(total)]


def test_the_default_template_is_preselected_with_its_rows_and_prompts(logged_in, postmortem):
    response = logged_in.get(reverse("incidents:create"))
    html = response.content.decode()
    assert f'<option value="{postmortem.pk}" selected>Postmortem</option>' in html
    assert _kinds(html) == ["trigger", "detection", "recovery"]
    assert "Say it in two sentences." in html  # beside the summary
    assert "Start where the trigger began." in html  # beside the timeline
    assert "Several, never one." in html  # beside the contributing factors
    assert (
        "Required before it can be sent for review: Summary, Impact, Timeline, Where we got lucky"
        in html
    )
    data = browser_submission(html, "review-form")
    assert data["template"] == [str(postmortem.pk)]


def test_choosing_another_template_brings_its_rows_and_prompts(logged_in, postmortem, security):
    html = logged_in.get(reverse("incidents:create"), {"template": security.pk}).content.decode()
    assert f'<option value="{security.pk}" selected>Security</option>' in html
    assert _kinds(html) == ["escalation"]
    assert "What was exposed?" in html
    assert "Say it in two sentences." not in html


def test_no_template_starts_with_one_blank_row_and_no_prompts(logged_in, postmortem):
    html = logged_in.get(reverse("incidents:create"), {"template": ""}).content.decode()
    assert _kinds(html) == ["observation"]
    assert "Say it in two sentences." not in html
    assert browser_submission(html, "review-form")["template"] == [""]


def test_an_unknown_template_in_the_address_says_so(logged_in, postmortem):
    html = logged_in.get(reverse("incidents:create"), {"template": "9999"}).content.decode()
    assert "That template does not exist (any more); choose another." in html


def test_rows_left_empty_are_not_saved_and_the_review_keeps_its_template(logged_in, postmortem):
    html = logged_in.get(reverse("incidents:create")).content.decode()
    data = browser_submission(html, "review-form")
    data["title"] = ["Checkout outage"]
    data["timeline-1-occurred_at"] = ["2026-01-05T10:00:00"]
    data["timeline-1-text"] = ["Alert fired for checkout errors."]
    response = logged_in.post(reverse("incidents:create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    incident = Incident.objects.get(title="Checkout outage")
    assert incident.template == postmortem
    assert [(e.kind, e.text) for e in incident.timeline.all()] == [
        ("detection", "Alert fired for checkout errors.")
    ]


def test_a_template_deleted_while_writing_is_refused_with_the_text_kept(logged_in, postmortem):
    data = _form_data(template=str(postmortem.pk), narrative="Keep me.")
    postmortem.delete()
    response = logged_in.post(reverse("incidents:create"), data)
    html = response.content.decode()
    assert "That template does not exist (any more); choose another." in html
    assert "Keep me." in html
    assert not Incident.objects.exists()


def test_the_editor_shows_the_prompts_of_the_reviews_template(logged_in, user, security):
    incident = review(title="Leaked key", by=user, template=security)
    html = logged_in.get(reverse("incidents:edit", args=[incident.pk])).content.decode()
    assert "What was exposed?" in html
    assert 'id="template-chooser"' not in html  # chosen once, when the review was created


# --- required sections --------------------------------------------------------------------


def test_sending_for_review_is_refused_naming_the_empty_required_sections(
    logged_in, user, postmortem
):
    incident = review(title="Thin", by=user, template=postmortem, summary="Short.")
    url = reverse("incidents:request_review", args=[incident.pk])
    reviewer = UserFactory(username="reader-one")

    warning = logged_in.get(url).content.decode()
    assert "requires Impact, Timeline, Where we got lucky, still empty" in warning

    response = logged_in.post(url, {"reviewers": [reviewer.pk]})
    assert response.status_code == 409
    html = response.content.decode()
    assert "Not sent for review: the template “Postmortem” requires Impact, Timeline, " in html
    incident.refresh_from_db()
    assert incident.status == Incident.Status.DRAFT
    assert not incident.reviewers.exists()


def test_once_the_sections_are_filled_in_it_goes_to_review(logged_in, user, postmortem):
    incident = review(
        title="Full", by=user, template=postmortem, summary="S.", impact="I.", where_lucky="L."
    )
    services.incident_patch(
        incident=incident,
        by=user,
        add_timeline=[services.TimelineEntry(occurred_at=incident.started_at, text="Began.")],
    )
    reviewer = UserFactory(username="reader-two")
    response = logged_in.post(
        reverse("incidents:request_review", args=[incident.pk]), {"reviewers": [reviewer.pk]}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Incident.Status.IN_REVIEW


def test_a_review_without_template_is_not_held_back(user):
    incident = review(title="Old one", by=user)
    sent = services.incident_request_review(
        incident=incident, by=user, reviewers=[UserFactory(username="r3")]
    )
    assert sent.status == Incident.Status.IN_REVIEW


def test_the_service_refusal_names_the_sections_for_every_door(user, postmortem):
    incident = review(title="Thin", by=user, template=postmortem, summary="S.")
    with pytest.raises(RequiredSectionsEmpty) as refused:
        services.incident_request_review(
            incident=incident, by=user, reviewers=[UserFactory(username="r4")]
        )
    assert refused.value.names == ["impact", "timeline", "where_lucky"]
    assert refused.value.labels == ["Impact", "Timeline", "Where we got lucky"]


def test_the_api_answers_a_refusal_in_the_error_shape_naming_the_sections(user, postmortem):
    from rest_framework.views import APIView

    from incidents.api.errors import api_exception_handler

    incident = review(title="Thin", by=user, template=postmortem, summary="S.")
    try:
        services.incident_request_review(
            incident=incident, by=user, reviewers=[UserFactory(username="r5")]
        )
    except RequiredSectionsEmpty as refused:
        response = api_exception_handler(refused, {"view": APIView()})
    assert response.status_code == 409
    error = response.data["error"]
    assert error["code"] == "required_sections_empty"
    assert "requires Impact, Timeline, Where we got lucky" in error["message"]
    assert set(error["fields"]) == {"impact", "timeline", "where_lucky"}


# --- the API --------------------------------------------------------------------------------


def test_a_bot_names_the_template_by_name_or_id_and_reads_it_back(write_api, postmortem, security):
    by_name = write_api.post(
        "/api/v1/incidents/", {"title": "A", "template": "security"}, format="json"
    )
    assert by_name.status_code == 201, by_name.content
    assert by_name.json()["template"]["name"] == "Security"
    by_id = write_api.post(
        "/api/v1/incidents/", {"title": "B", "template": security.pk}, format="json"
    )
    assert by_id.json()["template"]["id"] == security.pk
    default = write_api.post("/api/v1/incidents/", {"title": "C"}, format="json")
    assert default.json()["template"]["name"] == "Postmortem"
    none = write_api.post("/api/v1/incidents/", {"title": "D", "template": None}, format="json")
    assert none.json()["template"] is None
    detail = write_api.get(f"/api/v1/incidents/{by_name.json()['id']}/")
    assert detail.json()["template"]["id"] == security.pk


@pytest.mark.parametrize("ref", ["Nope", 999999, True, ["Security"], "", 2**40])
def test_an_unknown_template_is_a_400_in_the_error_shape(write_api, security, ref):
    response = write_api.post("/api/v1/incidents/", {"title": "A", "template": ref}, format="json")
    assert response.status_code == 400
    assert "template" in response.json()["error"]["fields"]
    assert not Incident.objects.exists()


def test_templates_are_listed_and_read_through_the_api(read_api, postmortem):
    listed = read_api.get("/api/v1/templates/")
    assert listed.status_code == 200
    names = [t["name"] for t in listed.json()["results"]]
    assert "Postmortem" in names
    one = read_api.get(f"/api/v1/templates/{postmortem.pk}/").json()
    assert one["required_sections"] == ["summary", "impact", "timeline", "where_lucky"]
    assert one["required_labels"] == ["Summary", "Impact", "Timeline", "Where we got lucky"]
    assert one["timeline_kinds"] == ["trigger", "detection", "recovery"]
    assert one["prompts"]["summary"] == "Say it in two sentences."
    assert one["is_default"] is True
    assert read_api.get("/api/v1/templates/999999/").json()["error"]["code"] == "not_found"


def test_the_templates_api_needs_a_token(client):
    assert client.get("/api/v1/templates/").status_code == 401
