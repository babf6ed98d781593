"""Reads shared by pages, the API and reports: what a reader may see of recurring structures.

A recurring structure is stored once, over every review, restricted ones included. What a
reader is shown is computed from the reviews *they* may see: how many incidents, first and
last sighting, how often and when it recurred, whether despite remediation, what it cost,
and whether it is listed at all (a structure recurs for a reader only if they can see it
recur: a visible member that began after a visible earlier one was reviewed). So an
outsider's answer is the same whether or not a restricted review exists.

How that stays cheap at a hundred thousand reviews (docs/benchmarks.md):

- A reader who may see every member of a structure (a superuser; anyone, when none of its
  members is restricted) is shown the stored figures: they are that reader's.
- Otherwise the structure is judged again over the members the reader may see, in the
  database, from the membership rows: each carries when its incident began, when its
  review existed, its cost and its own remediation. A member whose stored "previous" the
  reader may see keeps its stored recurrence (that member is also the latest among the
  visible ones); only the others are looked up again, by the rule of
  `analysis.recurrence.link_members` (tests/test_reader_view.py checks the two agree).
  The result (`Seen`) keeps the figures and the members judged again, and is cached under
  the structure's version and the set of members hidden from the reader: readers who may
  see the same reviews share it, and any change to the structure or to what is hidden
  makes a new key.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db.models import (
    Count,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)

from .analysis.cost import Cost
from .analysis.recurrence import earlier_reviewed, remedied_by
from .models import Incident, RecurrenceMembership, RecurringStructure

Reader = AbstractBaseUser | AnonymousUser

# How long a reader's view of a structure is kept: any change makes a new key, so this only
# bounds how long an unused one occupies the cache.
SEEN_CACHE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class SeenLink:
    """A member's recurrence as a reader may know it (docs/recurrence.md)."""

    previous_id: int | None
    recurred: bool
    after_remediation: bool
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Seen:
    """A recurring structure as one reader may see it: figures over the members they may
    see, the members hidden from them, and the members judged again because the earlier
    member their stored recurrence rests on is hidden (`changed`)."""

    incident_count: int
    dated_count: int
    first_seen: datetime | None
    last_seen: datetime | None
    recurrence_count: int
    last_recurred_at: datetime | None
    despite_remediation: bool
    cost: Cost
    hidden: frozenset[int] = frozenset()
    changed: Mapping[int, SeenLink] = field(default_factory=dict)

    @property
    def recurs(self) -> bool:
        return self.recurrence_count > 0

    def link(self, membership: RecurrenceMembership) -> SeenLink:
        """The membership's recurrence for this reader (the membership must be visible)."""
        found = self.changed.get(membership.incident_id)
        if found is not None:
            return found
        return stored_link(membership)


def stored_link(membership: RecurrenceMembership) -> SeenLink:
    return SeenLink(
        membership.previous_id,
        membership.recurred,
        membership.after_remediation,
        tuple(membership.remediation_kinds or ()),
    )


def _stored(structure: RecurringStructure) -> Seen:
    return Seen(
        incident_count=structure.incident_count,
        dated_count=structure.dated_count,
        first_seen=structure.first_seen,
        last_seen=structure.last_seen,
        recurrence_count=structure.recurrence_count,
        last_recurred_at=structure.last_recurred_at,
        despite_remediation=structure.recurred_despite_remediation,
        cost=Cost(
            structure.incident_count,
            structure.weighted_hours,
            structure.weighted_hours_unknown,
            structure.users_affected,
            structure.users_affected_unknown,
        ),
    )


