"""Reads shared by pages and the API: what a user may see of derived analysis.

A recurring structure is stored once, over every review, restricted ones included. What a
reader is shown is computed from the reviews *they* may see: how many incidents, first and
last sighting, how often and when it recurred, whether despite remediation, what it cost,
and whether it is listed at all (a structure recurs for a reader only if they can see it
recur: a visible member that began after a visible earlier one was reviewed). So an
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
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.query import ModelIterable

from .models import ActionItem, Incident, RecurrenceMembership, RecurringStructure

Reader = AbstractBaseUser | AnonymousUser

# Names of the per-kind annotations `_ReaderMembershipIterable` turns into a list.
_KIND_FLAG = "reader_kind_{}"


def _aimed_items(incident_ref, structure_ref) -> QuerySet[ActionItem]:
    """Action items of an incident aimed at a structure: linked to one of its patterns, or
    structural fixes linked to no pattern (`analysis.recurrence.aimed_at`)."""
    # One level deeper than the items: its reference reaches out through them.
    patterns = RecurringStructure.patterns.through.objects.filter(
        recurringstructure_id=OuterRef(structure_ref)
    ).values("structuralpattern_id")
    return ActionItem.objects.filter(incident_id=incident_ref).filter(
        Q(pattern_id__in=patterns) | Q(pattern__isnull=True, kind=ActionItem.Kind.STRUCTURAL_FIX)
    )


def _earlier_reviewed(visible: QuerySet[Incident]) -> QuerySet[RecurrenceMembership]:
    """For an outer membership: the members of its structure the reader may see, of the same
    organisation, whose review existed before it began (none if it has no date), each with
    `remedied` — its aimed action items all done by then."""
    aimed = _aimed_items(OuterRef("incident_id"), OuterRef("structure_id"))
    not_done_in_time = aimed.filter(
        ~Q(status=ActionItem.Status.DONE) | Q(completed_at__gt=OuterRef(OuterRef("occurred_at")))
    )
    return (
        RecurrenceMembership.objects.filter(
            structure_id=OuterRef("structure_id"),
            incident__in=visible,
            # The outer membership's organisation, read through its incident (the outer
            # query need not join incidents).
            incident__organisation=Subquery(
                Incident.objects.filter(pk=OuterRef(OuterRef("incident_id"))).values(
                    "organisation"
                )[:1]
            ),
            reviewed_at__lt=OuterRef("occurred_at"),
        )
        .exclude(incident_id=OuterRef("incident_id"))
        .annotate(
            remedied=ExpressionWrapper(
                Exists(aimed) & ~Exists(not_done_in_time), output_field=BooleanField()
            )
        )
    )


def _nothing_hidden(visible: QuerySet[Incident], structure_ref) -> Exists:
    return ~Exists(
        RecurrenceMembership.objects.filter(structure_id=structure_ref).exclude(
            incident__in=visible
        )
    )


def memberships_as_seen(visible: QuerySet[Incident]) -> QuerySet[RecurrenceMembership]:
    """Memberships of reviews the reader may see, each annotated with what the reader may
    know of its recurrence (docs/recurrence.md), judged only on members they may see:

    - `reader_recurred`: an earlier member of the same organisation was reviewed before this
      incident began;
    - `reader_previous_id`: the member it recurred after (the latest remediated one, else
      the latest reviewed one), the stored `previous` may be a restricted review;
    - `reader_after_remediation`: one such earlier member had action items aimed at the
      structure, all done by the time this incident began;
    - one `reader_kind_<kind>` flag per kind of aimed action item of `reader_previous_id`.

    Where the reader may see every member of the structure, the stored values are theirs.
    """
    earlier = _earlier_reviewed(visible)
    latest = earlier.order_by("-reviewed_at", "-incident_id")
    all_seen = _nothing_hidden(visible, OuterRef("structure_id"))
    items = _aimed_items(OuterRef("reader_previous_id"), OuterRef("structure_id"))
    return (
        RecurrenceMembership.objects.filter(incident__in=visible)
        .annotate(
            reader_previous_id=Case(
                When(all_seen, then="previous_id"),
                default=Coalesce(
                    Subquery(latest.filter(remedied=True).values("incident_id")[:1]),
                    Subquery(latest.values("incident_id")[:1]),
                ),
                output_field=IntegerField(),
            )
        )
        .annotate(
            reader_recurred=Case(
                When(all_seen, then="recurred"),
                default=Exists(earlier),
                output_field=BooleanField(),
            ),
            reader_after_remediation=Case(
                When(all_seen, then="after_remediation"),
                default=Exists(earlier.filter(remedied=True)),
                output_field=BooleanField(),
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
    """The structures that recur for this user: those where a member they may see recurred
    after another they may see (docs/recurrence.md), ranked as a lead plans — recurred
    despite remediation first, then by severity-weighted incident-hours.

    Each structure carries, computed over the members the reader may see only:
    `reader_incident_count`, `reader_first_seen`, `reader_last_seen`,
    `reader_recurrence_count`, `reader_last_recurred_at`, `reader_despite_remediation`,
    `reader_weighted_hours` (None when no member's is known), `reader_weighted_hours_unknown`,
    `reader_users_affected` (None when no member's is known), `reader_users_affected_unknown`;
    and `visible_memberships`, those members in time order, each with `reader_recurred`,
    `reader_after_remediation` and `reader_remediation_kinds`. The stored figures count
    every review and must not be shown.

    A fixed number of queries whatever the number of structures: one for the page of
    structures, one for their visible members, then their components and patterns.
    """
    visible = Incident.objects.visible_to(user)
    members = memberships_as_seen(visible)
    # Counts and sums from bare rows: the annotated `members` would be grouped by its
    # per-member subqueries, running them for every member of every structure.
    plain = RecurrenceMembership.objects.filter(incident__in=visible)
    earlier = _earlier_reviewed(visible)
    recurred = plain.filter(Exists(earlier))
    remedied = plain.filter(Exists(earlier.filter(remedied=True)))
    all_seen = _nothing_hidden(visible, OuterRef("pk"))
    structures = (
        RecurringStructure.objects.annotate(
            reader_incident_count=_per_structure(plain, Count("pk")),
            reader_first_seen=_per_structure(plain, Min("occurred_at")),
            reader_last_seen=_per_structure(plain, Max("occurred_at")),
            reader_weighted_hours=_per_structure(plain, Sum("weighted_hours")),
            reader_weighted_hours_unknown=_per_structure(
                plain.filter(weighted_hours__isnull=True), Count("pk")
            ),
            reader_users_affected=_per_structure(plain, Sum("users_affected")),
            reader_users_affected_unknown=_per_structure(
                plain.filter(users_affected__isnull=True), Count("pk")
            ),
            # With nothing hidden from the reader the stored figures are theirs; otherwise
            # judge only the members they may see.
            reader_recurrence_count=Case(
                When(all_seen, then="recurrence_count"),
                default=Coalesce(_per_structure(recurred, Count("pk")), 0),
            ),
            reader_last_recurred_at=Case(
                When(all_seen, then="last_recurred_at"),
                default=_per_structure(recurred, Max("occurred_at")),
            ),
            reader_despite_remediation=Case(
                When(all_seen, then="recurred_despite_remediation"),
                default=Exists(remedied.filter(structure_id=OuterRef("pk"))),
                output_field=BooleanField(),
            ),
        )
        .filter(reader_recurrence_count__gte=1)
        .select_related("pattern")
        .prefetch_related(
            "patterns",
            Prefetch(
                "memberships",
                _reader_memberships(members),
                to_attr="visible_memberships",
            ),
        )
        .order_by(
            "-reader_despite_remediation",
            F("reader_weighted_hours").desc(nulls_last=True),
            "-reader_recurrence_count",
            "id",
        )
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
