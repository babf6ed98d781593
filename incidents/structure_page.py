"""What a reader is shown of one recurring structure, and of a page of structures.

Plain functions over `incidents.selectors.recurring_structures_for`, so every figure comes
from the reviews the reader may see: a restricted member never appears, is never counted and
never lends its action items to "what was tried". Pages and the API both read from here.

A structure can have thousands of members at a large archive, so nothing here loads them
all: its figures come from the selector (`Seen`), the members, the action items and what
came back are read a page at a time, and the components and the catalogue fixes already
tried are aggregated in the database. One structure costs a fixed number of queries
whatever its number of members.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from similarity.text import content_words
from taxonomy.models import StructuralPattern

from .analysis.cost import Cost
from .models import ActionItem, Component, Incident, RecurrenceMembership, RecurringStructure
from .selectors import (
    Reader,
    Seen,
    recurred_memberships,
    recurring_structures_for,
    visible_memberships,
)

# The kinds of structure, as a lead reads them (the model's own labels are for the admin).
KIND_LABELS = {
    "pattern": "Pattern",
    "mechanism": "Mechanism of a pattern",
    "pair": "Two patterns together",
}
# Members and action items shown at a time on the structure page and in the API detail;
# members listed with each structure of the API list; what came back after remediation.
MEMBERS_PER_PAGE = 50
ACTIONS_PER_PAGE = 50
RECENT_MEMBERS = 10
CAME_BACK_SHOWN = 20
TRIED_BY_SHOWN = 3


def structure_name(structure: RecurringStructure) -> str:
    """The structure's human name; built from its patterns when the analysis gave none."""
    name = getattr(structure, "name", "")
    if name:
        return name
    patterns = list(structure.patterns.all()) or [structure.pattern]
    return " + ".join(p.name for p in patterns)


def kind_label(structure: RecurringStructure) -> str:
    kind = getattr(structure, "kind", "") or (
        "pair" if structure.signature.startswith("pair:") else "pattern"
    )
    return KIND_LABELS.get(kind, "Pattern")


def structure_patterns(structure: RecurringStructure) -> list[StructuralPattern]:
    """The patterns the structure is made of (prefetched by the selector)."""
    return list(structure.patterns.all()) or [structure.pattern]


class SeenFigures:
    """A structure's figures as its reader may see them (`self.seen`), by the names pages,
    serializers and templates use for a card and a structure's page alike."""

    seen: Seen

    @property
    def recurrences(self) -> int:
        return self.seen.recurrence_count

    @property
    def cost(self) -> Cost:
        return self.seen.cost

    @property
    def last_seen(self) -> datetime | None:
        return self.seen.last_seen

    @property
    def despite_remediation(self) -> bool:
        return self.seen.despite_remediation


@dataclass(frozen=True)
class Card(SeenFigures):
    """One structure in the list: what a lead compares before opening it."""

    structure: RecurringStructure
    name: str
    kind: str
    seen: Seen

    @property
    def members(self) -> int:
        return self.seen.incident_count


def card(structure: RecurringStructure) -> Card:
    """A list card from a structure of `recurring_structures_for` (no query of its own)."""
    return Card(
        structure=structure,
        name=structure_name(structure),
        kind=kind_label(structure),
        seen=structure.seen,
    )


def recent_members(
    structures: list[RecurringStructure], limit: int = RECENT_MEMBERS
) -> dict[int, list[RecurrenceMembership]]:
    """structure id → its latest dated members the reader may see, in time order, each
    with `link` (its recurrence for the reader). One query for all the structures
    (each its own `LIMIT` through the (structure, time) index, ORed), and one for the
    components."""
    if not structures:
        return {}
    newest = ("-occurred_at", "-incident_id")
    # The latest by date: an undated member has none, so it is never among them. Each
    # structure's own LIMIT walks the (structure, time) index backwards; PostgreSQL takes
    # them as one UNION ALL, SQLite (which allows no LIMIT inside one) as ORed subqueries.
    arms = [
        visible_memberships(structure)
        .filter(occurred_at__isnull=False)
        .order_by(*newest)
        .values("pk")[:limit]
        for structure in structures
    ]
    if connection.features.supports_slicing_ordering_in_compound:
        latest = Q(pk__in=arms[0].union(*arms[1:], all=True))
    else:
        latest = Q()
        for arm in arms:
            latest |= Q(pk__in=arm)
    found: dict[int, list[RecurrenceMembership]] = {s.pk: [] for s in structures}
    seen = {s.pk: s.seen for s in structures}
    for m in (
        RecurrenceMembership.objects.filter(latest)
        .order_by("structure_id", *newest)
        .select_related("incident")
        .prefetch_related("incident__components")
    ):
        m.link = seen[m.structure_id].link(m)
        found[m.structure_id].append(m)
    for members in found.values():
        members.reverse()
    return found