def _judged(hidden: dict[int, frozenset[int]]) -> dict[int, Seen]:
    """Each structure of `hidden` (id → its members hidden from the reader) judged again
    over its other members, in the database: four queries for all of them.

    Only a member whose stored `previous` is hidden can recur differently for the reader:
    when that earlier member is visible, it is also the latest (remediated) one among the
    visible earlier members, a subset of all. So the figures are aggregates of the stored
    flags over the visible members that keep theirs, and the few others are judged again by
    the rule of `analysis.recurrence.link_members` written as two indexed look-ups each: the
    latest visible earlier member of the same organisation reviewed before it began, and
    the latest such one whose aimed action items were all done by then."""
    # The hidden members themselves, as a list: a handful per structure, where the
    # incidents hidden from the reader are thousands.
    gone = sorted(set().union(*hidden.values()))
    visible = RecurrenceMembership.objects.filter(structure_id__in=list(hidden)).exclude(
        incident_id__in=gone
    )
    again = Q(previous_id__isnull=False, previous_id__in=gone)
    figures = {
        row["structure_id"]: row
        for row in visible.values("structure_id")
        .annotate(
            n=Count("pk"),
            dated=Count("occurred_at"),
            first=Min("occurred_at"),
            last=Max("occurred_at"),
            hours=Sum("weighted_hours"),
            hours_unknown=Count("pk", filter=Q(weighted_hours__isnull=True)),
            users=Sum("users_affected"),
            users_unknown=Count("pk", filter=Q(users_affected__isnull=True)),
        )
        .order_by()
    }
    # The stored flags of the members that keep them (a filter, not an aggregate's FILTER:
    # SQLite refuses a subquery there).
    for row in (
        visible.filter(recurred=True)
        .exclude(again)
        .values("structure_id")
        .annotate(
            recurred=Count("pk"),
            last_recurred=Max("occurred_at"),
            despite=Count("pk", filter=Q(after_remediation=True)),
        )
        .order_by()
    ):
        figures.setdefault(row["structure_id"], {}).update(row)
    earlier = (
        earlier_reviewed(
            OuterRef("structure_id"),
            # The member's organisation read through its own incident: the outer query then
            # needs no join of the whole incident table.
            Subquery(
                Incident.objects.filter(pk=OuterRef(OuterRef("incident_id")))
                .order_by()
                .values("organisation")[:1]
            ),
            OuterRef("occurred_at"),
            OuterRef("incident_id"),
        )
        .exclude(incident_id__in=gone)
        .values("incident_id")
    )
    remedied = remedied_by(earlier, OuterRef("occurred_at"))
    changed: dict[int, dict[int, SeenLink]] = defaultdict(dict)
    began: dict[int, datetime | None] = {}
    for structure_id, incident_id, occurred, latest, fixed in (
        visible.filter(again)
        .annotate(latest=Subquery(earlier[:1]), fixed=Subquery(remedied[:1]))
        .values_list("structure_id", "incident_id", "occurred_at", "latest", "fixed")
    ):
        previous = fixed or latest
        changed[structure_id][incident_id] = SeenLink(previous, previous is not None, bool(fixed))
        began[incident_id] = occurred
    _add_kinds(changed)

    judged = {}
    for pk, members_hidden in hidden.items():
        row = figures.get(pk, {})
        mine = changed.get(pk, {})
        recurred = [began[i] for i, link in mine.items() if link.recurred]
        last = [d for d in [row.get("last_recurred"), *recurred] if d is not None]
        count = row.get("n", 0)
        judged[pk] = Seen(
            incident_count=count,
            dated_count=row.get("dated", 0),
            first_seen=row.get("first"),
            last_seen=row.get("last"),
            recurrence_count=row.get("recurred", 0) + len(recurred),
            last_recurred_at=max(last, default=None),
            despite_remediation=bool(row.get("despite"))
            or any(link.after_remediation for link in mine.values()),
            cost=Cost(
                count,
                round(row.get("hours") or 0.0, 1),
                row.get("hours_unknown", 0),
                row.get("users"),
                row.get("users_unknown", 0),
            ),
            hidden=members_hidden,
            changed=mine,
        )
    return judged


def _add_kinds(changed: dict[int, dict[int, SeenLink]]) -> None:
    """Give each judged-again link the kinds of the aimed action items of the member it now
    recurs after: one query (as a column of the look-ups, PostgreSQL ran them twice)."""
    wanted = {(pk, link.previous_id) for pk, links in changed.items()
              for link in links.values() if link.previous_id is not None}  # fmt: skip
    if not wanted:
        return
    kinds = {
        (structure_id, incident_id): tuple(found or ())
        for structure_id, incident_id, found in RecurrenceMembership.objects.filter(
            structure_id__in={s for s, _ in wanted}, incident_id__in={i for _, i in wanted}
        ).values_list("structure_id", "incident_id", "aimed_kinds")
    }
    for pk, links in changed.items():
        for incident_id, link in links.items():
            if link.previous_id is not None:
                links[incident_id] = SeenLink(
                    link.previous_id, link.recurred, link.after_remediation,
                    kinds.get((pk, link.previous_id), ()),
                )  # fmt: skip


