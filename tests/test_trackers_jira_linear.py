"""Jira Cloud (REST v3, basic auth) and Linear (GraphQL), spoken over real HTTP to local
servers: create, link, done closes (by poll and by webhook), signatures."""

from __future__ import annotations

import json
import time

import pytest

from incidents.models import ActionItem
from trackers import tasks
from trackers.models import TrackedIssue
from trackers.services import poll_connection

from .actions_helpers import item, person, review_with, stored
from .conftest import token_client
from .trackers_helpers import FakeJira, FakeLinear, connect, signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(db):
    return person("owner")


@pytest.fixture
def action(owner):
    review = review_with(item("Stage the config rollout", owner_user=owner))
    return stored(review, "Stage the config rollout")


def _post(owner, action, capture, **body):
    with capture(execute=True):
        return token_client(owner, "write").post(
            f"/api/v1/action-items/{action.pk}/tracker/", body, format="json"
        )


# --- Jira ---------------------------------------------------------------------------------


@pytest.fixture
def jira(httpserver):
    return FakeJira().install(httpserver)


@pytest.fixture
def jira_conn(httpserver, jira):
    return connect(
        httpserver, "jira", "OPS", username="bot@example.com", token="jira-api-token", name="Jira"
    )


def test_jira_create_then_done_in_jira_closes_the_item_by_polling(
    jira, jira_conn, owner, action, django_capture_on_commit_callbacks
):
    answer = _post(
        owner, action, django_capture_on_commit_callbacks, connection=jira_conn.pk, create=True
    )
    assert answer.status_code == 202, answer.content
    link = TrackedIssue.objects.get(action_item=action)
    assert link.state == "linked"
    assert link.key == "OPS-7"
    assert link.url.endswith("/browse/OPS-7")
    created = jira.issues["OPS-7"]["fields"]
    assert created["summary"] == "Stage the config rollout"
    assert created["issuetype"] == {"name": "Task"}
    assert created["labels"] == [f"seams-{link.marker}"]
    description = json.dumps(created["description"])
    assert action.incident.get_absolute_url() in description
    assert jira.auth == {FakeJira.basic("bot@example.com", "jira-api-token")}

    # Nothing changed: the first poll reads the linked issues; nothing moves.
    assert poll_connection(jira_conn.pk).changed == 0
    jira_conn.refresh_from_db()
    assert jira_conn.polled_at is not None

    jira.done("OPS-7")
    polled = tasks.poll_connection_task.apply(args=[jira_conn.pk]).get()
    assert polled["changed"] == 1
    # Later polls ask only for what was updated lately, whatever the account's time zone.
    assert 'key in ("OPS-7") AND updated >= "-' in jira.searches[-1]
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE
    assert action.closed_by.username == f"jira-tracker-{jira_conn.pk}"
    assert TrackedIssue.objects.get(action_item=action).remote_status == "Done"


def test_jira_retry_finds_the_issue_by_its_label_instead_of_creating_another(
    jira, jira_conn, owner, action
):
    from trackers.services import tracked_issue_create

    link = tracked_issue_create(item=action, connection=jira_conn, by=owner)
    assert tasks.push_issue_task.apply(args=[link.pk]).get() == "linked"
    # As if the answer had been lost: the job runs again from the start.
    TrackedIssue.objects.filter(pk=link.pk).update(state="creating", key="")
    assert tasks.push_issue_task.apply(args=[link.pk]).get() == "linked"
    assert jira.created == 1
    link.refresh_from_db()
    assert link.key == "OPS-7"


def _jira_hook(client, conn, payload, **extra):
    return client.post(
        f"/trackers/{conn.pk}/webhook/{extra.pop('query', '')}",
        json.dumps(payload),
        content_type="application/json",
        **extra,
    )


def test_jira_webhook_done_closes_with_a_signature_or_the_secret_in_the_url(
    jira, jira_conn, owner, action, client, django_capture_on_commit_callbacks
):
    _post(owner, action, django_capture_on_commit_callbacks, connection=jira_conn.pk, create=True)
    payload = {
        "webhookEvent": "jira:issue_updated",
        "user": {"displayName": "Ada"},
        "issue": jira.done("OPS-7"),
    }
    body = json.dumps(payload).encode()
    wrong = _jira_hook(client, jira_conn, payload, query="?secret=guess")
    assert wrong.status_code == 403
    unsigned = _jira_hook(client, jira_conn, payload)
    assert unsigned.status_code == 401
    badly_signed = _jira_hook(
        client, jira_conn, payload, HTTP_X_HUB_SIGNATURE="sha256=" + signature("nope", body)
    )
    assert badly_signed.status_code == 403
    action.refresh_from_db()
    assert action.status == ActionItem.Status.OPEN

    signed = _jira_hook(
        client,
        jira_conn,
        payload,
        HTTP_X_HUB_SIGNATURE="sha256=" + signature("hook-secret", body),
    )
    assert signed.status_code == 200, signed.content
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE
    assert TrackedIssue.objects.get(action_item=action).remote_actor == "Ada"


def test_jira_secret_in_the_url_is_accepted(
    jira, jira_conn, owner, action, client, django_capture_on_commit_callbacks
):
    _post(owner, action, django_capture_on_commit_callbacks, connection=jira_conn.pk, create=True)
    payload = {"webhookEvent": "jira:issue_updated", "issue": jira.done("OPS-7")}
    answer = _jira_hook(client, jira_conn, payload, query="?secret=hook-secret")
    assert answer.status_code == 200
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE


