"""Reads shared by pages and the API: what a user may see of derived analysis.

A recurring structure is stored once, over every review, restricted ones included. What a
reader is shown is computed from the reviews *they* may see: how many incidents, first and
last sighting, whether it recurred despite remediation, and whether it is listed at all (a
structure recurs for a reader only if they can see it recur: two visible members). So an
outsider's answer is the same whether or not a restricted review exists.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.query import ModelIterable

from .models import ActionItem, Incident, RecurrenceMembership, RecurringStructure

Reader = AbstractBaseUser | AnonymousUser

# Names of the per-kind annotations `_ReaderMembershipIterable` turns into a list.
_KIND_FLAG = "reader_kind_{}"


def memberships_as_seen(visible: QuerySet[Incident]) -> QuerySet[RecurrenceMembership]:
    """Memberships of reviews the reader may see, each annotated with what the reader may
    know of its recurrence:

    - `reader_previous_id`: the visible member just before it (the stored `previous` may be
      a restricted review, whose action items are its content);
    - `reader_after_remediation`: that member had action items, all done by the time this
      incident began (the rule of `analysis.recurrence._remediated`, in SQL so that the
      list can be filtered by it);
    - one `reader_kind_<kind>` flag per action-item kind that member had.
    """
    earlier = (
        RecurrenceMembership.objects.filter(
            Q(occurred_at__lt=OuterRef("occurred_at"))
            | Q(occurred_at=OuterRef("occurred_at"), incident_id__lt=OuterRef("incident_id")),
            structure_id=OuterRef("structure_id"),
            incident__in=visible,
        )
        .order_by("-occurred_at", "-incident_id")
        .values("incident_id")[:1]
    )
    items = ActionItem.objects.filter(incident_id=OuterRef("reader_previous_id"))
    not_done_in_time = items.filter(
        ~Q(status=ActionItem.Status.DONE) | Q(completed_at__gt=OuterRef("occurred_at"))
    )
    return (
        RecurrenceMembership.objects.filter(incident__in=visible)
        .annotate(reader_previous_id=Subquery(earlier))
        .annotate(
            reader_after_remediation=ExpressionWrapper(
                Exists(items) & ~Exists(not_done_in_time), output_field=BooleanField()
            ),
            **{
                _KIND_FLAG.format(kind): Exists(items.filter(kind=kind))
                for kind in ActionItem.Kind.values
            },
        )
    )


class _ReaderMembershipIterable(ModelIterable):
    """Gives each membership `reader_remediation_kinds`, the list the API and the page show,
    from the per-kind flags SQL computed."""

    def __iter__(self) -> Iterator[RecurrenceMembership]:
        for membership in super().__iter__():
            membership.reader_remediation_kinds = [
                kind
                for kind in ActionItem.Kind.values
                if getattr(membership, _KIND_FLAG.format(kind))
            ]
            yield membership


def _per_structure(members: QuerySet[RecurrenceMembership], aggregate) -> Subquery:
    """One aggregate of a structure's `members`, as a subquery of the structure list."""
    return Subquery(
        members.filter(structure_id=OuterRef("pk"))
        .order_by()
        .values("structure_id")
        .annotate(value=aggregate)
        .values("value")[:1]
    )


def recurring_structures_for(
    user: Reader,
    *,
    pattern_slug: str | None = None,
    despite_remediation: bool | None = None,
) -> QuerySet[RecurringStructure]:
    """The structures that recur for this user: those with at least two members they may
    see, newest (by what they may see) first.

    Each structure carries `reader_incident_count`, `reader_first_seen`,
    `reader_last_seen` and `reader_despite_remediation`, computed over those members only,
    and `visible_memberships`, those members in time order, each with
    `reader_after_remediation` and `reader_remediation_kinds` (see `_visible_members`).
    The stored `incident_count`, `recurred_despite_remediation` and memberships'
    `after_remediation` count every review and must not be shown.

    A fixed number of queries whatever the number of structures: one for the page of
    structures, one for their visible members, then their components and patterns.
    """
    visible = Incident.objects.visible_to(user)
    members = memberships_as_seen(visible)
    # Counts and dates from the bare rows: the annotated `members` would be grouped by its
    # per-member subqueries, running them for every member of every structure.
    plain = RecurrenceMembership.objects.filter(incident__in=visible)
    hidden = RecurrenceMembership.objects.filter(structure_id=OuterRef("pk")).exclude(
        incident__in=visible
    )
    structures = (
        RecurringStructure.objects.annotate(
            reader_incident_count=_per_structure(plain, Count("pk")),
            reader_first_seen=_per_structure(plain, Min("occurred_at")),
            reader_last_seen=_per_structure(plain, Max("occurred_at")),
            # With nothing hidden from the reader the stored flag is theirs; otherwise judge
            # only the pairs of members they may see.
            reader_despite_remediation=Case(
                When(~Exists(hidden), then="recurred_despite_remediation"),
                default=Exists(
                    members.filter(structure_id=OuterRef("pk"), reader_after_remediation=True)
                ),
                output_field=BooleanField(),
            ),
        )
        .filter(reader_incident_count__gte=2)
        .select_related("pattern")
        .prefetch_related(
            "patterns",
            Prefetch(
                "memberships",
                _reader_memberships(members),
                to_attr="visible_memberships",
            ),
        )
        .order_by("-reader_last_seen", "id")
    )
    if pattern_slug:
        structures = structures.filter(patterns__slug=pattern_slug)
    if despite_remediation is not None:
        structures = structures.filter(reader_despite_remediation=despite_remediation)
    return structures


def _reader_memberships(members: QuerySet[RecurrenceMembership]) -> QuerySet:
    members = (
        members.select_related("incident")
        .prefetch_related("incident__components")
        .order_by("occurred_at", "incident_id")
    )
    members._iterable_class = _ReaderMembershipIterable
    return members
