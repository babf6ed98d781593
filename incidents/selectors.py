"""Reads shared by pages and the API: what a user may see of derived analysis."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, QuerySet

from .models import Incident, RecurrenceMembership, RecurringStructure


def recurring_structures_for(
    user: AbstractBaseUser | AnonymousUser,
    *,
    pattern_slug: str | None = None,
    despite_remediation: bool | None = None,
) -> QuerySet[RecurringStructure]:
    """Recurring structures with only the memberships this user may see prefetched (as
    `visible_memberships`). Structures are listed for everyone — their size counts every
    incident — but a restricted incident's title, dates and components only reach its group."""
    visible = Incident.objects.visible_to(user)
    members = (
        RecurrenceMembership.objects.filter(incident__in=visible)
        .select_related("incident")
        .prefetch_related("incident__components")
        .order_by("occurred_at", "incident_id")
    )
    structures = (
        RecurringStructure.objects.filter(incident_count__gte=2)
        .select_related("pattern")
        .prefetch_related(
            "patterns", Prefetch("memberships", members, to_attr="visible_memberships")
        )
        .order_by("-last_seen", "id")
    )
    if pattern_slug:
        structures = structures.filter(patterns__slug=pattern_slug)
    if despite_remediation is not None:
        structures = structures.filter(recurred_despite_remediation=despite_remediation)
    return structures
