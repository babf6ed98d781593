"""The full recompute's scoring pass: the same pattern scores and structures as analysing each
review on its own, and nothing rewritten that did not change."""

import datetime as dt
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from incidents.analysis.recurrence import analyse_incident, recompute_all, score_incident
from incidents.analysis.similarity import PhraseFinder, normalise, suggest_patterns
from incidents.models import (
    Incident,
    PatternScore,
    RecurrenceMembership,
    RecurringStructure,
    SuggestionDecision,
)
from similarity.models import IndexedDocument
from taxonomy.models import StructuralPattern
from taxonomy.selectors import mechanisms

pytestmark = pytest.mark.django_db

T0 = timezone.now() - dt.timedelta(days=3 * 365)


def scores() -> list[tuple]:
    return sorted(
        PatternScore.objects.values_list(
            "incident_id", "pattern__slug", "score", "basis", "evidence", "mechanisms"
        )
    )


def structures() -> list[tuple]:
    return sorted(
        RecurringStructure.objects.values_list(
            "signature", "kind", "mechanism", "incident_count", "recurrence_count",
            "first_seen", "last_seen", "recurred_despite_remediation",
        )
    )  # fmt: skip


def memberships() -> list[tuple]:
    return sorted(
        RecurrenceMembership.objects.values_list(
            "structure__signature", "incident_id", "basis", "previous_id", "recurred",
            "after_remediation", "occurred_at", "reviewed_at",
        )
    )  # fmt: skip


def score_writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if '"incidents_patternscore"' in q["sql"]
        and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


@pytest.fixture
def archive(db, settings, django_capture_on_commit_callbacks):
    """Reviews whose text shows patterns and names their mechanisms in every part a review
    has (summary, factors, timeline, a phrase split across the title and the summary), some
    linked by their authors, one with a suggestion rejected: each analysed as it was saved."""
    settings.SEAMS_TEXT_PATTERN_THRESHOLD = 0.3
    by_pattern = {}
    for m in mechanisms():
        by_pattern.setdefault(m.pattern_slug, m)
    chosen = []
    for pattern in StructuralPattern.objects.order_by("slug"):
        terms = [t for t in pattern.entry.get("match_terms", []) if len(t.split()) >= 2]
        if pattern.slug in by_pattern and len(terms) >= 3:
            chosen.append((pattern, terms, by_pattern[pattern.slug]))
    assert len(chosen) >= 3, "the shipped catalogue has patterns with mechanisms"
    saved = []
    for n, (pattern, terms, mechanism) in enumerate(chosen[:3]):
        first, *rest = terms[0].split()
        for k in range(3):
            when = T0 + dt.timedelta(days=100 * k + n)
            content = services.ReviewContent(
                fields={
                    "title": f"Review {n}-{k}: then {first}",
                    "summary": f"{' '.join(rest)} happened. Also {terms[1]}.",
                    "started_at": when,
                    "resolved_at": when + dt.timedelta(hours=2),
                    # Imported: reviewed a month after it ended, before the next one began.
                    "external_id": f"elsewhere:{n}-{k}",
                },
                timeline=[
                    services.TimelineEntry(when, f"We saw {mechanism.name}.", "trigger"),
                    services.TimelineEntry(when, "Paged.", "detection", why_reasonable=terms[2]),
                ],
                factors=["A change that was correct on its own.", f"Nobody owned {terms[1]}."],
                patterns=(
                    [services.PatternClaim(pattern=pattern, rationale="Linked.")] if k == 0 else []
                ),
            )
            with django_capture_on_commit_callbacks(execute=True):
                saved.append(services.incident_create(by=None, content=content))
    # An author rejected one text suggestion: the recompute must not bring it back.
    rejected = saved[4]
    shown = PatternScore.objects.filter(incident=rejected, basis="text").first()
    SuggestionDecision.objects.create(
        incident=rejected, kind="pattern", pattern_id=shown.pattern_id, decision="rejected"
    )
    analyse_incident(incident_id=rejected.pk)
    return saved


def test_the_recompute_leaves_the_scores_and_structures_analysing_each_review_left(archive):
    incremental = scores(), structures(), memberships()
    # What the test is about: text scores with mechanisms, linked ones, structures.
    assert {row[3] for row in incremental[0]} == {"linked", "text"}
    assert any(row[5] for row in incremental[0] if row[3] == "text")
    assert any(kind == "mechanism" for _, kind, *_ in incremental[1])
    assert incremental[2]

    # Stored scores gone wrong in every way a row can: the recompute puts them right.
    first = PatternScore.objects.order_by("pk")
    PatternScore.objects.filter(pk=first[0].pk).update(score=0.01)
    PatternScore.objects.filter(pk=first[1].pk).update(evidence=["nothing"], mechanisms=["x"])
    PatternScore.objects.filter(pk=first[2].pk).delete()
    stray = StructuralPattern.objects.exclude(
        pk__in=PatternScore.objects.filter(incident=archive[0]).values("pattern_id")
    ).first()
    PatternScore.objects.create(
        incident=archive[0], pattern=stray, score=0.9, basis="text", evidence=[], mechanisms=[]
    )
    assert scores() != incremental[0]

    recompute_all()
    assert (scores(), structures(), memberships()) == incremental
    # ... and each review's scores are those of scoring it alone.
    for incident in Incident.objects.all():
        alone = sorted(
            (s.pattern_id, s.score, s.basis, s.evidence, s.mechanisms)
            for s in score_incident(incident)
        )
        assert alone == sorted(
            PatternScore.objects.filter(incident=incident).values_list(
                "pattern_id", "score", "basis", "evidence", "mechanisms"
            )
        )


