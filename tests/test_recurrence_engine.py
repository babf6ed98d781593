"""The recurrence engine on a hand-built history where the right answers are known."""

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.analysis.concentration import hotspots
from incidents.analysis.recurrence import analyse_incident, recompute_all
from incidents.models import (
    Component,
    Incident,
    PatternScore,
    RecurrenceMembership,
    RecurringStructure,
)
from taxonomy.models import StructuralPattern

from .factories import GroupFactory

pytestmark = pytest.mark.django_db
T0 = timezone.now() - dt.timedelta(days=900)


def _reviewed_a_week_later(*incidents):
    """Reviews written in Seams a week after each incident began (the factory writes them
    now), then analysed again in the order they were written, as they would have been."""
    for incident in incidents:
        Incident.objects.filter(pk=incident.pk).update(
            created_at=incident.started_at + dt.timedelta(days=7)
        )
    for incident in incidents:
        analyse_incident(incident_id=incident.pk)


def _with_actions(save_review, *, title, patterns, when, actions, components=(), **fields):
    content = services.ReviewContent(
        fields={"title": title, "started_at": when, **fields},
        components=list(components),
        patterns=[
            services.PatternClaim(pattern=StructuralPattern.objects.get(slug=s), rationale="r")
            for s in patterns
        ],
        actions=[
            services.ActionEntry(
                title=t,
                status=status,
                kind=kind,
                completed_at=done,
                pattern=StructuralPattern.objects.get(slug=aim) if aim else None,
            )
            for t, status, kind, done, *rest in actions
            for aim in [rest[0] if rest else None]
        ],
    )
    return services.incident_create(by=None, content=content)


@pytest.fixture
def history(django_capture_on_commit_callbacks):
    """2019: a regex outage whose component patches were all done by mid-2020, one of them
    aimed at fast global propagation. 2025: the same structure through other components.
    2023: a new structure, once. Each reviewed a week after it began."""
    with django_capture_on_commit_callbacks(execute=True):
        waf = _with_actions(
            None,
            title="Regex pins edge CPU",
            patterns=["fast-global-propagation", "untested-input-regime"],
            when=T0,
            components=["WAF"],
            actions=[
                ("Restore CPU limit", "done", "component_patch", T0 + dt.timedelta(days=30)),
                ("Linear-time regex engine", "done", "component_patch", T0 + dt.timedelta(days=90)),
                (
                    "Stage managed-rule rollout",
                    "done",
                    "component_patch",
                    T0 + dt.timedelta(days=120),
                    "fast-global-propagation",
                ),
            ],
        )
        other = _with_actions(
            None,
            title="Unrelated disk issue",
            patterns=["slack-erosion"],
            when=T0 + dt.timedelta(days=300),
            components=["Disk"],
            actions=[("Bigger disks", "open", "component_patch", None)],
        )
        bots = _with_actions(
            None,
            title="Feature file panics proxy",
            patterns=["fast-global-propagation", "hard-limit-without-fallback"],
            when=T0 + dt.timedelta(days=800),
            components=["Feature pipeline", "Proxy"],
            actions=[("Fallback to last good file", "open", "structural_fix", None)],
        )
        _reviewed_a_week_later(waf, other, bots)
    return waf, other, bots


def test_a_structure_that_came_back_after_its_patches_were_done_is_flagged(history):
    waf, _, bots = history
    structure = RecurringStructure.objects.get(signature="pattern:fast-global-propagation")
    assert structure.incident_count == 2
    assert structure.recurred_despite_remediation
    later = RecurrenceMembership.objects.get(structure=structure, incident=bots)
    assert later.previous_id == waf.pk
    assert later.after_remediation
    assert later.remediation_kinds == ["component_patch"]
    # a structure seen once is not a recurrence
    assert not RecurringStructure.objects.filter(signature="pattern:slack-erosion").exists()


