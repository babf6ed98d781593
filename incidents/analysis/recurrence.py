"""Recurring structures: incidents that share a structural pattern, whatever their components.

Analysing one incident touches only the structures of the patterns it links to, through
indexed lookups, so its cost does not grow with the number of stored incidents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

from incidents.models import (
    Incident,
    PatternLink,
    RecurrenceMembership,
    RecurringStructure,
)

logger = logging.getLogger(__name__)


def signature_for_pattern(slug: str) -> str:
    """The signature of the structure "incidents showing this one pattern"."""
    return f"pattern:{slug}"


@dataclass(frozen=True)
class AnalysisResult:
    """What one analysis did: the structures the incident belongs to now."""

    incident_id: int
    structures: tuple[int, ...]
    skipped: bool = False


def _refresh_bounds(structure: RecurringStructure) -> None:
    bounds = structure.memberships.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    structure.first_seen = bounds["first"]
    structure.last_seen = bounds["last"]
    structure.save(update_fields=["first_seen", "last_seen", "updated_at"])


def analyse_incident(*, incident_id: int) -> AnalysisResult:
    """Bring the incident's recurrence memberships in line with its pattern links.

    Idempotent: running it twice leaves the same rows (unique constraints and get-or-create
    guard every insert), and it marks the incident analysed only if no newer save asked for
    another analysis while it ran.
    """
    with transaction.atomic():
        incident = Incident.objects.filter(pk=incident_id).first()
        if incident is None:
            # Deleted after the job was queued: nothing to analyse, nothing to retry.
            return AnalysisResult(incident_id, (), skipped=True)
        requested = incident.analysis_requested_at
        occurred = incident.occurred_at
        links = list(PatternLink.objects.filter(incident=incident).select_related("pattern"))
        wanted_signatures = {signature_for_pattern(link.pattern.slug) for link in links}

        # Leave structures whose pattern the review no longer claims.
        stale = RecurrenceMembership.objects.filter(incident=incident).exclude(
            structure__signature__in=wanted_signatures
        )
        touched = {m.structure_id for m in stale}
        stale.delete()

        member_of: list[int] = []
        for link in links:
            signature = signature_for_pattern(link.pattern.slug)
            structure = RecurringStructure.objects.filter(signature=signature).first()
            if structure is None:
                earlier = list(
                    PatternLink.objects.filter(pattern=link.pattern)
                    .exclude(incident=incident)
                    .select_related("incident")
                )
                if not earlier:
                    continue  # the first incident with this pattern: no recurrence yet
                structure, _ = RecurringStructure.objects.get_or_create(
                    signature=signature, defaults={"pattern": link.pattern}
                )
                RecurrenceMembership.objects.bulk_create(
                    [
                        RecurrenceMembership(
                            structure=structure,
                            incident=other.incident,
                            occurred_at=other.incident.occurred_at,
                        )
                        for other in earlier
                    ],
                    ignore_conflicts=True,
                )
            RecurrenceMembership.objects.update_or_create(
                structure=structure, incident=incident, defaults={"occurred_at": occurred}
            )
            touched.add(structure.pk)
            member_of.append(structure.pk)

        for structure in RecurringStructure.objects.filter(pk__in=touched):
            if structure.memberships.count() < 2:
                # One incident alone is not a recurrence.
                structure.delete()
            else:
                _refresh_bounds(structure)

        # Conditional: a save that arrived during this analysis keeps the incident stale,
        # so its own analysis (or the sweep) runs again rather than being lost.
        Incident.objects.filter(pk=incident_id, analysis_requested_at=requested).update(
            analysed_at=timezone.now()
        )
    return AnalysisResult(incident_id, tuple(sorted(member_of)))


def earlier_in_same_structure(*, incident: Incident, visible: QuerySet[Incident]):
    """For the incident page: earlier incidents that share a recurring structure with this
    one, among those the reader may see, with their components, ordered by pattern."""
    return (
        RecurrenceMembership.objects.filter(
            structure__memberships__incident=incident,
            occurred_at__lt=incident.occurred_at,
            incident__in=visible,
        )
        .exclude(incident=incident)
        .select_related("incident", "structure__pattern")
        .prefetch_related("incident__components")
        .order_by("structure__pattern__name", "-occurred_at")
    )