def test_a_rerun_over_unchanged_reviews_writes_no_score(archive):
    recompute_all()
    before = scores(), structures(), memberships()
    ids = sorted(PatternScore.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as captured:
        recompute_all()
    assert score_writes(captured) == []
    assert sorted(PatternScore.objects.values_list("pk", flat=True)) == ids
    assert (scores(), structures(), memberships()) == before


def test_a_review_changed_behind_the_analysis_is_rescored_and_only_it(archive, settings):
    recompute_all()
    changed, other = archive[1], archive[7]
    other_rows = sorted(PatternScore.objects.filter(incident=other).values_list("pk", "score"))
    pattern = StructuralPattern.objects.get(slug="retry-amplification")
    terms = pattern.entry["match_terms"][:3]
    # Written around the services (an import, a hand edit): no analysis ran.
    Incident.objects.filter(pk=changed.pk).update(summary=" and ".join(terms) + ".")
    assert not PatternScore.objects.filter(incident=changed, pattern=pattern).exists()

    with CaptureQueriesContext(connection) as captured:
        recompute_all()
    assert score_writes(captured)
    assert PatternScore.objects.get(incident=changed, pattern=pattern).basis == "text"
    changed.refresh_from_db()
    assert sorted(
        PatternScore.objects.filter(incident=changed).values_list("pattern_id", "score", "basis")
    ) == sorted((s.pattern_id, s.score, s.basis) for s in score_incident(changed))
    # The other reviews' rows were left as they were, not rewritten.
    assert (
        sorted(PatternScore.objects.filter(incident=other).values_list("pk", "score")) == other_rows
    )


def test_a_catalogue_edit_reaches_the_scores_at_the_next_recompute(archive):
    recompute_all()
    target = archive[2]
    pattern = StructuralPattern.objects.get(slug="retry-amplification")
    Incident.objects.filter(pk=target.pk).update(impact="A thundering parrot of retries.")
    recompute_all()
    before = PatternScore.objects.filter(incident=target, pattern=pattern).first()
    pattern.aliases = [*pattern.aliases, "thundering parrot"]
    pattern.save()
    recompute_all()
    after = PatternScore.objects.get(incident=target, pattern=pattern)
    assert "thundering parrot" in after.evidence
    assert before is None or before.evidence != after.evidence


def test_phrase_finder_says_what_a_substring_search_says():
    """The recompute finds phrases through `PhraseFinder`; it must agree with searching for
    each phrase, for any phrase and any text, normalised or not."""
    rng = random.Random(13)
    vocabulary = ["retry", "storm", "cache", "expiry", "no", "one", "owns", "it", "a", "b"]
    phrases = {" ".join(rng.choices(vocabulary, k=rng.randint(1, 3))) for _ in range(60)}
    phrases |= {"", " ", "retry  storm", " cache", "expiry ", "owns-it", "a'b"}
    finder = PhraseFinder(phrases)
    for _ in range(400):
        text = " ".join(rng.choices([*vocabulary, "owns-it", "a'b", "x"], k=rng.randint(0, 12)))
        for haystack in (normalise(text), text, f" {text}", f"{text} ", f" {text}  "):
            assert finder(haystack) == {p for p in phrases if f" {p} " in haystack}, haystack


def test_suggestions_are_the_same_from_the_text_or_from_its_phrases():
    pattern = StructuralPattern.objects.get(slug="retry-amplification")
    text = "Title\n" + ". ".join(pattern.entry["match_terms"][:3]) + ", with a cache stampede."
    haystack = normalise(text)
    assert suggest_patterns(text=text, limit=50)
    assert suggest_patterns(text=text, limit=50) == suggest_patterns(haystack=haystack, limit=50)
    # What is matched is the phrases found: none found, nothing suggested.
    assert suggest_patterns(haystack=haystack, found=set(), limit=50) == []


def test_a_recompute_reindexes_a_review_whose_indexed_copy_is_stale(archive):
    recompute_all()  # remembers what the index was built on: the next one is incremental
    stale = archive[3]
    Incident.objects.filter(pk=stale.pk).update(title="Quokka outage", version=stale.version + 5)
    IndexedDocument.objects.filter(incident=archive[5]).delete()
    recompute_all()
    assert IndexedDocument.objects.get(incident=stale).title.startswith("Quokka")
    assert IndexedDocument.objects.get(incident=stale).indexed_version == stale.version + 5
    assert IndexedDocument.objects.filter(incident=archive[5]).exists()