def test_jira_link_an_existing_issue_reads_its_state(
    jira, jira_conn, owner, action, django_capture_on_commit_callbacks, httpserver
):
    jira.issues["OPS-40"] = {
        "id": "10400",
        "key": "OPS-40",
        "fields": {"status": {"name": "Done", "statusCategory": {"key": "done"}}, "updated": None},
    }
    httpserver.expect_request("/rest/api/3/issue/OPS-40", method="GET").respond_with_json(
        jira.issues["OPS-40"]
    )
    answer = _post(
        owner,
        action,
        django_capture_on_commit_callbacks,
        connection=jira_conn.pk,
        link="https://acme.atlassian.net/browse/OPS-40",
    )
    assert answer.status_code == 202, answer.content
    link = TrackedIssue.objects.get(action_item=action)
    assert (link.state, link.key, link.external_id) == ("linked", "OPS-40", "10400")
    # Linked to an issue already done: the item is done too.
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE
    assert jira.created == 0


@pytest.mark.parametrize(
    ("reference", "message"),
    [("OTHER-3", "not in OPS"), ("not a key", "Give the issue's key")],
)
def test_jira_link_refuses_a_key_of_another_project_or_none(
    jira_conn, owner, action, django_capture_on_commit_callbacks, reference, message
):
    answer = _post(
        owner, action, django_capture_on_commit_callbacks, connection=jira_conn.pk, link=reference
    )
    assert answer.status_code == 400
    assert message in answer.json()["error"]["message"]
    assert not TrackedIssue.objects.exists()


# --- Linear -------------------------------------------------------------------------------


@pytest.fixture
def linear(httpserver):
    return FakeLinear().install(httpserver)


@pytest.fixture
def linear_conn(httpserver, linear):
    return connect(httpserver, "linear", "ENG", token="lin_api_key", name="Linear")


def test_linear_create_then_completed_in_linear_closes_the_item_by_webhook(
    linear, linear_conn, owner, action, client, django_capture_on_commit_callbacks
):
    answer = _post(
        owner, action, django_capture_on_commit_callbacks, connection=linear_conn.pk, create=True
    )
    assert answer.status_code == 202, answer.content
    link = TrackedIssue.objects.get(action_item=action)
    assert link.state == "linked"
    assert link.key == "ENG-3"
    # The issue's id is Seams' marker: a retry cannot make a second issue.
    assert link.external_id == str(link.marker)
    issue = linear.issues[str(link.marker)]
    assert issue["title"] == "Stage the config rollout"
    assert action.incident.get_absolute_url() in issue["description"]
    assert linear.keys == {"lin_api_key"}

    payload = {
        "action": "update",
        "type": "Issue",
        "actor": {"name": "Grace"},
        "data": linear.complete(str(link.marker)),
        "webhookTimestamp": int(time.time() * 1000),
    }
    body = json.dumps(payload).encode()
    refused = client.post(
        f"/trackers/{linear_conn.pk}/webhook/",
        body,
        content_type="application/json",
        HTTP_LINEAR_SIGNATURE=signature("wrong", body),
    )
    assert refused.status_code == 403
    answer = client.post(
        f"/trackers/{linear_conn.pk}/webhook/",
        body,
        content_type="application/json",
        HTTP_LINEAR_SIGNATURE=signature("hook-secret", body),
    )
    assert answer.status_code == 200, answer.content
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE
    assert action.closed_by.username == f"linear-tracker-{linear_conn.pk}"


def test_linear_refuses_a_replayed_webhook(
    linear, linear_conn, owner, action, client, django_capture_on_commit_callbacks
):
    _post(owner, action, django_capture_on_commit_callbacks, connection=linear_conn.pk, create=True)
    link = TrackedIssue.objects.get(action_item=action)
    payload = {
        "action": "update",
        "type": "Issue",
        "data": linear.complete(str(link.marker)),
        "webhookTimestamp": int((time.time() - 3600) * 1000),
    }
    body = json.dumps(payload).encode()
    answer = client.post(
        f"/trackers/{linear_conn.pk}/webhook/",
        body,
        content_type="application/json",
        HTTP_LINEAR_SIGNATURE=signature("hook-secret", body),
    )
    assert answer.status_code == 403
    action.refresh_from_db()
    assert action.status == ActionItem.Status.OPEN


def test_linear_completed_closes_the_item_by_polling(
    linear, linear_conn, owner, action, django_capture_on_commit_callbacks
):
    _post(owner, action, django_capture_on_commit_callbacks, connection=linear_conn.pk, create=True)
    link = TrackedIssue.objects.get(action_item=action)
    assert poll_connection(linear_conn.pk).changed == 0
    linear.complete(str(link.marker))
    assert poll_connection(linear_conn.pk).changed == 1
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE


def test_linear_retry_after_a_lost_answer_links_the_issue_it_made(
    linear, linear_conn, owner, action
):
    from trackers.services import tracked_issue_create

    link = tracked_issue_create(item=action, connection=linear_conn, by=owner)
    tasks.push_issue_task.apply(args=[link.pk]).get()
    TrackedIssue.objects.filter(pk=link.pk).update(state="creating", key="", external_id="")
    assert tasks.push_issue_task.apply(args=[link.pk]).get() == "linked"
    assert linear.creates == 1
    assert len(linear.issues) == 1