def test_not_flagged_when_the_earlier_actions_were_still_open(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        a = _with_actions(
            None, title="A", patterns=["retry-amplification"], when=T0,
            actions=[("Jitter", "in_progress", "component_patch", None, "retry-amplification")],
        )  # fmt: skip
        b = _with_actions(
            None, title="B", patterns=["retry-amplification"], when=T0 + dt.timedelta(days=9),
            actions=[],
        )  # fmt: skip
        _reviewed_a_week_later(a, b)
    structure = RecurringStructure.objects.get()
    assert structure.recurrence_count == 1
    assert not structure.recurred_despite_remediation


def test_an_old_review_imported_later_becomes_the_predecessor(
    history, django_capture_on_commit_callbacks
):
    waf, _, bots = history
    with django_capture_on_commit_callbacks(execute=True):
        # Imported: its review existed outside Seams, a month after the incident ended.
        older = _with_actions(
            None, title="2015 config push", patterns=["fast-global-propagation"],
            when=T0 - dt.timedelta(days=1500), actions=[], external_id="elsewhere:2015",
        )  # fmt: skip
    structure = RecurringStructure.objects.get(signature="pattern:fast-global-propagation")
    assert structure.incident_count == 3
    assert structure.first_seen == older.started_at
    assert (
        RecurrenceMembership.objects.get(structure=structure, incident=waf).previous_id == older.pk
    )
    assert (
        RecurrenceMembership.objects.get(structure=structure, incident=bots).previous_id == waf.pk
    )


def test_full_recompute_gives_the_same_answer_as_incremental_analysis_and_is_idempotent(history):
    def state():
        return sorted(
            RecurrenceMembership.objects.values_list(
                "structure__signature", "incident_id", "previous_id", "after_remediation"
            )
        ), sorted(PatternScore.objects.values_list("incident_id", "pattern__slug", "basis"))

    incremental = state()
    recompute_all()
    assert state() == incremental
    recompute_all()
    assert state() == incremental
    assert not Incident.objects.needing_analysis().exists()


def test_full_recompute_reads_the_catalogue_once_not_per_review(save_review):
    def catalogue_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            recompute_all()
        return sum('FROM "taxonomy_structuralpattern"' in q["sql"] for q in captured)

    for n in range(3):
        save_review(title=f"R{n}", summary="A retry storm hit the queue.")
    few = catalogue_queries()
    for n in range(9):
        save_review(title=f"S{n}", summary="A retry storm hit the queue.")
    assert catalogue_queries() == few
    # ... and outside a recompute a catalogue edit is seen by the next suggestion at once
    from incidents.analysis.similarity import suggest_patterns

    pattern = StructuralPattern.objects.get(slug="retry-amplification")
    pattern.aliases = [*pattern.aliases, "thundering parrot"]
    pattern.save()
    assert "retry-amplification" in {s.slug for s in suggest_patterns(text="a thundering parrot")}


def test_text_that_shows_a_pattern_strongly_joins_its_structure(save_review, settings):
    settings.SEAMS_TEXT_PATTERN_THRESHOLD = 0.3
    pattern = StructuralPattern.objects.get(slug="retry-amplification")
    phrases = ". ".join(pattern.entry["match_terms"][:4])
    tagged = save_review(
        title="Tagged", patterns=["retry-amplification"], summary=f"What happened: {phrases}."
    )
    untagged = save_review(title="Imported", summary=f"What happened: {phrases}.")
    score = PatternScore.objects.get(incident=untagged, pattern=pattern)
    assert score.basis == "text"
    assert score.evidence
    # Where the text names one of the pattern's mechanisms, the structure is the mechanism.
    memberships = list(RecurrenceMembership.objects.filter(incident=untagged))
    assert memberships
    assert {m.structure.mechanism for m in memberships} == set(score.mechanisms)
    for membership in memberships:
        assert membership.basis == "text"
        assert membership.recurred
        structure = membership.structure
        assert structure.kind == "mechanism"
        assert set(structure.incidents.all()) == {tagged, untagged}
        assert structure.name.startswith("Retry amplification: ")


def test_a_weak_phrase_match_joins_no_structure(save_review):
    save_review(title="Tagged", patterns=["retry-amplification"])
    weak = save_review(title="Imported", summary="A retry happened.")
    assert not RecurrenceMembership.objects.filter(incident=weak).exists()


def test_analysing_one_incident_costs_the_same_queries_with_more_history(save_review):
    def cost() -> int:
        incident = save_review(title="New", patterns=["alert-fatigue", "metric-myopia"])
        Incident.objects.filter(pk=incident.pk).update(analysed_at=None)
        with CaptureQueriesContext(connection) as queries:
            analyse_incident(incident_id=incident.pk)
        return len(queries)

    for n in range(3):
        save_review(title=f"Old {n}", patterns=["alert-fatigue", "metric-myopia"])
    small = cost()
    for n in range(30):
        save_review(title=f"Older {n}", patterns=["alert-fatigue", "metric-myopia"])
    assert cost() == small


def test_hotspots_count_incidents_through_dependencies(save_review):
    save_review(title="A", components=["Checkout"])
    save_review(title="B", components=["Search"])
    save_review(title="C", components=["Object store"])
    store = Component.objects.get(name="Object store")
    for name in ("Checkout", "Search"):
        Component.objects.get(name=name).depends_on.add(store)
    ranked = hotspots(incidents=Incident.objects.all())
    assert ranked[0].component == store
    assert ranked[0].incident_count == 3
    assert len(ranked[0].direct) == 1
    assert len(ranked[0].via_dependency) == 2


def test_a_structure_only_a_restricted_review_makes_recur_is_not_shown(
    logged_in, history, django_assert_max_num_queries
):
    waf, _, _ = history
    Incident.objects.filter(pk=waf.pk).update(restricted_to=GroupFactory())
    # Session, user; structures, patterns, members hidden from the reader; the structure
    # judged again over the others (figures, stored flags, members judged again, their
    # kinds of action); hotspots
    # (dependencies, component links); the filters' shapes, patterns, components; the
    # reader's permissions for the menu (2).
    with django_assert_max_num_queries(16):
        html = logged_in.get(reverse("incidents:recurrences")).content.decode()
    assert "Regex pins edge CPU" not in html
    # The 2025 review alone is no recurrence for this reader, and "despite remediation"
    # judged the hidden review's action items.
    assert "Feature file panics proxy" not in html
    assert "Recurred despite remediation" not in html
    assert "No structure has recurred yet." in html


def test_recurrences_api_filters_and_flags(read_api, history):
    data = read_api.get("/api/v1/recurrences/?despite_remediation=true").json()["results"]
    assert {r["signature"] for r in data} == {"pattern:fast-global-propagation"}
    row = data[0]
    assert row["recurred_despite_remediation"] is True
    assert row["incidents"][1]["after_remediation"] is True
    assert row["incidents"][1]["remediation_kinds"] == ["component_patch"]
    assert row["mean_interval_days"] == pytest.approx(800, abs=1)
    assert read_api.get("/api/v1/recurrences/?pattern=nope").status_code == 400
    assert read_api.get("/api/v1/recurrences/?despite_remediation=maybe").status_code == 400
    assert json.dumps(row)


def test_detail_page_says_it_came_back_despite_remediation_and_suggests_the_shape(
    logged_in, history
):
    _, _, bots = history
    html = logged_in.get(bots.get_absolute_url()).content.decode()
    assert "came back after the action items an earlier review aimed at it" in html
    assert "suggests adding the shape" in html