def components_of(structures: list[RecurringStructure], user: Reader) -> dict[int, list[str]]:
    """structure id → names of the components its members the reader may see went through,
    sorted; one aggregate query over the component links for all of them, and their names."""
    pairs = Incident.components.through.objects.filter(
        incident__recurrence_memberships__structure_id__in=[s.pk for s in structures]
    )
    if any(s.seen.hidden for s in structures):
        pairs = pairs.exclude(incident_id__in=Incident.objects.hidden_from(user))
    found = list(
        pairs.order_by()
        .values_list("incident__recurrence_memberships__structure_id", "component_id")
        .distinct()
    )
    names = dict(Component.objects.filter(pk__in={c for _, c in found}).values_list("pk", "name"))
    out: dict[int, set[str]] = {s.pk: set() for s in structures}
    for structure_id, component_id in found:
        out[structure_id].add(names[component_id])
    return {pk: sorted(found) for pk, found in out.items()}


# --- one structure --------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    membership: RecurrenceMembership
    incident: Incident
    weighted_hours: float | None
    recurred: bool
    after_remediation: bool


@dataclass(frozen=True)
class ComponentUse:
    component: Component
    incidents: int


@dataclass(frozen=True)
class Action:
    item: ActionItem
    incident: Incident
    # Aimed at this structure: linked to one of its patterns.
    aimed: bool


@dataclass(frozen=True)
class CameBack:
    """A member that began after the earlier member's remediation was done."""

    member: Member
    previous: Incident
    remediation: list[ActionItem]


@dataclass(frozen=True)
class Fix:
    """One of the catalogue's structural fixes for a pattern of the structure, with the
    first action items across members that look like it (none: not yet tried) and how many
    do."""

    pattern: StructuralPattern
    text: str
    tried_by: list[Action] = field(default_factory=list)
    tried_count: int = 0


@dataclass(frozen=True)
class StructureView(SeenFigures):
    structure: RecurringStructure
    name: str
    kind: str
    patterns: list[StructuralPattern]
    # The page of members asked for (narrowed as asked), dated in time order then undated.
    members_page: Page
    dated: list[Member]
    undated: list[Member]
    components: list[ComponentUse]
    actions_page: Page
    actions: list[Action]
    came_back: list[CameBack]
    came_back_count: int
    untried: list[Fix]
    tried: list[Fix]

    @property
    def seen(self) -> Seen:
        return self.structure.seen

    @property
    def members(self) -> list[Member]:
        return self.dated + self.undated

    @property
    def member_count(self) -> int:
        return self.seen.incident_count


def visible_structure(user: Reader, pk: int) -> RecurringStructure:
    """The structure as this reader may see it, or 404 when it does not recur for them
    (fewer than two members they may see): the same answer as for no structure at all."""
    found = recurring_structures_for(user, RecurringStructure.objects.filter(pk=pk))
    if not found:
        raise Http404("No such recurring structure.")
    return found[0]


def _member(structure: RecurringStructure, m: RecurrenceMembership) -> Member:
    link = structure.seen.link(m)
    return Member(
        membership=m,
        incident=m.incident,
        weighted_hours=m.weighted_hours,
        recurred=link.recurred,
        after_remediation=link.after_remediation,
    )


