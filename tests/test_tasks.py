"""Background jobs: stable names, the reliability options, and saves that survive a dead broker."""

import socket

import pytest
from django.db import transaction

from config.celery_app import app
from incidents.models import Incident, RecurrenceMembership
from incidents.tasks import (
    analyse_incident_task,
    enqueue_analysis,
    recompute_all_task,
    sweep_stale_analyses,
    sweep_stale_analyses_task,
)
from reports.tasks import generate_report_task, sweep_stale_reports_task

from .brokers import broker
from .factories import review


def test_task_names_are_pinned():
    # Queued messages refer to tasks by name; renaming one strands every queued job.
    ours = sorted(name for name in app.tasks if name.startswith(("incidents.", "reports.")))
    assert ours == [
        "incidents.analyse_incident",
        "incidents.generate_report",  # now in reports.tasks, under the name queued jobs carry
        "incidents.recompute_all",
        "incidents.sweep_stale_analyses",
        "reports.sweep_stale_reports",
    ]


@pytest.mark.parametrize(
    "task",
    [
        analyse_incident_task,
        sweep_stale_analyses_task,
        recompute_all_task,
        generate_report_task,
        sweep_stale_reports_task,
    ],
)
def test_tasks_ack_late_have_time_limits_and_capped_jittered_backoff(task):
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert 0 < task.soft_time_limit < task.time_limit
    assert task.retry_backoff
    assert task.retry_jitter is True
    assert task.retry_backoff_max <= 300
    assert 0 < task.max_retries <= 10
    assert task.autoretry_for


def test_beat_runs_the_sweep_and_the_nightly_recompute_and_expires_stale_runs():
    entry = app.conf.beat_schedule["sweep-stale-analyses"]
    assert entry["task"] == sweep_stale_analyses_task.name
    assert 0 < entry["options"]["expires"] < entry["schedule"]
    reports = app.conf.beat_schedule["sweep-stale-reports"]
    assert reports["task"] == sweep_stale_reports_task.name
    assert 0 < reports["options"]["expires"] < reports["schedule"]
    nightly = app.conf.beat_schedule["recompute-recurrences"]
    assert nightly["task"] == recompute_all_task.name
    assert nightly["options"]["expires"] > 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket closes


@pytest.mark.django_db(transaction=True)
def test_a_review_saved_while_the_broker_is_down_is_kept_and_analysed_later_exactly_once():
    review(title="Earlier", patterns=["recovery-untested-at-scale"])  # analysed in-process

    with broker(f"redis://127.0.0.1:{_closed_port()}/0"):
        with transaction.atomic():
            later = review(title="Saved during outage", patterns=["recovery-untested-at-scale"])
        # The save committed even though the job could not be queued.
        assert Incident.objects.filter(pk=later.pk).exists()
        assert Incident.objects.needing_analysis().filter(pk=later.pk).exists()
        assert not RecurrenceMembership.objects.filter(incident=later).exists()
        # A second attempt to queue fails without raising into the caller.
        assert enqueue_analysis(later.pk) is False

    # The broker is back (here: in-process jobs); the sweep catches the review up.
    assert sweep_stale_analyses(grace_seconds=0) == 1
    assert not Incident.objects.needing_analysis().exists()
    assert RecurrenceMembership.objects.filter(incident=later).count() == 1
    # A further sweep finds nothing left to do.
    assert sweep_stale_analyses(grace_seconds=0) == 0
    assert RecurrenceMembership.objects.filter(incident=later).count() == 1