def _cache_key(structure: RecurringStructure, hidden: frozenset[int]) -> str:
    digest = hashlib.sha256(",".join(map(str, sorted(hidden))).encode()).hexdigest()[:32]
    version = structure.updated_at.isoformat() if structure.updated_at else "-"
    return f"seams:seen:2:{structure.pk}:{version}:{digest}"


def _hidden_members(
    hidden_incidents: QuerySet[Incident], structure_ids: Iterable[int]
) -> dict[int, frozenset[int]]:
    """structure id → its members among `hidden_incidents` (only structures with one)."""
    ids = list(structure_ids)
    if not ids:
        return {}
    found: dict[int, set[int]] = defaultdict(set)
    for structure_id, incident_id in RecurrenceMembership.objects.filter(
        structure_id__in=ids, incident__in=hidden_incidents
    ).values_list("structure_id", "incident_id"):
        found[structure_id].add(incident_id)
    return {pk: frozenset(members) for pk, members in found.items()}


def seen_structures(user: Reader, structures: Iterable[RecurringStructure]) -> dict[int, Seen]:
    """structure id → the structure as this reader may see it."""
    structures = list(structures)
    if getattr(user, "is_superuser", False):
        return {s.pk: _stored(s) for s in structures}
    return _seen(Incident.objects.hidden_from(user), structures)


def _seen(
    hidden_incidents: QuerySet[Incident], structures: list[RecurringStructure]
) -> dict[int, Seen]:
    hidden = _hidden_members(hidden_incidents, (s.pk for s in structures))
    out = {s.pk: _stored(s) for s in structures if s.pk not in hidden}
    judged = [s for s in structures if s.pk in hidden]
    if judged:
        keys = {s.pk: _cache_key(s, hidden[s.pk]) for s in judged}
        cached = cache.get_many(list(keys.values()))
        missing = {}
        for s in judged:
            seen = cached.get(keys[s.pk])
            if isinstance(seen, Seen):
                out[s.pk] = seen
            else:
                missing[s.pk] = hidden[s.pk]
        if missing:
            fresh = _judged(missing)
            out.update(fresh)
            cache.set_many({keys[pk]: seen for pk, seen in fresh.items()}, SEEN_CACHE_SECONDS)
    return out


def warm_reader_views() -> int:
    """Judge every structure for readers in no group (the usual reader outside every
    restricted review), so the first of them after a full recompute, which gives every
    structure a new version, is not the one who waits. Returns how many were looked at."""
    structures = list(RecurringStructure.objects.all())
    return len(_seen(Incident.objects.hidden_from_groups([]), structures))


def memberships_seen(
    user: Reader, memberships: QuerySet[RecurrenceMembership], *fields: str
) -> tuple[list[tuple], dict[int, Seen]]:
    """Rows (structure id, incident id, *fields, `SeenLink`) of `memberships` — which must
    be of incidents the reader may see — and each of their structures as the reader sees it.
    Three queries whatever their number (more while views are not cached)."""
    rows = list(
        memberships.order_by().values_list(
            "structure_id", "incident_id", "previous_id", "recurred", "after_remediation",
            "remediation_kinds", *fields,
        )
    )  # fmt: skip
    seen = seen_structures(user, RecurringStructure.objects.filter(pk__in={r[0] for r in rows}))
    out = []
    for row in rows:
        link = seen[row[0]].changed.get(row[1]) or SeenLink(
            row[2], row[3], row[4], tuple(row[5] or ())
        )
        out.append((row[0], row[1], *row[6:], link))
    return out, seen


def _structures(queryset: QuerySet[RecurringStructure] | None) -> QuerySet[RecurringStructure]:
    queryset = RecurringStructure.objects.all() if queryset is None else queryset
    return queryset.select_related("pattern").prefetch_related("patterns")


