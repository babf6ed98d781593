"""A real Celery worker, through the real Redis and PostgreSQL, creates a GitHub issue on a
local GitHub server after one lost answer (without making a second issue), and a poll it
runs closes the action item once the issue is closed there."""

from __future__ import annotations

import pytest

from incidents.models import ActionItem
from incidents.services import action_item_set_status
from tests.actions_helpers import item, person, review_with, stored
from tests.trackers_helpers import FakeGitHub, connect
from trackers import tasks
from trackers.models import TrackedIssue
from trackers.services import tracked_issue_create

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_worker_creates_the_issue_once_and_a_poll_closes_the_item(
    httpserver, start_worker, flush_queue
):
    worker = start_worker()
    github = FakeGitHub(lose_create_answers=1).install(httpserver)
    conn = connect(httpserver, "github", "acme/api")
    owner = person("owner")
    action = stored(review_with(item("Cap the retries", owner_user=owner)), "Cap the retries")

    link = tracked_issue_create(item=action, connection=conn, by=owner)  # queued on commit

    def linked() -> bool:
        link.refresh_from_db()
        return link.state == TrackedIssue.State.LINKED

    wait_for(linked, timeout=60, what="the worker to create and link the issue")
    assert "trackers.push_issue" in worker.output()
    assert link.key == "#12"
    assert len(github.issues) == 1  # the retry found the issue the lost answer had made
    assert [m for m, _ in github.requests].count("POST") == 1

    github.close(12)
    tasks.poll_task.delay()

    def closed() -> bool:
        action.refresh_from_db()
        return action.status == ActionItem.Status.DONE

    wait_for(closed, timeout=60, what="the worker's poll to close the item")
    assert action.closed_by.username == f"github-tracker-{conn.pk}"


def test_an_item_closed_in_seams_is_closed_in_github_by_the_worker_and_not_sent_back(
    httpserver, start_worker, flush_queue
):
    """The change is noted in the save's transaction on PostgreSQL, queued after commit
    through Redis, and sent by the worker; the webhook-free poll that follows finds GitHub
    agreeing and sends nothing back."""
    worker = start_worker()
    github = FakeGitHub().install(httpserver)
    conn = connect(httpserver, "github", "acme/api", close_from_seams=True)
    owner = person("owner")
    action = stored(review_with(item("Stage the rollout", owner_user=owner)), "Stage the rollout")
    link = tracked_issue_create(item=action, connection=conn, by=owner)

    def linked() -> bool:
        link.refresh_from_db()
        return link.state == TrackedIssue.State.LINKED

    wait_for(linked, timeout=60, what="the worker to create and link the issue")

    action_item_set_status(item=action, by=owner, status=ActionItem.Status.DONE)

    def closed_there() -> bool:
        link.refresh_from_db()
        return github.issues[12]["state"] == "closed" and link.push_wanted_at is None

    wait_for(closed_there, timeout=60, what="the worker to close the GitHub issue")
    assert "trackers.push_status" in worker.output()
    assert github.issues[12]["state_reason"] == "completed"
    assert link.remote_state == TrackedIssue.Remote.DONE
    reads = [m for m, _ in github.requests].count("GET")
    tasks.poll_task.delay()
    wait_for(
        lambda: [m for m, _ in github.requests].count("GET") > reads,
        timeout=60,
        what="the worker's poll to read the issue",
    )
    action.refresh_from_db()
    assert action.status == ActionItem.Status.DONE
    assert action.closed_by == owner
    assert [m for m, _ in github.requests].count("PATCH") == 1