def _aimed(pattern_ids: set[int]) -> Q:
    return Q(pattern_id__in=pattern_ids) | Q(
        pattern__isnull=True, kind=ActionItem.Kind.STRUCTURAL_FIX
    )


def structure_view(
    structure: RecurringStructure,
    *,
    page: object = 1,
    actions_page: object = 1,
    component: str = "",
    only_recurred: bool = False,
) -> StructureView:
    """Everything the structure page and the API detail show, from a structure of
    `recurring_structures_for`: a page of its members (narrowed to those expressed through
    `component`, or that recurred), the components it went through, a page of the action
    items across members, what came back after remediation and the catalogue's fixes."""
    patterns = structure_patterns(structure)
    pattern_ids = {p.pk for p in patterns}

    members = recurred_memberships(structure) if only_recurred else visible_memberships(structure)
    if component:
        members = members.filter(incident__components__slug=component)
    members_page = Paginator(
        members.select_related("incident").prefetch_related("incident__components"),
        MEMBERS_PER_PAGE,
    ).get_page(page)
    shown = [_member(structure, m) for m in members_page.object_list]

    visible_ids = visible_memberships(structure).values("incident_id")
    components = [
        ComponentUse(c, c.members)
        for c in Component.objects.filter(incidents__in=visible_ids)
        .annotate(members=Count("incidents", distinct=True))
        .order_by("-members", "name")
    ]

    items = ActionItem.objects.filter(incident_id__in=visible_ids)
    actions_at = Paginator(
        items.select_related("incident", "leverage_level", "pattern").order_by(
            F("incident__started_at").asc(nulls_last=True), "incident_id", "id"
        ),
        ACTIONS_PER_PAGE,
    ).get_page(actions_page)
    actions = [
        Action(item, item.incident, item.pattern_id in pattern_ids)
        for item in actions_at.object_list
    ]

    came_back, came_back_count = _came_back(structure)
    untried, tried = _fixes(patterns, items, pattern_ids)
    return StructureView(
        structure=structure,
        name=structure_name(structure),
        kind=kind_label(structure),
        patterns=patterns,
        members_page=members_page,
        dated=[m for m in shown if m.incident.started_at is not None],
        undated=[m for m in shown if m.incident.started_at is None],
        components=components,
        actions_page=actions_at,
        actions=actions,
        came_back=came_back,
        came_back_count=came_back_count,
        untried=untried,
        tried=tried,
    )


def _came_back(structure: RecurringStructure) -> tuple[list[CameBack], int]:
    """The latest members that came back after the remediation of the member before them
    was done (as the reader may know it), with that remediation, and how many did."""
    seen = structure.seen
    # A reader's "after remediation" is a subset of the stored one: only a change can take
    # one away.
    gone = sorted(pk for pk, link in seen.changed.items() if not link.after_remediation)
    after = (
        visible_memberships(structure).filter(after_remediation=True).exclude(incident_id__in=gone)
    )
    count = after.count()
    latest = list(
        after.order_by(F("occurred_at").desc(nulls_last=True), "-incident_id").select_related(
            "incident"
        )[:CAME_BACK_SHOWN]
    )
    previous_of = {m.incident_id: seen.link(m).previous_id for m in latest}
    earlier = Incident.objects.in_bulk([pk for pk in previous_of.values() if pk is not None])
    done: dict[int, list[ActionItem]] = {}
    for item in (
        ActionItem.objects.filter(incident_id__in=list(earlier), status=ActionItem.Status.DONE)
        .select_related("leverage_level")
        .order_by("id")
    ):
        done.setdefault(item.incident_id, []).append(item)
    out = []
    for m in latest:
        previous = earlier.get(previous_of[m.incident_id])
        if previous is None:
            continue
        began = m.incident.started_at
        out.append(
            CameBack(
                member=_member(structure, m),
                previous=previous,
                remediation=[
                    item
                    for item in done.get(previous.pk, [])
                    if began is None or item.completed_at is None or item.completed_at <= began
                ],
            )
        )
    return out, count


