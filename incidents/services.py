"""Every write to a review goes through these functions: the web UI, the API, the demo loader
and the importers all call them, so the rules (one transaction, a new version, analysis
requested after commit) hold whichever door a change came through."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from taxonomy.models import EmergentShape, LeverageLevel, StructuralPattern

from .models import (
    ActionItem,
    Component,
    ContributingFactor,
    Incident,
    PatternLink,
    TimelineEvent,
)

logger = logging.getLogger(__name__)

# Scalar fields of Incident that a review's author may set.
EDITABLE_FIELDS = (
    "title",
    "status",
    "severity",
    "started_at",
    "detected_at",
    "mitigated_at",
    "resolved_at",
    "summary",
    "impact",
    "users_affected",
    "narrative",
    "went_well",
    "where_lucky",
    "complexity",
    "coupling",
    "restricted_to",
    "external_id",
    "source_url",
)


@dataclass
class TimelineEntry:
    """One timeline event as an author wrote it."""

    occurred_at: datetime
    text: str
    kind: str = TimelineEvent.Kind.OBSERVATION
    why_reasonable: str = ""


@dataclass
class ActionEntry:
    """One action item as an author wrote it."""

    title: str
    owner: str = ""
    status: str = ActionItem.Status.OPEN
    due: date | None = None
    tracker_url: str = ""
    kind: str = ActionItem.Kind.COMPONENT_PATCH
    leverage_level: LeverageLevel | None = None
    pattern: StructuralPattern | None = None


@dataclass
class PatternClaim:
    """An author's claim that the incident shows a pattern, and why."""

    pattern: StructuralPattern
    rationale: str


@dataclass
class ReviewContent:
    """Everything a review says: the incident's fields and all its parts."""

    fields: dict[str, Any]
    shapes: list[EmergentShape] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    factors: list[str] = field(default_factory=list)
    actions: list[ActionEntry] = field(default_factory=list)
    patterns: list[PatternClaim] = field(default_factory=list)


class ConcurrentEditError(Exception):
    """Someone else saved the review since this editor loaded it."""

    def __init__(self, incident: Incident, expected_version: int) -> None:
        self.incident = incident
        self.expected_version = expected_version
        super().__init__(
            f"Incident {incident.pk} is at version {incident.version}, "
            f"not {expected_version}: it was changed by someone else meanwhile."
        )


def components_named(names: list[str]) -> list[Component]:
    """The components with these names, creating the ones Seams has not seen yet.

    Names that differ only in case or punctuation are the same component (same slug).
    """
    result: list[Component] = []
    seen: set[str] = set()
    for raw in names:
        name = raw.strip()
        slug = slugify(name)[:200]
        if not name or not slug or slug in seen:
            continue
        seen.add(slug)
        component, _ = Component.objects.get_or_create(slug=slug, defaults={"name": name[:200]})
        result.append(component)
    return result


def _write_parts(incident: Incident, content: ReviewContent, by: AbstractBaseUser | None) -> None:
    incident.shapes.set(content.shapes)
    incident.components.set(components_named(content.components))
    incident.timeline.all().delete()
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            occurred_at=e.occurred_at,
            kind=e.kind,
            text=e.text,
            why_reasonable=e.why_reasonable,
        )
        for e in content.timeline
    )
    incident.contributing_factors.all().delete()
    ContributingFactor.objects.bulk_create(
        ContributingFactor(incident=incident, text=text, position=i)
        for i, text in enumerate(content.factors)
    )
    incident.action_items.all().delete()
    ActionItem.objects.bulk_create(
        ActionItem(
            incident=incident,
            title=a.title,
            owner=a.owner,
            status=a.status,
            due=a.due,
            tracker_url=a.tracker_url,
            kind=a.kind,
            leverage_level=a.leverage_level,
            pattern=a.pattern,
        )
        for a in content.actions
    )
    # Pattern links keep who added them and when, so only changed links are rewritten.
    wanted = {claim.pattern.pk: claim for claim in content.patterns}
    existing = {link.pattern_id: link for link in incident.pattern_links.all()}
    incident.pattern_links.exclude(pattern_id__in=wanted).delete()
    for pattern_id, claim in wanted.items():
        link = existing.get(pattern_id)
        if link is None:
            PatternLink.objects.create(
                incident=incident, pattern=claim.pattern, rationale=claim.rationale, added_by=by
            )
        elif link.rationale != claim.rationale:
            link.rationale = claim.rationale
            link.save(update_fields=["rationale"])


def _request_analysis(incident: Incident) -> None:
    """Mark the incident as needing analysis and queue the job once the write is committed.

    The mark is written in the same transaction as the review, so if queueing fails (broker
    down) or the worker dies, the sweep still finds the incident and catches it up.
    """
    from .tasks import enqueue_analysis

    now = timezone.now()
    Incident.objects.filter(pk=incident.pk).update(analysis_requested_at=now)
    incident.analysis_requested_at = now
    transaction.on_commit(lambda: enqueue_analysis(incident.pk))


def incident_create(*, by: AbstractBaseUser | None, content: ReviewContent) -> Incident:
    """Create a review with all its parts, and ask for it to be analysed after commit."""
    unknown = set(content.fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        incident = Incident.objects.create(created_by=by, **content.fields)
        _write_parts(incident, content, by)
        _request_analysis(incident)
    return incident


def incident_update(
    *,
    incident: Incident,
    by: AbstractBaseUser | None,
    content: ReviewContent,
    expected_version: int | None = None,
) -> Incident:
    """Replace a review's content, refusing if it changed since `expected_version` was read.

    The version check is a conditional UPDATE, so two simultaneous saves cannot both pass it.
    """
    unknown = set(content.fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        version_filter = {} if expected_version is None else {"version": expected_version}
        bumped = Incident.objects.filter(pk=incident.pk, **version_filter).update(
            version=F("version") + 1, updated_at=timezone.now()
        )
        if not bumped:
            incident.refresh_from_db()
            raise ConcurrentEditError(incident, expected_version or 0)
        for name, value in content.fields.items():
            setattr(incident, name, value)
        incident.save(update_fields=[*content.fields, "updated_at"])
        incident.refresh_from_db(fields=["version"])
        _write_parts(incident, content, by)
        _request_analysis(incident)
    return incident
