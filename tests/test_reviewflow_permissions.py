"""Who may approve, request changes, publish, comment, reply and resolve — in the pages and
the API alike — on a review restricted to a group everyone but the outsider belongs to."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import Comment, Incident
from reviewflow import gate, threads
from reviewflow.models import ReviewDecision

from .conftest import token_client
from .factories import GroupFactory, UserFactory
from .test_reviewflow_gate import grant, in_review

pytestmark = pytest.mark.django_db

ROLES = ("author", "reviewer", "editor", "publisher", "reader", "outsider")


@pytest.fixture
def people():
    group = GroupFactory(name="payments")
    found = {name: UserFactory(username=name) for name in ROLES}
    found["editor"] = grant(found["editor"], "change_incident")
    found["publisher"] = grant(found["publisher"], "publish_incident")
    for name in ROLES:
        if name != "outsider":
            found[name].groups.add(group)
    found["group"] = group
    return found


@pytest.fixture
def incident(people):
    review = in_review(people["author"], people["reviewer"], restricted_to=people["group"])
    return review


@pytest.fixture
def thread(incident, people):
    return threads.thread_start(incident=incident, by=people["reviewer"], body="Why manual?")


def _web(client, user, url, data=None):
    client.force_login(user)
    return client.post(url, data or {}).status_code


def _api(user, url, data=None):
    return token_client(user, "write").post(url, data or {}, format="json").status_code


def _ok(code: int) -> bool:
    return code in (200, 201, 302)


# Expected answer per role: "ok", 403 or 404.
# Sending a draft for review: whoever may edit it (author, named reviewers, editors).
REQUEST_REVIEW = {"author": "ok", "reviewer": "ok", "editor": "ok", "publisher": 403,
                  "reader": 403, "outsider": 404}  # fmt: skip
DECIDE = {"author": 403, "reviewer": "ok", "editor": 403, "publisher": 403, "reader": 403,
          "outsider": 404}  # fmt: skip
PUBLISH = {"author": 403, "reviewer": "ok", "editor": 403, "publisher": "ok", "reader": 403,
           "outsider": 404}  # fmt: skip
COMMENT = {"author": "ok", "reviewer": "ok", "editor": "ok", "publisher": "ok", "reader": "ok",
           "outsider": 404}  # fmt: skip
# The thread was opened by the reviewer; the reader and the publisher neither edit nor opened it.
RESOLVE = {"author": "ok", "reviewer": "ok", "editor": "ok", "publisher": 403, "reader": 403,
           "outsider": 404}  # fmt: skip


def _matches(code: int, expected) -> bool:
    return _ok(code) if expected == "ok" else code == expected


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("door", ["web", "api"])
def test_approve_and_request_changes(client, people, incident, role, door):
    user = people[role]
    if door == "web":
        approve = _web(client, user, reverse("reviewflow:approve", args=[incident.pk]))
        changes = _web(
            client,
            user,
            reverse("reviewflow:request_changes", args=[incident.pk]),
            {"note": "More detail."},
        )
    else:
        approve = _api(user, f"/api/v1/incidents/{incident.pk}/approve/")
        changes = _api(
            user, f"/api/v1/incidents/{incident.pk}/request-changes/", {"note": "More detail."}
        )
    assert _matches(approve, DECIDE[role]), (role, approve)
    assert _matches(changes, DECIDE[role]), (role, changes)
    decided = ReviewDecision.objects.filter(reviewer=user).count()
    assert decided == (2 if DECIDE[role] == "ok" else 0)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("door", ["web", "api"])
def test_publish_once_approved(client, people, incident, role, door):
    gate.decide(incident=incident, by=people["reviewer"], decision="approved")
    user = people[role]
    if door == "web":
        code = _web(client, user, reverse("incidents:publish", args=[incident.pk]))
    else:
        code = _api(user, f"/api/v1/incidents/{incident.pk}/publish/")
    assert _matches(code, PUBLISH[role]), (role, code)
    incident.refresh_from_db()
    published = incident.status == Incident.Status.PUBLISHED
    assert published == (PUBLISH[role] == "ok")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("door", ["web", "api"])
def test_comment_and_reply(client, people, incident, thread, role, door):
    user = people[role]
    x, t = incident.pk, thread.pk
    before = Comment.objects.filter(author=user).count()
    if door == "web":
        opened = _web(client, user, reverse("reviewflow:thread_start", args=[x]), {"body": "Hi"})
        replied = _web(
            client, user, reverse("reviewflow:thread_reply", args=[x, t]), {"body": "Agreed"}
        )
    else:
        opened = _api(user, f"/api/v1/incidents/{x}/threads/", {"body": "Hi"})
        replied = _api(user, f"/api/v1/incidents/{x}/threads/{t}/replies/", {"body": "Agreed"})
    assert _matches(opened, COMMENT[role]), (role, opened)
    assert _matches(replied, COMMENT[role]), (role, replied)
    written = Comment.objects.filter(author=user).count() - before
    assert written == (2 if COMMENT[role] == "ok" else 0)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("door", ["web", "api"])
def test_resolve_and_reopen(client, people, incident, thread, role, door):
    user = people[role]
    x, t = incident.pk, thread.pk
    if door == "web":
        resolved = _web(client, user, reverse("reviewflow:thread_resolve", args=[x, t]))
    else:
        resolved = _api(user, f"/api/v1/incidents/{x}/threads/{t}/resolve/")
    assert _matches(resolved, RESOLVE[role]), (role, resolved)
    thread.refresh_from_db()
    assert (thread.resolved_by == user) == (RESOLVE[role] == "ok")
    if RESOLVE[role] != "ok":
        return
    if door == "web":
        reopened = _web(client, user, reverse("reviewflow:thread_reopen", args=[x, t]))
    else:
        reopened = _api(user, f"/api/v1/incidents/{x}/threads/{t}/reopen/")
    assert _ok(reopened)
    thread.refresh_from_db()
    assert thread.resolved_at is None


def test_whoever_opened_a_thread_may_resolve_it(client, people, incident):
    opened = threads.thread_start(incident=incident, by=people["reader"], body="Typo in impact.")
    client.force_login(people["reader"])
    client.post(reverse("reviewflow:thread_resolve", args=[incident.pk, opened.pk]))
    opened.refresh_from_db()
    assert opened.resolved_by == people["reader"]


def test_a_read_token_may_not_decide_comment_or_resolve(people, incident, thread):
    api = token_client(people["reviewer"], "read")
    for url in (
        f"/api/v1/incidents/{incident.pk}/approve/",
        f"/api/v1/incidents/{incident.pk}/publish/",
        f"/api/v1/incidents/{incident.pk}/threads/",
        f"/api/v1/incidents/{incident.pk}/threads/{thread.pk}/resolve/",
    ):
        answer = api.post(url, {"body": "x"}, format="json")
        assert answer.status_code == 403, url
        assert "read scope" in answer.json()["error"]["message"]
    assert not ReviewDecision.objects.exists()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("door", ["web", "api"])
def test_send_a_draft_for_review(client, people, role, door):
    draft = in_review(people["author"], people["reviewer"], restricted_to=people["group"])
    Incident.objects.filter(pk=draft.pk).update(status=Incident.Status.DRAFT)
    user, reviewer = people[role], people["reviewer"]
    if door == "web":
        code = _web(
            client, user, reverse("incidents:request_review", args=[draft.pk]),
            {"reviewers": [reviewer.pk]},
        )  # fmt: skip
    else:
        code = _api(
            user, f"/api/v1/incidents/{draft.pk}/request-review/",
            {"reviewers": [reviewer.username]},
        )  # fmt: skip
    assert _matches(code, REQUEST_REVIEW[role]), (role, code)
    draft.refresh_from_db()
    sent = draft.status == Incident.Status.IN_REVIEW
    assert sent == (REQUEST_REVIEW[role] == "ok")