# Sort keys of the recurrences list (the page's and the API's `sort`).
def _sort_key(sort: str):
    def key(structure: RecurringStructure):
        seen = structure.seen
        cost = -(seen.cost.weighted_hours or 0.0)
        count = -seen.recurrence_count
        if sort == "last":
            return (seen.last_seen is None, -(seen.last_seen.timestamp() if seen.last_seen else 0),
                    structure.pk)  # fmt: skip
        first, then = (count, cost) if sort == "recurrences" else (cost, count)
        return (not seen.despite_remediation, first, then, structure.pk)

    return key


def recurring_structures_for(
    user: Reader,
    structures: QuerySet[RecurringStructure] | None = None,
    *,
    sort: str = "cost",
    despite_remediation: bool | None = None,
) -> list[RecurringStructure]:
    """The structures (of `structures`, default all) that recur for this user: those where
    a member they may see recurred after another they may see (docs/recurrence.md), each
    with `seen` (`Seen`), ranked as a lead plans: recurred despite remediation first, then
    by severity-weighted incident-hours (`sort="recurrences"`: by recurrences first;
    `"last"`: last seen, newest first). The stored figures count every review and must not
    be shown: show `seen`.

    A fixed number of queries whatever the number of structures and members: the
    structures, their patterns, the members hidden from the reader, and one for the
    members of the structures whose view for this reader is not cached yet.
    """
    found = list(_structures(structures))
    seen = seen_structures(user, found)
    listed = []
    for structure in found:
        structure.seen = seen[structure.pk]
        if not structure.seen.recurs:
            continue
        if despite_remediation is not None and (
            structure.seen.despite_remediation != despite_remediation
        ):
            continue
        listed.append(structure)
    return sorted(listed, key=_sort_key(sort))


def visible_memberships(
    structure: RecurringStructure,
) -> QuerySet[RecurrenceMembership]:
    """A structure's members its reader may see (`structure.seen` set by
    `recurring_structures_for`), in time order, undated last."""
    return (
        RecurrenceMembership.objects.filter(structure_id=structure.pk)
        .exclude(incident_id__in=sorted(structure.seen.hidden))
        .order_by(F("occurred_at").asc(nulls_last=True), "incident_id")
    )


def recurred_memberships(structure: RecurringStructure) -> QuerySet[RecurrenceMembership]:
    """The visible members that recurred for the reader."""
    seen = structure.seen
    members = visible_memberships(structure)
    # A reader's recurrences are a subset of the stored ones (fewer members, fewer earlier
    # reviews): only a change can take one away.
    gone = sorted(pk for pk, link in seen.changed.items() if not link.recurred)
    return members.filter(recurred=True).exclude(incident_id__in=gone)


def earlier_in_same_structure(*, incident: Incident, user: Reader) -> list[RecurrenceMembership]:
    """For the incident page: the earlier incidents of this organisation, among those the
    reader may see, that share a pattern or mechanism structure with this one and were
    reviewed before it began (what it recurred after), with their components, ordered by
    pattern. Each carries `this_after_remediation`: whether this incident, as the reader
    may know it, came back after the remediation of one of them was done."""
    if incident.started_at is None:
        return []  # an undated incident recurs after nothing
    mine = {
        m.structure_id: m
        for m in RecurrenceMembership.objects.filter(
            incident=incident, structure__kind__in=["pattern", "mechanism"]
        ).select_related("structure")
    }
    if not mine:
        return []
    seen = seen_structures(user, [m.structure for m in mine.values()])
    earlier = list(
        RecurrenceMembership.objects.filter(
            structure__in=list(mine),
            reviewed_at__lt=incident.started_at,
            incident__organisation=incident.organisation,
            incident__in=Incident.objects.visible_to(user),
        )
        .exclude(incident=incident)
        .select_related("incident", "structure__pattern")
        .prefetch_related("incident__components")
        .order_by("structure__pattern__name", "-occurred_at")
    )
    for membership in earlier:
        structure_id = membership.structure_id
        membership.this_after_remediation = (
            seen[structure_id].link(mine[structure_id]).after_remediation
        )
    return earlier
