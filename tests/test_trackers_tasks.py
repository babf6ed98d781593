"""The tracker jobs: pinned names, reliability options, backoff with full jitter and a cap,
the beat entries, and a request made while the broker is down."""

from __future__ import annotations

import socket

import pytest

from config.celery_app import app
from trackers import tasks
from trackers.models import TrackedIssue

from .actions_helpers import item, person, review_with, stored
from .brokers import broker
from .conftest import token_client
from .trackers_helpers import FakeGitHub, connect


def test_task_names_are_pinned():
    # Queued messages refer to tasks by name; renaming one strands every queued job.
    ours = sorted(name for name in app.tasks if name.startswith("trackers."))
    assert ours == ["trackers.poll", "trackers.poll_connection", "trackers.push_issue",
                    "trackers.push_status", "trackers.sweep"]  # fmt: skip


@pytest.mark.parametrize(
    "task",
    [tasks.push_issue_task, tasks.push_status_task, tasks.poll_connection_task, tasks.poll_task,
     tasks.sweep_task],
)  # fmt: skip
def test_jobs_ack_late_and_have_time_limits(task):
    assert task.acks_late is True
    assert 0 < task.soft_time_limit < task.time_limit


@pytest.mark.parametrize(
    "task", [tasks.push_issue_task, tasks.push_status_task, tasks.poll_connection_task]
)
def test_jobs_that_call_a_tracker_are_retried_a_bounded_number_of_times(task):
    assert task.reject_on_worker_lost is True
    assert 0 < task.max_retries <= 10
    # Its lease on a link outlasts the job, so a second job never overlaps a running one.
    from trackers.services import CLAIM_FOR

    assert CLAIM_FOR.total_seconds() > task.time_limit


def test_backoff_is_exponential_with_full_jitter_and_a_cap():
    for retries in range(12):
        ceiling = min(tasks.BACKOFF_CAP, tasks.BACKOFF_BASE * 2**retries)
        waits = [tasks.backoff(retries) for _ in range(200)]
        assert all(0 <= wait <= ceiling for wait in waits)
        # Full jitter: spread over the whole range, not bunched at its top.
        assert min(waits) < ceiling / 4
        assert max(waits) > ceiling * 3 / 4
    assert max(tasks.backoff(50) for _ in range(100)) <= tasks.BACKOFF_CAP


def test_beat_polls_the_trackers_and_sweeps_lost_links_and_expires_stale_runs():
    poll = app.conf.beat_schedule["poll-trackers"]
    assert poll["task"] == tasks.poll_task.name
    assert 0 < poll["options"]["expires"] < poll["schedule"]
    sweep = app.conf.beat_schedule["sweep-tracker-links"]
    assert sweep["task"] == tasks.sweep_task.name
    assert 0 < sweep["options"]["expires"] < sweep["schedule"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket closes


@pytest.mark.django_db(transaction=True)
def test_a_link_asked_for_while_the_broker_is_down_is_accepted_and_made_by_the_sweep(
    httpserver,
):
    github = FakeGitHub().install(httpserver)
    conn = connect(httpserver, "github", "acme/api")
    owner = person("owner")
    action = stored(review_with(item("Shed load early", owner_user=owner)), "Shed load early")
    with broker(f"redis://127.0.0.1:{_closed_port()}/0"):
        answer = token_client(owner, "write").post(
            f"/api/v1/action-items/{action.pk}/tracker/",
            {"connection": conn.pk, "create": True},
            format="json",
        )
        assert answer.status_code == 202
        assert answer.json()["state"] == "creating"
        assert github.requests == []
    # The broker is back (here: in-process jobs); the sweep catches the link up, once.
    assert tasks.sweep(grace_seconds=0) == 1
    link = TrackedIssue.objects.get()
    assert link.state == "linked"
    assert len(github.issues) == 1
    assert tasks.sweep(grace_seconds=0) == 0
