"""Recurring structures: found across different components, idempotent, kept up to date."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.analysis.recurrence import analyse_incident, recompute_all
from incidents.models import Incident, RecurrenceMembership, RecurringStructure
from incidents.selectors import earlier_in_same_structure
from taxonomy.models import StructuralPattern

from .factories import GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

YEARS_AGO = timezone.now() - dt.timedelta(days=6 * 365)


def test_a_shared_pattern_through_different_components_is_a_recurrence(save_review):
    first = save_review(
        title="Regex rule pins edge CPU",
        patterns=["fast-global-propagation", "untested-input-regime"],
        components=["WAF rules", "Config distribution"],
        started_at=YEARS_AGO,
    )
    assert not RecurringStructure.objects.exists()  # one incident alone is no recurrence

    second = save_review(
        title="Oversized feature file panics proxy",
        patterns=["fast-global-propagation", "hard-limit-without-fallback"],
        components=["Feature file pipeline", "Core proxy"],
    )

    structure = RecurringStructure.objects.get()
    assert structure.pattern.slug == "fast-global-propagation"
    assert set(structure.incidents.all()) == {first, second}
    assert structure.first_seen == first.started_at
    assert structure.last_seen == second.started_at

    superuser = UserFactory(is_superuser=True)
    seen = earlier_in_same_structure(incident=second, user=superuser)
    assert [m.incident for m in seen] == [first]
    assert {c.name for c in seen[0].incident.components.all()} == {
        "WAF rules",
        "Config distribution",
    }
    # and the earlier incident does not list the later one as "seen before"
    assert earlier_in_same_structure(incident=first, user=superuser) == []


def test_analysing_twice_changes_nothing(save_review):
    save_review(patterns=["slack-erosion"], started_at=YEARS_AGO)
    second = save_review(patterns=["slack-erosion"])
    before = list(RecurrenceMembership.objects.values_list("structure_id", "incident_id"))

    analyse_incident(incident_id=second.pk)
    analyse_incident(incident_id=second.pk)

    after = list(RecurrenceMembership.objects.values_list("structure_id", "incident_id"))
    assert sorted(before) == sorted(after)
    assert RecurringStructure.objects.count() == 1


def test_the_recompute_rewrites_only_memberships_that_differ(save_review):
    save_review(patterns=["slack-erosion"], started_at=YEARS_AGO)
    second = save_review(patterns=["slack-erosion"])
    recompute_all()
    ids = sorted(RecurrenceMembership.objects.values_list("pk", flat=True))
    recompute_all()
    assert sorted(RecurrenceMembership.objects.values_list("pk", flat=True)) == ids

    # A membership changed behind the analysis is put right, every field of it.
    RecurrenceMembership.objects.filter(incident=second).update(
        recurred=False, previous=None, aimed_kinds=["component_patch"]
    )
    recompute_all()
    repaired = RecurrenceMembership.objects.get(incident=second)
    assert repaired.recurred
    assert repaired.previous_id is not None
    assert repaired.aimed_kinds == []


def test_unlinking_the_pattern_dissolves_the_recurrence(
    save_review, django_capture_on_commit_callbacks
):
    save_review(patterns=["alert-fatigue"], started_at=YEARS_AGO)
    second = save_review(patterns=["alert-fatigue"])
    assert RecurringStructure.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.incident_update(
            incident=second, by=None, content=services.ReviewContent(fields={}, patterns=[])
        )

    assert not RecurringStructure.objects.exists()
    assert not RecurrenceMembership.objects.exists()


def test_a_save_during_analysis_keeps_the_incident_marked_for_another_run(save_review):
    incident = save_review(patterns=["metric-myopia"])
    incident.refresh_from_db()
    assert incident.analysed_at is not None

    # A newer save asks again; an analysis that read the older request must not clear it.
    stale_request = incident.analysis_requested_at
    Incident.objects.filter(pk=incident.pk).update(analysis_requested_at=timezone.now())
    Incident.objects.filter(pk=incident.pk, analysis_requested_at=stale_request).update(
        analysed_at=timezone.now()
    )
    assert Incident.objects.needing_analysis().filter(pk=incident.pk).exists()

    analyse_incident(incident_id=incident.pk)
    assert not Incident.objects.needing_analysis().filter(pk=incident.pk).exists()


def test_analysis_of_a_deleted_incident_is_a_no_op():
    result = analyse_incident(incident_id=987654)
    assert result.skipped


def test_concurrent_edit_is_refused_and_nothing_is_written(save_review):
    incident = save_review(title="Original", patterns=["automation-irony"])
    loaded_version = incident.version
    services.incident_update(
        incident=incident,
        by=None,
        content=services.ReviewContent(fields={"title": "First editor"}),
        expected_version=loaded_version,
    )
    with pytest.raises(services.ConcurrentEditError):
        services.incident_update(
            incident=Incident.objects.get(pk=incident.pk),
            by=None,
            content=services.ReviewContent(fields={"title": "Second editor"}),
            expected_version=loaded_version,
        )
    incident.refresh_from_db()
    assert incident.title == "First editor"
    assert incident.version == loaded_version + 1


def test_components_with_the_same_name_are_one_component(save_review):
    a = save_review(components=["Core Proxy"])
    b = save_review(components=["core proxy", "Core  Proxy "])
    assert a.components.get() == b.components.get()


def test_pattern_links_keep_who_added_them(save_review, user):
    incident = save_review(patterns=["retry-amplification"], by=user)
    link = incident.pattern_links.get()
    assert link.added_by == user
    assert link.pattern == StructuralPattern.objects.get(slug="retry-amplification")


def _structures_and_secrets(save_review, n_patterns: int) -> None:
    """Open reviews sharing `n_patterns` patterns (each pattern a structure; every review
    shows them all, so no pair co-occurs beyond chance), and a restricted review in every
    one of those structures."""
    slugs = list(StructuralPattern.objects.order_by("slug").values_list("slug", flat=True))
    chosen = slugs[:n_patterns]
    opened = [
        save_review(title=f"Open {n}", patterns=chosen, components=[f"Part {n}"],
                    started_at=YEARS_AGO + dt.timedelta(days=n))
        for n in range(3)
    ]  # fmt: skip
    # Reviewed the day each began, so each recurs after the one before.
    for incident in opened:
        Incident.objects.filter(pk=incident.pk).update(created_at=incident.started_at)
    recompute_all()
    hidden = save_review(title="Hidden", patterns=chosen, components=["Vault"])
    Incident.objects.filter(pk=hidden.pk).update(restricted_to=GroupFactory())


def _queries(logged_in, read_api) -> tuple[int, int]:
    read_api.get("/api/v1/")  # the token's first use of the minute is recorded: not counted
    with CaptureQueriesContext(connection) as page:
        assert logged_in.get("/recurrences/").status_code == 200
    with CaptureQueriesContext(connection) as api:
        rows = read_api.get("/api/v1/recurrences/?page_size=100").json()["results"]
    assert rows
    assert all(row["incident_count"] == 3 for row in rows)  # the hidden one not counted
    return len(page), len(api)


def test_the_recurrences_list_costs_the_same_queries_with_many_structures(
    save_review, logged_in, read_api
):
    _structures_and_secrets(save_review, 2)  # 2 structures (a pair needs more than chance)
    few = _queries(logged_in, read_api)
    RecurringStructure.objects.all().delete()
    Incident.objects.all().delete()
    _structures_and_secrets(save_review, 6)  # 6 patterns: 6 structures
    assert RecurringStructure.objects.count() == 6
    assert _queries(logged_in, read_api) == few
