"""Recurring structures: incidents that share a structural signature, whatever their
components — one pattern, or two patterns that occur together.

An incident's structural patterns are the ones its authors linked, plus the ones its text
shows strongly (how imported reviews, which nobody has tagged yet, join structures). For each
member Seams records the member before it and whether that one's action items were all done
before this incident began — "recurred despite remediation" — and what kind they were.

Analysing one incident touches only the structures of its own patterns, through indexed
lookups, so its cost does not grow with the number of stored incidents. `recompute_all`
rebuilds everything from scratch in bulk, for the nightly job and after catalogue changes.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.dispatch import Signal
from django.utils import timezone

from incidents.models import (
    ActionItem,
    Incident,
    PatternScore,
    RecurrenceMembership,
    RecurringStructure,
    SuggestionDecision,
)
from incidents.selectors import memberships_as_seen
from taxonomy.models import StructuralPattern

from .cost import total_cost
from .similarity import catalogue_pinned, suggest_patterns

logger = logging.getLogger(__name__)


# Sent inside the analysis transaction with the analysed incident (its factors and timeline
# prefetched), and once per chunk of a full recompute with the chunk's incidents. Capabilities
# built on the analysis (the similarity index, duplicate detection) listen here, so this
# module never has to import them.
incident_analysed = Signal()  # sender=Incident, incident=…
incidents_rescored = Signal()  # sender=Incident, incidents=[…]
recompute_started = Signal()  # sender=Incident, before the first chunk


def text_threshold() -> float:
    """How strongly a review's text must show a pattern for it to count structurally."""
    return getattr(settings, "SEAMS_TEXT_PATTERN_THRESHOLD", 0.6)


def signature_for(slugs: Iterable[str]) -> str:
    """The signature of a structure: one pattern, or a co-occurring pair, sorted."""
    ordered = sorted(slugs)
    return ("pattern:" if len(ordered) == 1 else "pair:") + "+".join(ordered)


@dataclass(frozen=True)
class AnalysisResult:
    """What one analysis did: the structures the incident belongs to now."""

    incident_id: int
    structures: tuple[int, ...]
    skipped: bool = False


def review_text(incident: Incident) -> str:
    """All the prose of a review, for finding the mechanisms it describes."""
    parts = [incident.title, incident.summary, incident.impact, incident.narrative]
    parts += [f.text for f in incident.contributing_factors.all()]
    parts += [f"{e.text} {e.why_reasonable}" for e in incident.timeline.all()]
    return "\n".join(p for p in parts if p)


def score_incident(
    incident: Incident,
    *,
    by_slug: dict[str, int] | None = None,
    rejected: set[str] | None = None,
) -> list[PatternScore]:
    """Unsaved PatternScore rows: linked patterns at 1.0, and patterns the text shows,
    except those the authors rejected. Bulk callers pass `by_slug` and `rejected` to save
    two queries per incident."""
    links = {link.pattern_id: link for link in incident.pattern_links.all()}
    if rejected is None:
        rejected = set(
            SuggestionDecision.objects.filter(
                incident=incident, kind="pattern", decision="rejected"
            ).values_list("pattern__slug", flat=True)
        )
    rows = [
        PatternScore(
            incident=incident,
            pattern_id=pattern_id,
            score=1.0,
            basis=PatternScore.Basis.LINKED,
            evidence=[link.rationale[:300]],
        )
        for pattern_id, link in links.items()
    ]
    if by_slug is None:
        by_slug = dict(StructuralPattern.objects.values_list("slug", "id"))
    for suggestion in suggest_patterns(
        text=review_text(incident), limit=50, exclude=frozenset(rejected)
    ):
        pattern_id = by_slug.get(suggestion.slug)
        if pattern_id is None or pattern_id in links:
            continue
        rows.append(
            PatternScore(
                incident=incident,
                pattern_id=pattern_id,
                score=suggestion.score,
                basis=PatternScore.Basis.TEXT,
                evidence=list(suggestion.matched),
            )
        )
    return rows


def structural_slugs(scores: Iterable[PatternScore], slug_of: dict[int, str]) -> dict[str, str]:
    """slug → basis for the patterns that count structurally (linked or strong text)."""
    threshold = text_threshold()
    return {
        slug_of[s.pattern_id]: s.basis
        for s in scores
        if s.basis == PatternScore.Basis.LINKED or s.score >= threshold
    }


