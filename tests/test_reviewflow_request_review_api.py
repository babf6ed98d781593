"""Sending a review for review through the API, as a bot or a script would: what the web
page's "Send for review" does, with its refusals in the API's error shape."""

from __future__ import annotations

import pytest
from django.core import mail

from incidents import services
from incidents.models import Incident
from notifications.models import Notification

from .conftest import token_client
from .factories import UserFactory
from .test_reviewflow_gate import approve, complete_content, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return {
        "author": UserFactory(username="ana"),
        "reviewer": UserFactory(username="ravi", email="ravi@example.com"),
    }


@pytest.fixture
def draft(team):
    return services.incident_create(by=team["author"], content=complete_content())


def _send(user, incident, body, scope="write"):
    return token_client(user, scope).post(
        f"/api/v1/incidents/{incident.pk}/request-review/", body, format="json"
    )


def test_the_author_sends_a_draft_and_the_reviewer_is_told_once(
    team, draft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = _send(team["author"], draft, {"reviewers": ["ravi", "ravi"]})
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "in_review"
    assert [r["reviewer"] for r in answer.json()["reviewers"]] == ["ravi"]
    draft.refresh_from_db()
    assert list(draft.reviewers.values_list("username", flat=True)) == ["ravi"]
    told = Notification.objects.filter(recipient=team["reviewer"], kind="review_requested")
    assert told.count() == 1
    assert [m.to for m in mail.outbox] == [["ravi@example.com"]]


def test_an_unknown_or_inactive_reviewer_is_named_in_a_400(team, draft):
    UserFactory(username="gone", is_active=False)
    answer = _send(team["author"], draft, {"reviewers": ["ravi", "nobody", "gone"]})
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["reviewers"] == [
        "No active person is called gone, nobody."
    ]
    draft.refresh_from_db()
    assert draft.status == Incident.Status.DRAFT


@pytest.mark.parametrize("body", [{}, {"reviewers": []}, {"reviewers": ["ravi"], "x": 1}])
def test_a_request_without_reviewers_or_with_unknown_fields_is_400(team, draft, body):
    assert _send(team["author"], draft, body).status_code == 400


def test_a_read_token_may_not_send_for_review(team, draft):
    assert _send(team["author"], draft, {"reviewers": ["ravi"]}, scope="read").status_code == 403


def test_a_published_review_goes_back_to_review_only_for_an_editor_who_says_reopen(team, draft):
    services.incident_request_review(
        incident=draft, by=team["author"], reviewers=[team["reviewer"]]
    )
    approve(draft, team["reviewer"])
    services.incident_publish(incident=Incident.objects.get(pk=draft.pk), by=team["reviewer"])
    editor = grant(UserFactory(username="eve"), "change_incident")

    assert _send(team["author"], draft, {"reviewers": ["ravi"]}).status_code == 403
    refused = _send(editor, draft, {"reviewers": ["ravi"]})
    assert refused.status_code == 409
    assert "reopen" in refused.json()["error"]["message"]
    assert Incident.objects.get(pk=draft.pk).status == Incident.Status.PUBLISHED

    reopened = _send(editor, draft, {"reviewers": ["ravi"], "reopen": True})
    assert reopened.status_code == 200
    assert Incident.objects.get(pk=draft.pk).status == Incident.Status.IN_REVIEW


def test_an_empty_section_the_template_requires_is_named_in_a_409(team):
    from review_templates.models import ReviewTemplate

    strict = ReviewTemplate.objects.create(name="Strict", required_sections=["where_lucky"])
    incident = services.incident_create(
        by=team["author"], content=complete_content(template=strict)
    )
    answer = _send(team["author"], incident, {"reviewers": ["ravi"]})
    assert answer.status_code == 409
    assert "Where we got lucky" in answer.json()["error"]["message"]
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.DRAFT


def test_only_people_whose_role_lets_them_review_can_be_named(team, draft, client):
    """An Author or a Reader is neither offered on the page nor accepted by the API."""
    UserFactory(username="wren", role="author")
    UserFactory(username="rosa", role="reader")
    answer = _send(team["author"], draft, {"reviewers": ["ravi", "wren", "rosa"]})
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["reviewers"] == [
        "rosa, wren may not review: a reviewer needs the Reviewer or Admin role."
    ]
    client.force_login(team["author"])
    page = client.get(f"/incidents/{draft.pk}/request-review/").content.decode()
    assert "ravi" in page
    assert "wren" not in page
    assert "rosa" not in page
    draft.refresh_from_db()
    assert draft.status == Incident.Status.DRAFT
