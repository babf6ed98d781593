"""Owners as people or teams, and who closed an item: in the review editor, the API and
the services that both use."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from incidents import services
from incidents.forms import ReviewForms
from incidents.models import ActionItem, Revision
from incidents.revisions import diff_snapshots

from .actions_helpers import GroupFactory, days, item, person, review_with, stored
from .conftest import token_client
from .test_round_trip import browser_submission

pytestmark = pytest.mark.django_db


def _edit_data(client, incident) -> dict[str, list[str]]:
    page = client.get(reverse("incidents:edit", args=[incident.pk]))
    assert page.status_code == 200
    return browser_submission(page.content.decode(), "review-form")


def _option_labels(html: str, select_name: str) -> list[str]:
    match = re.search(rf'<select name="{select_name}"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no select {select_name}"
    return re.findall(r"<option[^>]*>([^<]*)</option>", match.group(1))


def test_the_editor_names_a_person_or_a_team_and_keeps_them(client):
    author = person("ana")
    sre = GroupFactory(name="sre")
    owner = person("bo")
    incident = review_with(item("Add a fallback"), by=author)
    client.force_login(author)
    data = _edit_data(client, incident)
    data["actions-0-owner_user"] = [str(owner.pk)]
    assert client.post(reverse("incidents:edit", args=[incident.pk]), data).status_code == 302
    first = stored(incident, "Add a fallback")
    assert first.owner_user == owner

    data = _edit_data(client, incident)
    data["actions-0-owner_user"] = [""]
    data["actions-0-owner_team"] = [str(sre.pk)]
    assert client.post(reverse("incidents:edit", args=[incident.pk]), data).status_code == 302
    again = stored(incident, "Add a fallback")
    assert (again.owner_user, again.owner_team) == (None, sre)
    # The same item, not a new one: reminders and inbox entries about it stay attached.
    assert again.pk == first.pk


def test_a_person_and_a_team_together_are_refused_with_a_reason(client):
    author = person("ana")
    incident = review_with(item("Add a fallback"), by=author)
    client.force_login(author)
    data = _edit_data(client, incident)
    data["actions-0-owner_user"] = [str(author.pk)]
    data["actions-0-owner_team"] = [str(GroupFactory(name="sre").pk)]
    response = client.post(reverse("incidents:edit", args=[incident.pk]), data)
    assert response.status_code == 200
    assert "Choose a person or a team as the owner, not both" in response.content.decode()


def test_a_closed_group_is_neither_offered_nor_accepted_as_a_team(client):
    """A group that restricts a review is a closed circle: its name is shown to members only."""
    secret = GroupFactory(name="breach-response-2026")
    review_with(item("x"), title="Secret", restricted_to=secret)
    GroupFactory(name="sre")
    author = person("ana")
    incident = review_with(item("Add a fallback"), by=author)
    client.force_login(author)
    page = client.get(reverse("incidents:edit", args=[incident.pk])).content.decode()
    labels = _option_labels(page, "actions-0-owner_team")
    assert "sre" in labels
    assert "breach-response-2026" not in page

    data = _edit_data(client, incident)
    data["actions-0-owner_team"] = [str(secret.pk)]
    response = client.post(reverse("incidents:edit", args=[incident.pk]), data)
    assert response.status_code == 200  # refused: not a choice
    assert stored(incident, "Add a fallback").owner_team is None

    # Its members may name it.
    member = person("sec")
    member.groups.add(secret)
    forms = ReviewForms(instance=incident)
    forms.offer_owners(member)
    assert secret in forms.actions.forms[0].fields["owner_team"].queryset


def test_marking_done_in_the_editor_records_who_and_when_and_reopening_clears_both(client):
    author = person("ana")
    reviewer = person("rev")
    incident = review_with(item("Add a fallback", due=days(3)), by=author)
    incident.reviewers.add(reviewer)
    client.force_login(reviewer)
    data = _edit_data(client, incident)
    data["actions-0-status"] = ["done"]
    assert client.post(reverse("incidents:edit", args=[incident.pk]), data).status_code == 302
    done = stored(incident, "Add a fallback")
    assert done.closed_by == reviewer
    assert done.completed_at is not None

    # Someone else saving the review untouched changes neither.
    client.force_login(author)
    data = _edit_data(client, incident)
    assert client.post(reverse("incidents:edit", args=[incident.pk]), data).status_code == 302
    kept = stored(incident, "Add a fallback")
    assert (kept.closed_by, kept.completed_at) == (reviewer, done.completed_at)

    data = _edit_data(client, incident)
    data["actions-0-status"] = ["in_progress"]
    assert client.post(reverse("incidents:edit", args=[incident.pk]), data).status_code == 302
    reopened = stored(incident, "Add a fallback")
    assert (reopened.closed_by, reopened.completed_at) == (None, None)


def test_wont_do_is_closed_too():
    author = person("ana")
    incident = review_with(item("Rewrite everything"), by=author)
    assert stored(incident, "Rewrite everything").closed_by is None
    services.action_item_set_status(
        item=stored(incident, "Rewrite everything"), by=author, status=ActionItem.Status.WONT_DO
    )
    closed = stored(incident, "Rewrite everything")
    assert closed.closed_by == author
    assert closed.completed_at is not None


def test_owners_and_closer_are_in_the_revision_and_its_diff_and_survive_a_restore():
    author, owner = person("ana"), person("bo")
    incident = review_with(item("Add a fallback", owner_user=owner), by=author)
    services.action_item_set_status(
        item=stored(incident, "Add a fallback"), by=owner, status="done"
    )
    revisions = list(Revision.objects.filter(incident=incident).order_by("version"))
    assert revisions[-1].snapshot["actions"][0]["closed_by"] == "bo"
    diffs = diff_snapshots(revisions[0].snapshot, revisions[-1].snapshot)
    assert "closed by bo" in str(diffs[0].html).lower()
    services.revision_restore(revision=revisions[0], by=author)
    restored = stored(incident, "Add a fallback")
    assert restored.status == "open"
    assert restored.closed_by is None
    assert restored.owner_user == owner


def test_an_api_append_keeps_every_item_and_its_owner():
    author, owner = person("ana"), person("bo")
    incident = review_with(item("First", owner_user=owner), by=author)
    first_id = stored(incident, "First").pk
    services.incident_patch(incident=incident, by=author, add_actions=[item("Second")])
    assert stored(incident, "First").pk == first_id
    assert stored(incident, "First").owner_user == owner


# --- API -------------------------------------------------------------------------------------


def test_the_api_takes_and_gives_owners_by_username_and_team_name(
    django_capture_on_commit_callbacks,
):
    author = person("ana")
    person("bo")
    GroupFactory(name="sre")
    incident = review_with(item("Existing"), by=author)
    api = token_client(author, "write")
    body = {
        "action_items": [
            {"title": "Cap the file size", "owner_user": "bo", "due": str(days(5))},
            {"title": "Own the pipeline", "owner_team": "sre"},
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/incidents/{incident.pk}/action-items/", body, format="json")
    assert response.status_code == 201, response.content
    items = {a["title"]: a for a in response.json()["action_items"]}
    assert items["Cap the file size"]["owner_user"] == "bo"
    assert items["Own the pipeline"]["owner_team"] == "sre"
    assert items["Existing"]["owner_user"] is None
    assert isinstance(items["Existing"]["id"], int)
    # The list rows (built from plain SQL) say the same as the detail.
    listed = api.get("/api/v1/incidents/").json()["results"][0]["action_items"]
    assert listed == response.json()["action_items"]


@pytest.mark.parametrize(
    ("sent", "field", "message"),
    [
        ({"owner_user": "nobody"}, "owner_user", "No active user is called 'nobody'"),
        ({"owner_user": "gone"}, "owner_user", "No active user is called 'gone'"),
        ({"owner_user": 7}, "owner_user", "Give a username"),
        ({"owner_user": "b\x00o"}, "owner_user", "without NUL"),
        ({"owner_team": "s\x00re"}, "owner_team", "without NUL"),
        ({"owner_team": "no-such-team"}, "owner_team", "No team called 'no-such-team'"),
        ({"owner_team": "closed-circle"}, "owner_team", "No team called 'closed-circle'"),
        ({"owner_user": "bo", "owner_team": "sre"}, "owner_team", "not both"),
    ],
)
def test_the_api_refuses_unknown_owners_alike_whether_or_not_they_exist(sent, field, message):
    author = person("ana")
    person("bo")
    person("gone", is_active=False)
    GroupFactory(name="sre")
    closed = GroupFactory(name="closed-circle")
    review_with(item("x"), title="Closed", restricted_to=closed)
    incident = review_with(item("Existing"), by=author)
    api = token_client(author, "write")
    body = {"action_items": [{"title": "New", **sent}]}
    response = api.post(f"/api/v1/incidents/{incident.pk}/action-items/", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    messages = " ".join(
        msg for name, msgs in error["fields"].items() if field in name for msg in msgs
    )
    assert message in messages
    assert incident.action_items.count() == 1
