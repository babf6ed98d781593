"""Reading possible duplicates: for other apps (lists, the similarity engine) and pages."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, Q, QuerySet

from incidents.models import Incident

from .models import PossibleDuplicate

User = AbstractBaseUser | AnonymousUser


def merged_away_ids() -> QuerySet:
    """Ids of reviews merged into another one (a values list, usable as a subquery).

    A merged copy stays readable; lists and searches that want each incident once can
    `.exclude(pk__in=merged_away_ids())`. It names no review's content, so using it never
    reveals a restricted review.
    """
    merged = PossibleDuplicate.objects.filter(status=PossibleDuplicate.Status.MERGED)
    # The merged-away review is whichever one of the pair is not the primary.
    return (
        Incident.objects.filter(
            Q(pk__in=merged.exclude(primary=F("first")).values("first"))
            | Q(pk__in=merged.exclude(primary=F("second")).values("second"))
        )
        .values_list("pk", flat=True)
        .order_by()
    )


def open_duplicates_of(incident_id: int) -> set[int]:
    """Ids of the reviews flagged as possible duplicates of this one and not yet decided.

    For the similarity engine, to mark such results "possible duplicate". It does not check
    visibility: the caller marks only results it already shows to the reader.
    """
    rows = PossibleDuplicate.objects.filter(
        Q(first=incident_id) | Q(second=incident_id), status=PossibleDuplicate.Status.OPEN
    ).values_list("first_id", "second_id")
    return {b if a == incident_id else a for a, b in rows}


def pairs_visible_to(user: User) -> QuerySet[PossibleDuplicate]:
    """Pairs whose both reviews the user may see; any other pair does not exist for them."""
    visible = Incident.objects.visible_to(user).values("pk")
    return PossibleDuplicate.objects.filter(first__in=visible, second__in=visible)


def pairs_of(incident: Incident, user: User) -> list[PossibleDuplicate]:
    """The pairs the review is in that the user may see (open, merged and dismissed), with
    both reviews loaded, for the review page."""
    return list(
        pairs_visible_to(user)
        .filter(Q(first=incident.pk) | Q(second=incident.pk))
        .select_related("first", "second")
        .order_by("-similarity", "pk")
    )
