"""The recurrence jobs on the real stack: import → worker analysis → structures, and a full
recompute that survives its worker being killed."""

from __future__ import annotations

import re
import signal
import time

import pytest
from rest_framework.test import APIClient

from incidents.analysis.recurrence import recompute_all
from incidents.importers import import_folder
from incidents.models import (
    ApiToken,
    Incident,
    PatternLink,
    PatternScore,
    RecurrenceMembership,
    RecurringStructure,
)
from incidents.tasks import recompute_all_task
from taxonomy.models import StructuralPattern

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _postmortem(n: int, company: str, phrases: str) -> str:
    return (
        f"---\nuuid: 00000000-0000-4000-8000-{n:012d}\nurl: https://example.com/pm/{n}\n"
        f"title: Outage {n} at {company}\ncompany: {company}\nproduct: Product {n}\n"
        f"start_time: 202{n}-01-01T00:00:00Z\nsummary: {phrases}\n---\n\nBody {n}.\n"
    )


def test_imported_post_mortems_are_analysed_by_the_worker_into_structures(
    tmp_path, start_worker, flush_queue
):
    pattern = StructuralPattern.objects.get(slug="retry-amplification")
    # Enough of the pattern's mechanism phrases to pass the worker's text threshold.
    phrases = "; ".join(pattern.entry["match_terms"][:8])
    # One organisation's write-ups a year apart: each later one began after the earlier ones
    # were written up, so the structure recurs (docs/recurrence.md).
    for n in range(1, 4):
        (tmp_path / f"{n}.md").write_text(_postmortem(n, "Alpha", phrases))
    start_worker()

    report = import_folder(tmp_path)
    assert report.created == 3

    wait_for(lambda: not Incident.objects.needing_analysis().exists(), what="worker analysis")
    # The text names the pattern's mechanisms, so the structure may be one of those.
    structures = RecurringStructure.objects.filter(pattern__slug="retry-amplification")
    structure = max(structures, key=lambda s: s.incident_count)
    assert structure.incident_count == 3
    assert structure.recurrence_count == 2  # the second and the third write-up
    assert set(structure.memberships.values_list("basis", flat=True)) == {"text"}


def _bulk_history(count: int) -> None:
    """Many incidents sharing a few patterns, written directly (setup, not the subject)."""
    patterns = list(StructuralPattern.objects.order_by("slug")[:6])
    incidents = Incident.objects.bulk_create(
        Incident(title=f"Incident {n}", summary="Something failed.", status="published")
        for n in range(count)
    )
    PatternLink.objects.bulk_create(
        PatternLink(incident=incident, pattern=patterns[n % len(patterns)], rationale="r")
        for n, incident in enumerate(incidents)
    )


def _state():
    return (
        sorted(RecurrenceMembership.objects.values_list("structure__signature", "incident_id")),
        PatternScore.objects.count(),
        sorted(RecurringStructure.objects.values_list("signature", "incident_count")),
    )


def test_a_full_recompute_killed_mid_run_completes_without_duplicates_after_restart(
    start_worker, flush_queue
):
    # Enough history that the rebuild takes well over the 0.25 s between two looks at the
    # table: with 1,500 reviews it could finish before the kill.
    _bulk_history(8000)
    recompute_all()
    expected = _state()
    # Throw the derived tables away, so an incomplete rebuild would show.
    RecurringStructure.objects.all().delete()
    PatternScore.objects.all().delete()

    first = start_worker(visibility_timeout=3)
    recompute_all_task.apply_async()
    wait_for(lambda: PatternScore.objects.exists(), what="the recompute to start writing")
    first.kill(signal.SIGKILL)
    assert "recompute_all" in first.output()
    assert not re.search(r"recompute_all\[[^\]]+\] succeeded", first.output())

    time.sleep(4)  # past the visibility timeout: the unacknowledged job is handed out again
    second = start_worker(visibility_timeout=3)
    wait_for(
        lambda: re.search(r"recompute_all\[[^\]]+\] succeeded", second.output()),
        timeout=180,
        what="the redelivered recompute to finish",
    )
    assert _state() == expected


def test_the_read_api_sees_the_worker_results(django_user_model):
    user = django_user_model.objects.create(username="reader")
    _, key = ApiToken.generate(name="r", user=user, scope="read")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/recurrences/").status_code == 200
