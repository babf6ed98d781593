"""Status flowing out: an item closed or reopened in Seams closes or reopens its issue, where
the connection says so, in GitHub, Jira and Linear (spoken over real HTTP to local servers);
never a change the tracker made, never twice, and caught up when its job was lost."""

from __future__ import annotations

import json

import pytest

from incidents import services as review_services
from incidents.models import ActionItem
from incidents.revisions import snapshot
from notifications.models import Notification
from trackers import tasks
from trackers.models import TrackedIssue

from .actions_helpers import item, person, review_with, stored
from .conftest import token_client
from .trackers_helpers import FakeGitHub, FakeJira, FakeLinear, connect, signature

pytestmark = pytest.mark.django_db

TITLE = "Add a fallback for the feature file"


@pytest.fixture
def owner(db):
    return person("owner")


@pytest.fixture
def action(owner):
    return stored(review_with(item(TITLE, owner_user=owner)), TITLE)


def _link(owner, action, connection, capture, **body) -> TrackedIssue:
    with capture(execute=True):
        answer = token_client(owner, "write").post(
            f"/api/v1/action-items/{action.pk}/tracker/",
            {"connection": connection.pk, **(body or {"create": True})},
            format="json",
        )
    assert answer.status_code == 202, answer.content
    link = TrackedIssue.objects.get(action_item=action)
    assert link.state == "linked", link.last_error
    return link


def _set(action, status, by, capture):
    """Close or reopen the item in Seams, as its page's buttons do, and run what follows."""
    with capture(execute=True):
        review_services.action_item_set_status(item=action, by=by, status=status)
    action.refresh_from_db()
    return TrackedIssue.objects.get(action_item=action)


# --- GitHub -------------------------------------------------------------------------------


@pytest.fixture
def github(httpserver):
    return FakeGitHub().install(httpserver)


@pytest.fixture
def conn(httpserver, github):
    return connect(httpserver, "github", "acme/api", name="GitHub acme/api", close_from_seams=True)


@pytest.fixture
def linked(owner, action, conn, django_capture_on_commit_callbacks):
    return _link(owner, action, conn, django_capture_on_commit_callbacks)


def test_done_in_seams_closes_the_issue_as_completed_and_reopening_reopens_it(
    owner, action, linked, github, django_capture_on_commit_callbacks
):
    link = _set(action, "done", owner, django_capture_on_commit_callbacks)
    assert github.issues[12]["state"] == "closed"
    assert github.issues[12]["state_reason"] == "completed"
    assert (link.remote_state, link.remote_status) == ("done", "closed (completed)")
    assert link.push_wanted_at is None
    assert action.closed_by == owner  # still the person who closed it, not the tracker
    link = _set(action, "open", owner, django_capture_on_commit_callbacks)
    assert github.issues[12]["state"] == "open"
    assert link.remote_state == "open"
    assert len(github.patches()) == 2


def test_wont_do_in_seams_closes_the_issue_as_not_planned(
    owner, action, linked, github, django_capture_on_commit_callbacks
):
    _set(action, "wont_do", owner, django_capture_on_commit_callbacks)
    assert github.issues[12]["state_reason"] == "not_planned"
    assert TrackedIssue.objects.get().remote_state == "wont_do"
    # Won't do and done are both closed: changing one to the other sends nothing.
    _set(action, "done", owner, django_capture_on_commit_callbacks)
    assert len(github.patches()) == 1


def test_a_whole_review_save_closing_an_item_closes_its_issue_and_an_untouched_one_sends_nothing(
    owner, action, linked, github, django_capture_on_commit_callbacks
):
    incident = action.incident
    content = review_services.content_from_snapshot(snapshot(incident))
    with django_capture_on_commit_callbacks(execute=True):
        review_services.incident_update(incident=incident, by=owner, content=content)
    assert github.patches() == []  # saved untouched: nothing changed, nothing sent
    content = review_services.content_from_snapshot(snapshot(incident))
    [entry] = content.actions
    entry.status = ActionItem.Status.DONE
    with django_capture_on_commit_callbacks(execute=True):
        review_services.incident_update(incident=incident, by=owner, content=content)
    assert github.issues[12]["state"] == "closed"
    # In progress is as open as open: no call.
    _set(action, "open", owner, django_capture_on_commit_callbacks)
    _set(action, "in_progress", owner, django_capture_on_commit_callbacks)
    assert len(github.patches()) == 2


def _hook(client, conn, payload, capture):
    body = json.dumps(payload).encode()
    with capture(execute=True):
        return client.post(
            f"/trackers/{conn.pk}/webhook/",
            body,
            content_type="application/json",
            HTTP_X_GITHUB_EVENT="issues",
            HTTP_X_HUB_SIGNATURE_256="sha256=" + signature("hook-secret", body),
        )


def test_a_close_or_reopen_that_came_from_github_is_not_sent_back(
    action, linked, conn, github, client, django_capture_on_commit_callbacks
):
    closed = _hook(client, conn, github.event("closed", github.close(12)),
                   django_capture_on_commit_callbacks)  # fmt: skip
    assert closed.json()["status"] == "done"
    reopened = _hook(client, conn, github.event("reopened", github.reopen(12)),
                     django_capture_on_commit_callbacks)  # fmt: skip
    assert reopened.json()["status"] == "open"
    assert github.patches() == []
    assert TrackedIssue.objects.get().push_wanted_at is None


