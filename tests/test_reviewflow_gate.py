"""The review gate: named reviewers approve or ask for changes, and publishing waits for the
approvals the settings require — whoever presses Publish."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import Incident
from reviewflow import gate
from reviewflow.models import ReviewDecision
from taxonomy.models import EmergentShape, StructuralPattern

from .conftest import token_client
from .factories import UserFactory

pytestmark = pytest.mark.django_db


def complete_content(
    title: str = "Gateway certificates expired", **fields
) -> services.ReviewContent:
    """Everything a published review must have."""
    start = timezone.now() - dt.timedelta(days=3)
    return services.ReviewContent(
        fields={
            "title": title,
            "started_at": start,
            "summary": "TLS certificates on the gateway expired.",
            "impact": "Every API call failed for 40 minutes.",
            "narrative": "Renewal had been manual since the migration.",
            **fields,
        },
        shapes=list(EmergentShape.objects.filter(slug="cascade")),
        timeline=[services.TimelineEntry(start, "The certificates expired.", "trigger")],
        factors=["Renewal depended on one person's calendar."],
        actions=[services.ActionEntry("Renew certificates automatically")],
        patterns=[
            services.PatternClaim(
                StructuralPattern.objects.get(slug="buried-assumption"), "Renewal was assumed."
            )
        ],
    )


def in_review(author, *reviewers, **fields) -> Incident:
    """A complete review by `author`, sent to `reviewers`."""
    incident = services.incident_create(by=author, content=complete_content(**fields))
    services.incident_request_review(incident=incident, by=author, reviewers=list(reviewers))
    incident.refresh_from_db()
    return incident


def approve(incident: Incident, reviewer) -> ReviewDecision:
    incident.refresh_from_db()
    return gate.decide(incident=incident, by=reviewer, decision="approved")


def grant(user, codename: str):
    user.user_permissions.add(Permission.objects.get(codename=codename))
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def author():
    return UserFactory(username="author")


@pytest.fixture
def reviewer():
    return UserFactory(username="reviewer")


def _publish(client, incident):
    return client.post(reverse("incidents:publish", args=[incident.pk]), follow=True)


def _status(incident) -> str:
    incident.refresh_from_db()
    return incident.status


def test_the_author_cannot_approve_their_own_review(client, author, reviewer):
    incident = in_review(author, author, reviewer)
    client.force_login(author)
    refused = client.post(reverse("reviewflow:approve", args=[incident.pk]))
    assert refused.status_code == 403
    assert "not its author" in refused.content.decode()
    api = token_client(author, "write")
    answer = api.post(f"/api/v1/incidents/{incident.pk}/approve/", {}, format="json")
    assert answer.status_code == 403
    assert "not its author" in answer.json()["error"]["message"]
    assert not ReviewDecision.objects.exists()
    # Naming oneself as a reviewer does not count as a reviewer other than the author.
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "the author (cannot approve their own review)" in page
    assert "Approve version" not in page


def test_one_approval_by_a_named_reviewer_publishes(client, author, reviewer):
    incident = in_review(author, reviewer)
    client.force_login(reviewer)
    blocked = _publish(client, incident).content.decode()
    assert "1 more approval by a named reviewer other than the author (0 of 1 so far)" in blocked
    assert _status(incident) == "in_review"

    page = client.get(incident.get_absolute_url()).content.decode()
    assert f"Approve version {incident.version}" in page
    # The Publish button says what it still waits for.
    assert 'aria-describedby="publish-needs"' in page
    needs = page[page.index('id="publish-needs"') :]
    assert "1 more approval by a named reviewer" in needs[: needs.index("</ul>")]
    client.post(reverse("reviewflow:approve", args=[incident.pk]), {"version": incident.version})
    assert "Published." in _publish(client, incident).content.decode()
    assert _status(incident) == "published"


def test_changes_requested_block_until_that_reviewer_approves_the_fixed_version(
    client, author, reviewer
):
    other = UserFactory(username="other")
    incident = in_review(author, reviewer, other)
    client.force_login(reviewer)
    client.post(
        reverse("reviewflow:request_changes", args=[incident.pk]),
        {"version": incident.version, "note": "Say **why** renewal was manual."},
    )
    approve(incident, other)  # another reviewer's approval does not outweigh it
    client.force_login(other)
    blocked = _publish(client, incident).content.decode()
    assert "the changes reviewer asked for" in blocked
    assert _status(incident) == "in_review"

    # The author fixes it (a new version); the reviewer approves that; it publishes.
    services.incident_patch(
        incident=incident, by=author, fields={"narrative": "Manual since the 2021 migration."}
    )
    approve(incident, reviewer)
    approve(incident, other)  # their approval of the old version went stale with the edit
    assert "Published." in _publish(client, incident).content.decode()
    assert _status(incident) == "published"
    # The reviewer's earlier decision is kept, superseded.
    assert list(
        ReviewDecision.objects.filter(reviewer=reviewer).values_list("decision", flat=True)
    ) == ["approved", "changes_requested"]


def test_an_edit_after_the_approval_needs_a_new_approval(client, author, reviewer):
    incident = in_review(author, reviewer)
    approve(incident, reviewer)
    services.incident_patch(incident=incident, by=author, fields={"summary": "Changed after."})
    client.force_login(reviewer)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "Approved an older version" in page
    assert "1 more approval" in _publish(client, incident).content.decode()
    assert _status(incident) == "in_review"
    approve(incident, reviewer)
    _publish(client, incident)
    assert _status(incident) == "published"


def test_without_dismissing_stale_approvals_an_older_approval_counts(
    client, author, reviewer, settings
):
    settings.SEAMS_DISMISS_STALE_APPROVALS = False
    incident = in_review(author, reviewer)
    approve(incident, reviewer)
    services.incident_patch(incident=incident, by=author, fields={"summary": "Changed after."})
    client.force_login(reviewer)
    _publish(client, incident)
    assert _status(incident) == "published"


def test_two_required_approvals(client, author, reviewer, settings):
    settings.SEAMS_REQUIRED_APPROVALS = 2
    second = UserFactory(username="second")
    incident = in_review(author, reviewer, second)
    approve(incident, reviewer)
    client.force_login(reviewer)
    assert "(1 of 2 so far)" in _publish(client, incident).content.decode()
    assert _status(incident) == "in_review"
    approve(incident, second)
    _publish(client, incident)
    assert _status(incident) == "published"


def test_a_publisher_publishes_only_through_the_gate(client, author, reviewer):
    publisher = grant(UserFactory(username="publisher"), "publish_incident")
    incident = in_review(author, reviewer)
    api = token_client(publisher, "write")
    refused = api.post(f"/api/v1/incidents/{incident.pk}/publish/", {}, format="json")
    assert refused.status_code == 409
    assert "1 more approval" in refused.json()["error"]["message"]
    assert _status(incident) == "in_review"
    approve(incident, reviewer)
    published = api.post(f"/api/v1/incidents/{incident.pk}/publish/", {}, format="json")
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    again = api.post(f"/api/v1/incidents/{incident.pk}/publish/", {}, format="json")
    assert again.status_code == 409
    assert "already published" in again.json()["error"]["message"]


def test_decisions_are_given_only_while_in_review(author, reviewer):
    incident = services.incident_create(by=author, content=complete_content())
    incident.reviewers.add(reviewer)  # named, but still a draft
    api = token_client(reviewer, "write")
    answer = api.post(f"/api/v1/incidents/{incident.pk}/approve/", {}, format="json")
    assert answer.status_code == 409
    assert "draft" in answer.json()["error"]["message"]
    assert not ReviewDecision.objects.exists()


def test_a_decision_on_a_version_that_changed_since_is_refused(author, reviewer):
    incident = in_review(author, reviewer)
    read = incident.version
    services.incident_patch(incident=incident, by=author, fields={"summary": "Meanwhile."})
    api = token_client(reviewer, "write")
    answer = api.post(f"/api/v1/incidents/{incident.pk}/approve/", {"version": read}, format="json")
    assert answer.status_code == 409
    assert f"not {read}" in answer.json()["error"]["message"]
    assert not ReviewDecision.objects.exists()


def test_asking_for_changes_needs_a_note(client, author, reviewer):
    incident = in_review(author, reviewer)
    api = token_client(reviewer, "write")
    answer = api.post(
        f"/api/v1/incidents/{incident.pk}/request-changes/", {"note": "  "}, format="json"
    )
    assert answer.status_code == 400
    assert "note" in answer.json()["error"]["fields"]
    client.force_login(reviewer)
    page = client.post(
        reverse("reviewflow:request_changes", args=[incident.pk]), {"note": ""}, follow=True
    )
    assert "asking for changes needs a note" in page.content.decode()
    assert not ReviewDecision.objects.exists()


def test_the_review_state_in_the_api(author, reviewer):
    incident = in_review(author, reviewer)
    api = token_client(reviewer, "write")
    before = api.get(f"/api/v1/incidents/{incident.pk}/review/").json()
    assert before["publishable"] is False
    assert before["reviewers"] == [{"reviewer": "reviewer", "state": "waiting", "decision": None}]
    after = api.post(
        f"/api/v1/incidents/{incident.pk}/request-changes/",
        {"note": "Add the detection gap.", "version": incident.version},
        format="json",
    )
    assert after.status_code == 201
    body = after.json()
    assert body["reviewers"][0]["state"] == "changes_requested"
    assert body["decisions"][0]["note"] == "Add the detection gap."
    assert (
        "the changes reviewer asked for (they approve once those are made)"
        in (body["still_needed"])
    )


def test_a_note_is_rendered_sanitised_on_the_review_page(client, author, reviewer):
    incident = in_review(author, reviewer)
    gate.decide(
        incident=incident,
        by=reviewer,
        decision="changes_requested",
        note="**Why**? <script>alert(1)</script>",
    )
    client.force_login(author)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "<strong>Why</strong>" in page
    assert "<script>alert(1)" not in page


def test_the_admin_cannot_set_a_review_published(client, author, reviewer):
    incident = in_review(author, reviewer)
    staff = grant(UserFactory(username="staff", is_staff=True), "change_incident")
    client.force_login(staff)
    page = client.get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
    assert 'name="status"' not in page
