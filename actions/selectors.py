"""Which action items a person sees, and in what order: the web pages and the API alike.

Every list starts from `visible_items`: an item of a restricted review is not there for
anyone outside its group, so no list, count or filter choice can show it.
"""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When

from incidents.models import ActionItem, Incident, RecurrenceMembership, RecurringStructure

User = AbstractBaseUser | AnonymousUser

# Still to do; the others (done, won't do) are closed.
OPEN_STATUSES = (ActionItem.Status.OPEN, ActionItem.Status.IN_PROGRESS)
# The review's long sections: a list row shows its title only.
REVIEW_TEXT = ("summary", "impact", "narrative", "went_well", "where_lucky")


def visible_items(user: User) -> QuerySet[ActionItem]:
    """The action items of every review the user may see."""
    return ActionItem.objects.filter(incident__in=Incident.objects.visible_to(user).values("pk"))


def owned_by(items: QuerySet[ActionItem], user: User) -> QuerySet[ActionItem]:
    """Those the user owns: theirs, or their team's."""
    if not user.is_authenticated:
        return items.none()
    return items.filter(Q(owner_user=user) | Q(owner_team__in=user.groups.values("pk")))


def overdue(items: QuerySet[ActionItem], today: date) -> QuerySet[ActionItem]:
    """Those still open (or in progress) after their due date."""
    return items.filter(status__in=OPEN_STATUSES, due__lt=today)


def in_structure(items: QuerySet[ActionItem], structure_id: int) -> QuerySet[ActionItem]:
    """Those of reviews that are members of the recurring structure."""
    member = RecurrenceMembership.objects.filter(
        structure_id=structure_id, incident_id=OuterRef("incident_id")
    )
    return items.filter(Exists(member))


def in_list_order(items: QuerySet[ActionItem]) -> QuerySet[ActionItem]:
    """Open items first, each part soonest due first (no due date last), with what a row
    shows loaded in the same query (and the reviewers, for who may close it, in one more)."""
    closed = Case(
        When(status__in=OPEN_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        items.select_related("incident", "leverage_level", "owner_user", "owner_team", "closed_by")
        .defer(*(f"incident__{name}" for name in REVIEW_TEXT))
        .prefetch_related("incident__reviewers")
        .annotate(closed=closed)
        .order_by("closed", F("due").asc(nulls_last=True), "id")
    )


def structures_of(items: QuerySet[ActionItem]) -> QuerySet[RecurringStructure]:
    """The recurring structures the reviews of these items are members of (a filter's
    choices: only structures the reader's own items lead to)."""
    incidents = items.values("incident_id")
    return (
        RecurringStructure.objects.filter(memberships__incident_id__in=incidents)
        .distinct()
        .only("id", "name", "signature")
        .order_by("name", "id")
    )