def test_a_connection_that_does_not_close_from_seams_sends_nothing(
    owner, action, linked, conn, github, django_capture_on_commit_callbacks
):
    conn.close_from_seams = False
    conn.save()
    link = _set(action, "done", owner, django_capture_on_commit_callbacks)
    assert github.patches() == []
    assert github.issues[12]["state"] == "open"
    assert link.push_wanted_at is None
    # Switched on later, it sends the changes made from then on, not the ones before.
    conn.close_from_seams = True
    conn.save()
    assert tasks.sweep(grace_seconds=0) == 0
    _set(action, "open", owner, django_capture_on_commit_callbacks)
    assert github.patches() == []  # open in Seams, open in GitHub: nothing to do
    _set(action, "done", owner, django_capture_on_commit_callbacks)
    assert github.issues[12]["state"] == "closed"


def test_a_lost_job_is_sent_by_the_sweep_and_a_job_run_twice_sends_once(
    owner, action, linked, github, client
):
    # Closed, but its job never ran (the broker was down): no on-commit callbacks here.
    review_services.action_item_set_status(item=action, by=owner, status="done")
    link = TrackedIssue.objects.get()
    assert link.push_wanted_at is not None
    client.force_login(owner)
    page = client.get(action.incident.get_absolute_url()).content.decode()
    assert "Updating it in GitHub acme/api…" in page
    assert tasks.sweep(grace_seconds=3600) == 0  # still within its grace period
    assert tasks.sweep(grace_seconds=0) == 1
    assert github.issues[12]["state"] == "closed"
    assert tasks.push_status_task.apply(args=[link.pk]).get() == "unchanged"
    assert tasks.sweep(grace_seconds=0) == 0
    assert len(github.patches()) == 1


def test_a_failing_tracker_is_retried_then_the_failure_is_shown_and_told(
    owner, action, linked, github, client, django_capture_on_commit_callbacks
):
    github.fail_with = 502
    link = _set(action, "done", owner, django_capture_on_commit_callbacks)
    assert len(github.patches()) == 1 + tasks.MAX_RETRIES
    assert action.status == "done"  # the change stays made in Seams
    assert link.push_wanted_at is None
    assert link.last_error.startswith("Could not close #12 in GitHub acme/api: PATCH")
    assert "502" in link.last_error
    [told] = Notification.objects.filter(recipient=owner, kind="tracker_sync_failed")
    assert "Could not close #12" in told.text
    client.force_login(owner)
    page = client.get(action.incident.get_absolute_url()).content.decode()
    assert "Could not close #12 in GitHub acme/api" in page
    body = token_client(owner, "read").get(f"/api/v1/action-items/{action.pk}/tracker/").json()
    assert body["error"] == link.last_error
    # The next change of the item clears it (reopened: Seams and GitHub agree again).
    github.fail_with = None
    link = _set(action, "open", owner, django_capture_on_commit_callbacks)
    assert link.last_error == ""


def test_an_error_no_retry_helps_is_recorded_at_once(
    owner, action, linked, github, django_capture_on_commit_callbacks
):
    github.fail_with = 403
    link = _set(action, "done", owner, django_capture_on_commit_callbacks)
    assert len(github.patches()) == 1
    assert "403" in link.last_error


# --- Jira ---------------------------------------------------------------------------------


@pytest.fixture
def jira(httpserver):
    return FakeJira().install(httpserver)


@pytest.fixture
def jira_conn(httpserver, jira):
    return connect(
        httpserver, "jira", "OPS", username="bot@example.com", token="jira-api-token",
        name="Jira", close_from_seams=True,
    )  # fmt: skip


def test_jira_follows_its_workflow_into_done_and_out_again(
    owner, action, jira, jira_conn, django_capture_on_commit_callbacks
):
    _link(owner, action, jira_conn, django_capture_on_commit_callbacks)
    link = _set(action, "done", owner, django_capture_on_commit_callbacks)
    assert jira.moved == [("OPS-7", "Done")]
    assert (link.remote_state, link.remote_status) == ("done", "Done")
    link = _set(action, "open", owner, django_capture_on_commit_callbacks)
    assert jira.moved[-1] == ("OPS-7", "To Do")
    assert link.remote_state == "open"


def test_jira_without_a_transition_to_done_says_so(
    owner, action, jira, jira_conn, django_capture_on_commit_callbacks
):
    _link(owner, action, jira_conn, django_capture_on_commit_callbacks)
    jira.MOVES = {"To Do": ["21"]}  # this workflow goes through In Progress first
    link = _set(action, "done", owner, django_capture_on_commit_callbacks)
    assert jira.moved == []
    assert "no transition into a Done status" in link.last_error


# --- Linear -------------------------------------------------------------------------------


@pytest.fixture
def linear(httpserver):
    return FakeLinear().install(httpserver)


@pytest.fixture
def linear_conn(httpserver, linear):
    return connect(
        httpserver, "linear", "ENG", token="lin_api_key", name="Linear", close_from_seams=True
    )


@pytest.mark.parametrize(("status", "state"), [("done", "Done"), ("wont_do", "Canceled")])
def test_linear_moves_the_issue_to_its_teams_first_state_of_the_right_type(
    owner, action, linear, linear_conn, django_capture_on_commit_callbacks, status, state
):
    link = _link(owner, action, linear_conn, django_capture_on_commit_callbacks)
    link = _set(action, status, owner, django_capture_on_commit_callbacks)
    assert linear.updates == [(link.key, state)]
    assert link.remote_status == state
    link = _set(action, "open", owner, django_capture_on_commit_callbacks)
    assert linear.updates[-1] == (link.key, "Todo")
    assert link.remote_state == "open"