def _fixes(
    patterns: list[StructuralPattern], items: QuerySet[ActionItem], pattern_ids: set[int]
) -> tuple[list[Fix], list[Fix]]:
    """The catalogue's fixes for the structure's patterns, split into not yet tried and
    tried (an action item across the members reads like it), judged once per distinct
    title: archives repeat the same action titles across many reviews."""
    fixes = [(pattern, text) for pattern in patterns for text in catalogue_fixes(pattern)]
    if not fixes:
        return [], []
    uses = dict(items.order_by().values("title").annotate(n=Count("pk")).values_list("title", "n"))
    # A title can read like a fix only if it shares two stems with one: most share none.
    any_fix = frozenset().union(*(_stems(text) for _, text in fixes))
    near = [t for t in uses if len(_stems(t) & any_fix) >= MIN_SHARED_WORDS]
    matching = {text: [t for t in near if resembles(t, text)] for _, text in fixes}
    wanted = sorted({t for found in matching.values() for t in found})
    # The first few items of each matching title, in one query: a window over the titles.
    first: dict[str, list[ActionItem]] = {}
    if wanted:
        matches = items.filter(title__in=wanted).select_related("incident").order_by("id")
        for item in matches.iterator(chunk_size=200):
            shown = first.setdefault(item.title, [])
            if len(shown) < TRIED_BY_SHOWN:
                shown.append(item)
            if all(len(first.get(t, ())) >= TRIED_BY_SHOWN for t in wanted):
                break
    untried, tried = [], []
    for pattern, text in fixes:
        titles = matching[text]
        if not titles:
            untried.append(Fix(pattern, text))
            continue
        examples = sorted((i for t in titles for i in first.get(t, [])), key=lambda i: i.pk)
        tried.append(
            Fix(
                pattern,
                text,
                [
                    Action(item, item.incident, item.pattern_id in pattern_ids)
                    for item in examples[:TRIED_BY_SHOWN]
                ],
                sum(uses[t] for t in titles),
            )
        )
    return untried, tried


# --- the catalogue's structural fixes ---------------------------------------------------------


def catalogue_fixes(pattern: StructuralPattern) -> list[str]:
    """The structural fixes the catalogue entry lists for a pattern (`[response]
    structural_fixes` in its TOML, stored in `entry`); an entry edited into another shape
    gives none rather than failing the page."""
    entry = pattern.entry if isinstance(pattern.entry, dict) else {}
    response = entry.get("response", {})
    fixes = response.get("structural_fixes", []) if isinstance(response, dict) else []
    return (
        [str(f) for f in fixes if isinstance(f, str) and f.strip()]
        if isinstance(fixes, list)
        else []
    )


_SUFFIX = re.compile(r"(ations|ation|ings|ing|ies|ied|ed|es|s|y)$")


# Action titles repeat across reviews and requests: each is stemmed once per process.
@lru_cache(maxsize=100_000)
def _stems(text: str) -> frozenset[str]:
    stems = set()
    for word in content_words(text):
        stem = _SUFFIX.sub("", word)
        stems.add(stem if len(stem) >= 4 else word)
    return frozenset(stems)


# An action item "tried" a catalogue fix when it shares at least this many meaningful words
# with it, and they are at least this share of the shorter of the two: action items are
# short ("Inventory of expiring certificates with owners"), fixes a sentence long.
MIN_SHARED_WORDS = 2
MIN_SHARED_SHARE = 0.5


def resembles(action_title: str, fix: str) -> bool:
    """Whether an action item's title reads as an attempt at a catalogue fix.

    Nothing links an action item to a catalogue fix, so this is judged from the words they
    share (stems of content words); the page shows which item matched, so a reader can
    disagree with it."""
    a, b = _stems(action_title), _stems(fix)
    if not a or not b:
        return False
    shared = len(a & b)
    return shared >= MIN_SHARED_WORDS and shared >= MIN_SHARED_SHARE * min(len(a), len(b))


def since(moment: datetime | None) -> float | None:
    """Days from `moment` to now (None stays None)."""
    if moment is None:
        return None
    return round((timezone.now() - moment).total_seconds() / 86400, 1)