def signatures(slugs: dict[str, str]) -> dict[str, tuple[str, str]]:
    """signature → (basis, primary pattern slug) for single patterns and co-occurring pairs."""
    out: dict[str, tuple[str, str]] = {}
    for slug, basis in slugs.items():
        out[signature_for([slug])] = (basis, slug)
    for a, b in itertools.combinations(sorted(slugs), 2):
        basis = "linked" if slugs[a] == slugs[b] == "linked" else "text"
        out[signature_for([a, b])] = (basis, a)
    return out


def _qualifying(pattern_id: int) -> Q:
    return Q(pattern_id=pattern_id) & (
        Q(basis=PatternScore.Basis.LINKED) | Q(score__gte=text_threshold())
    )


def _members_of(signature: str, slug_to_id: dict[str, int]) -> QuerySet[Incident]:
    """All incidents whose stored scores carry this signature."""
    slugs = signature.split(":", 1)[1].split("+")
    incidents = Incident.objects.all()
    for slug in slugs:
        incidents = incidents.filter(
            pk__in=PatternScore.objects.filter(_qualifying(slug_to_id[slug])).values("incident_id")
        )
    return incidents


def remediation_before(incident_id: int | None, when: datetime) -> tuple[bool, list[str]]:
    """Were all of this incident's action items done before `when`? And of which kinds?"""
    if incident_id is None:
        return False, []
    items = list(
        ActionItem.objects.filter(incident_id=incident_id).values_list(
            "status", "completed_at", "kind"
        )
    )
    return _remediated(items, when)


def _remediated(
    items: list[tuple[str, datetime | None, str]], when: datetime
) -> tuple[bool, list[str]]:
    if not items:
        return False, []
    done = all(
        status == ActionItem.Status.DONE and (completed is None or completed <= when)
        for status, completed, _ in items
    )
    return done, sorted({kind for _, _, kind in items})


def _link_previous(membership: RecurrenceMembership) -> None:
    """Point a membership at the member just before it, with the remediation facts."""
    previous = (
        RecurrenceMembership.objects.filter(
            structure_id=membership.structure_id, occurred_at__lt=membership.occurred_at
        )
        .exclude(incident_id=membership.incident_id)
        .order_by("-occurred_at", "-incident_id")
        .values_list("incident_id", flat=True)
        .first()
    )
    done, kinds = remediation_before(previous, membership.occurred_at)
    RecurrenceMembership.objects.filter(pk=membership.pk).update(
        previous_id=previous, after_remediation=done, remediation_kinds=kinds
    )


def _refresh_structure(structure: RecurringStructure) -> None:
    stats = structure.memberships.aggregate(
        n=Count("id"), first=Min("occurred_at"), last=Max("occurred_at")
    )
    structure.incident_count = stats["n"]
    structure.first_seen = stats["first"]
    structure.last_seen = stats["last"]
    structure.recurred_despite_remediation = structure.memberships.filter(
        after_remediation=True
    ).exists()
    recurred = structure.memberships.filter(recurred=True).aggregate(
        n=Count("id"), last=Max("occurred_at")
    )
    structure.recurrence_count = recurred["n"]
    structure.last_recurred_at = recurred["last"]
    cost = total_cost(
        Incident.objects.filter(recurrence_memberships__structure=structure).values_list(
            "severity", "started_at", "resolved_at", "users_affected_count"
        )
    )
    structure.weighted_hours = cost.weighted_hours
    structure.weighted_hours_unknown = cost.weighted_hours_unknown
    structure.users_affected = cost.users_affected
    structure.users_affected_unknown = cost.users_affected_unknown
    slugs = structure.signature.split(":", 1)[1].split("+")
    structure.kind = "pair" if len(slugs) > 1 else "pattern"
    names = dict(StructuralPattern.objects.filter(slug__in=slugs).values_list("slug", "name"))
    structure.name = " + ".join(names.get(s, s) for s in slugs)
    structure.save(
        update_fields=[
            "incident_count", "first_seen", "last_seen", "recurred_despite_remediation",
            "recurrence_count", "last_recurred_at", "weighted_hours", "weighted_hours_unknown",
            "users_affected", "users_affected_unknown", "kind", "name", "updated_at",
        ]
    )  # fmt: skip


