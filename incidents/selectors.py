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
- Otherwise the structure is judged again over the members the reader may see, by the same
  function the analysis uses (`analysis.recurrence.link_members`), from the membership rows
  alone: each carries its incident's organisation-free facts, its cost and its own
  remediation. The result (`Seen`) keeps the figures and only the members whose recurrence
  differs from the stored one, and is cached under the structure's version and the set of
  members hidden from the reader: readers who may see the same reviews share it, and any
  change to the structure or to what is hidden makes a new key.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db import connection
from django.db.models import F, FloatField, Func, QuerySet

from .analysis.cost import Cost
from .analysis.recurrence import EARLIEST, Member, link_members
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
    see, the members hidden from them, and the members whose recurrence differs from the
    stored one (an earlier member it rested on is hidden)."""

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


_ROW = (
    "incident_id", "incident__organisation", "occurred", "reviewed", "remediated",
    "weighted_hours", "users_affected", "previous_id", "recurred", "after_remediation",
)  # fmt: skip


class Epoch(Func):
    """A time as seconds since 1970, on PostgreSQL: judging a structure compares the times of
    thousands of members, and a float is read several times faster than a timestamp
    (microseconds are kept exactly: they fit a double)."""

    output_field = FloatField()
    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)"


def _times() -> dict:
    """The three times `_judge` compares, as `Epoch` floats on PostgreSQL, else as they are
    (all of one kind in one run, so comparisons agree)."""
    names = {"occurred": "occurred_at", "reviewed": "reviewed_at", "remediated": "remediated_from"}
    if connection.vendor == "postgresql":
        return {alias: Epoch(field) for alias, field in names.items()}
    return {alias: F(field) for alias, field in names.items()}


def _moment(value) -> datetime | None:
    """A time `_times` read, as a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(value, tz=UTC)


def _judged(
    hidden_incidents: QuerySet[Incident], hidden: dict[int, frozenset[int]]
) -> dict[int, Seen]:
    """Each structure of `hidden` (id → its members hidden from the reader) judged again
    over its other members: one query for all of them, and one for the kinds of action the
    members they now recur after had."""
    by_structure: dict[int, list[tuple]] = {pk: [] for pk in hidden}
    for row in (
        RecurrenceMembership.objects.filter(structure_id__in=list(hidden))
        .exclude(incident__in=hidden_incidents)
        .order_by()
        .annotate(**_times())
        .values_list("structure_id", *_ROW)
    ):
        by_structure[row[0]].append(row[1:])
    judged = {pk: _judge(rows, hidden[pk]) for pk, rows in by_structure.items()}
    # The kinds of the aimed action items of each member a changed one now recurs after.
    wanted = {(pk, link.previous_id) for pk, seen in judged.items()
              for link in seen.changed.values() if link.previous_id is not None}  # fmt: skip
    if wanted:
        kinds = {
            (structure_id, incident_id): tuple(found or ())
            for structure_id, incident_id, found in RecurrenceMembership.objects.filter(
                structure_id__in={s for s, _ in wanted}, incident_id__in={i for _, i in wanted}
            ).values_list("structure_id", "incident_id", "aimed_kinds")
        }
        for pk, seen in judged.items():
            for incident_id, link in list(seen.changed.items()):
                if link.previous_id is not None:
                    seen.changed[incident_id] = SeenLink(
                        link.previous_id, link.recurred, link.after_remediation,
                        kinds.get((pk, link.previous_id), ()),
                    )  # fmt: skip
    return judged


def _judge(rows: list[tuple], hidden: frozenset[int]) -> Seen:
    """One structure's `Seen` from the `_ROW` rows of the members a reader may see.

    Only a member whose stored `previous` is hidden can recur differently for the reader:
    when that earlier member is visible, it is also the latest (remediated) one among the
    visible earlier members, a subset. So only those are judged again (`link_members` over
    every visible member, links made for them alone); the others keep the stored link."""
    again = {row[0] for row in rows if row[7] in hidden}
    links = {}
    if again:
        epochs = any(isinstance(row[3], float) for row in rows)
        floor = -math.inf if epochs else EARLIEST
        members = [
            Member(pk=row[0], organisation=row[1] or "", occurred_at=row[2],
                   reviewed_at=row[3] if row[3] is not None else floor, remediated_from=row[4])
            for row in rows
        ]  # fmt: skip
        links = link_members(members, only=again)
    changed: dict[int, SeenLink] = {}
    dated: list[datetime] = []
    recurred: list[datetime | None] = []
    despite = False
    hours, hours_unknown, users, users_unknown = 0.0, 0, None, 0
    for incident_id, _, occurred, _, _, weighted, affected, _, was_recurred, was_after in rows:
        link = links.get(incident_id)
        if link is not None:
            # Kinds are filled in by `_judged`, for all the changed members at once.
            changed[incident_id] = SeenLink(link.previous, link.recurred, link.after_remediation)
            was_recurred, was_after = link.recurred, link.after_remediation
        if occurred is not None:
            dated.append(occurred)
        if was_recurred:
            recurred.append(occurred)
        despite = despite or was_after
        if weighted is None:
            hours_unknown += 1
        else:
            hours += weighted
        if affected is None:
            users_unknown += 1
        else:
            users = (users or 0) + affected
    when = [d for d in recurred if d is not None]
    return Seen(
        incident_count=len(rows),
        dated_count=len(dated),
        first_seen=_moment(min(dated, default=None)),
        last_seen=_moment(max(dated, default=None)),
        recurrence_count=len(recurred),
        last_recurred_at=_moment(max(when, default=None)),
        despite_remediation=despite,
        cost=Cost(len(rows), round(hours, 1), hours_unknown, users, users_unknown),
        hidden=hidden,
        changed=changed,
    )


def _cache_key(structure: RecurringStructure, hidden: frozenset[int]) -> str:
    digest = hashlib.sha256(",".join(map(str, sorted(hidden))).encode()).hexdigest()[:32]
    version = structure.updated_at.isoformat() if structure.updated_at else "-"
    return f"seams:seen:2:{structure.pk}:{version}:{digest}"


def hidden_members(user: Reader, structure_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """structure id → its members this reader may not see (only structures with one).
    One query; none for a reader who sees every review."""
    if getattr(user, "is_superuser", False):
        return {}
    return _hidden_members(Incident.objects.hidden_from(user), structure_ids)


def _hidden_members(
    hidden_incidents: QuerySet[Incident], structure_ids: Iterable[int]
) -> dict[int, frozenset[int]]:
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
            fresh = _judged(hidden_incidents, missing)
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