def _create_structure(
    signature: str, slugs: list[str], slug_to_id: dict[str, int]
) -> RecurringStructure:
    """Create a structure and fill it with every incident that already carries it."""
    structure, created = RecurringStructure.objects.get_or_create(
        signature=signature, defaults={"pattern_id": slug_to_id[slugs[0]]}
    )
    if created:
        structure.patterns.set([slug_to_id[s] for s in slugs])
    members = list(_members_of(signature, slug_to_id).only("id", "started_at", "created_at"))
    # A member counts as "linked" only if an author linked every pattern of the signature.
    pattern_ids = [slug_to_id[s] for s in slugs]
    linked = defaultdict(int)
    for incident_id in PatternScore.objects.filter(
        incident_id__in=[m.pk for m in members],
        pattern_id__in=pattern_ids,
        basis=PatternScore.Basis.LINKED,
    ).values_list("incident_id", flat=True):
        linked[incident_id] += 1
    for member in members:
        member.basis = "linked" if linked[member.pk] == len(pattern_ids) else "text"
    _write_memberships(structure, members)
    return structure


def _write_memberships(structure: RecurringStructure, members: list[Incident]) -> None:
    """Replace a structure's memberships, with each member's predecessor and remediation."""
    members.sort(key=lambda i: (i.occurred_at, i.pk))
    items: dict[int, list] = defaultdict(list)
    for incident_id, status, completed, kind in ActionItem.objects.filter(
        incident_id__in=[m.pk for m in members]
    ).values_list("incident_id", "status", "completed_at", "kind"):
        items[incident_id].append((status, completed, kind))
    rows = []
    previous: Incident | None = None
    for member in members:
        done, kinds = (
            _remediated(items[previous.pk], member.occurred_at) if previous else (False, [])
        )
        rows.append(
            RecurrenceMembership(
                structure=structure,
                incident_id=member.pk,
                occurred_at=member.occurred_at,
                reviewed_at=member.created_at,
                basis=getattr(member, "basis", "linked"),
                previous_id=previous.pk if previous else None,
                recurred=previous is not None,
                after_remediation=done,
                remediation_kinds=kinds,
            )
        )
        previous = member
    structure.memberships.all().delete()
    RecurrenceMembership.objects.bulk_create(rows, batch_size=2000)
    _refresh_structure(structure)


def analyse_incident(*, incident_id: int) -> AnalysisResult:
    """Score the incident's patterns and bring its recurrence memberships in line.

    Idempotent: scores are replaced, memberships guarded by unique constraints, and the
    incident is marked analysed only if no newer save asked for analysis meanwhile.
    """
    with transaction.atomic():
        incident = (
            Incident.objects.filter(pk=incident_id)
            .prefetch_related("pattern_links", "contributing_factors", "timeline")
            .first()
        )
        if incident is None:
            # Deleted after the job was queued: nothing to analyse, nothing to retry.
            return AnalysisResult(incident_id, (), skipped=True)
        requested = incident.analysis_requested_at
        slug_to_id = dict(StructuralPattern.objects.values_list("slug", "id"))
        slug_of = {v: k for k, v in slug_to_id.items()}

        scores = score_incident(incident)
        PatternScore.objects.filter(incident=incident).delete()
        PatternScore.objects.bulk_create(scores)
        wanted = signatures(structural_slugs(scores, slug_of))

        stale = RecurrenceMembership.objects.filter(incident=incident).exclude(
            structure__signature__in=wanted
        )
        touched = {m.structure_id for m in stale}
        followers = list(
            RecurrenceMembership.objects.filter(previous_id=incident.pk).exclude(
                structure__signature__in=wanted
            )
        )
        stale.delete()
        for follower in followers:
            _link_previous(follower)

        member_of: list[int] = []
        occurred = incident.occurred_at
        for signature, (basis, _) in wanted.items():
            structure = RecurringStructure.objects.filter(signature=signature).first()
            if structure is None:
                slugs = signature.split(":", 1)[1].split("+")
                if not _members_of(signature, slug_to_id).exclude(pk=incident.pk).exists():
                    continue  # the first incident with this structure: no recurrence yet
                structure = _create_structure(signature, slugs, slug_to_id)
            membership, _ = RecurrenceMembership.objects.update_or_create(
                structure=structure,
                incident=incident,
                defaults={"occurred_at": occurred, "basis": basis},
            )
            _link_previous(membership)
            # An incident dated before others (an import of an old review) becomes the
            # predecessor of the one after it.
            later = (
                RecurrenceMembership.objects.filter(structure=structure, occurred_at__gt=occurred)
                .order_by("occurred_at", "incident_id")
                .first()
            )
            if later is not None:
                _link_previous(later)
            touched.add(structure.pk)
            member_of.append(structure.pk)

        for structure in RecurringStructure.objects.filter(pk__in=touched):
            if structure.memberships.count() < 2:
                structure.delete()  # one incident alone is not a recurrence
            else:
                _refresh_structure(structure)

        incident_analysed.send(sender=Incident, incident=incident)
        Incident.objects.filter(pk=incident_id, analysis_requested_at=requested).update(
            analysed_at=timezone.now()
        )
    return AnalysisResult(incident_id, tuple(sorted(member_of)))


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _score_all(
    ids: list[int],
    chunk: int,
    progress,
    slug_to_id: dict[str, int],
    slug_of: dict[int, str],
    by_signature: dict[str, list[tuple[int, str]]],
) -> None:
    """The scoring pass of `recompute_all`: every review's pattern scores, chunk by chunk,
    each chunk in its own transaction; collects each review's structural signatures."""
    for batch in progress(_chunks(ids, chunk), (len(ids) + chunk - 1) // chunk):
        incidents = Incident.objects.filter(pk__in=batch).prefetch_related(
            "pattern_links", "contributing_factors", "timeline"
        )
        rows: list[PatternScore] = []
        rejected: dict[int, set[str]] = defaultdict(set)
        for incident_id, slug in SuggestionDecision.objects.filter(
            incident_id__in=batch, kind="pattern", decision="rejected"
        ).values_list("incident_id", "pattern__slug"):
            rejected[incident_id].add(slug)
        with transaction.atomic():
            for incident in incidents:
                scores = score_incident(
                    incident, by_slug=slug_to_id, rejected=rejected[incident.pk]
                )
                rows.extend(scores)
                for signature, (basis, _) in signatures(structural_slugs(scores, slug_of)).items():
                    by_signature[signature].append((incident.pk, basis))
            PatternScore.objects.filter(incident_id__in=batch).delete()
            PatternScore.objects.bulk_create(rows, batch_size=2000)
            incidents_rescored.send(sender=Incident, incidents=list(incidents))


def recompute_all(*, chunk: int = 500, progress=lambda it, total: it) -> int:
    """Rebuild every score and structure from the reviews. Safe to interrupt and rerun: each
    chunk of scores and each structure is rewritten in its own transaction, replacing what
    was there, so a rerun after a crash converges to the same complete result."""
    started = timezone.now()
    slug_to_id = dict(StructuralPattern.objects.values_list("slug", "id"))
    slug_of = {v: k for k, v in slug_to_id.items()}
    ids = list(Incident.objects.order_by("pk").values_list("pk", flat=True))

    by_signature: dict[str, list[tuple[int, str]]] = defaultdict(list)
    recompute_started.send(sender=Incident)
    with catalogue_pinned():
        _score_all(ids, chunk, progress, slug_to_id, slug_of, by_signature)

    occurred = {
        pk: started_at or created_at
        for pk, started_at, created_at in Incident.objects.values_list(
            "pk", "started_at", "created_at"
        ).iterator(chunk_size=5000)
    }
    kept: set[str] = set()
    for signature, members in by_signature.items():
        if len(members) < 2:
            continue
        kept.add(signature)
        slugs = signature.split(":", 1)[1].split("+")
        with transaction.atomic():
            structure, created = RecurringStructure.objects.get_or_create(
                signature=signature, defaults={"pattern_id": slug_to_id[slugs[0]]}
            )
            if created:
                structure.patterns.set([slug_to_id[s] for s in slugs])
            incidents = []
            for pk, basis in members:
                stub = Incident(pk=pk, started_at=occurred[pk], created_at=occurred[pk])
                stub.basis = basis
                incidents.append(stub)
            _write_memberships(structure, incidents)
    with transaction.atomic():
        RecurringStructure.objects.exclude(signature__in=kept).delete()
        Incident.objects.filter(analysis_requested_at__lte=started).update(
            analysed_at=timezone.now()
        )
    return len(kept)


def earlier_in_same_structure(*, incident: Incident, visible: QuerySet[Incident]):
    """For the incident page: earlier incidents that share a single-pattern structure with
    this one, among those the reader may see, with their components, ordered by pattern."""
    mine = RecurrenceMembership.objects.filter(
        incident=incident, structure__signature__startswith="pattern:"
    )
    return (
        RecurrenceMembership.objects.filter(
            structure__in=mine.values("structure_id"),
            occurred_at__lt=incident.occurred_at,
            incident__in=visible,
        )
        .exclude(incident=incident)
        .select_related("incident", "structure__pattern")
        .prefetch_related("incident__components")
        .annotate(
            # Judged against the member before this one that the reader may see: the stored
            # flag may rest on a restricted review's action items.
            this_after_remediation=Subquery(
                memberships_as_seen(visible)
                .filter(incident=incident, structure_id=OuterRef("structure_id"))
                .values("reader_after_remediation")[:1]
            )
        )
        .order_by("structure__pattern__name", "-occurred_at")
    )
