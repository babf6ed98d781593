"""What a reader is shown of one recurring structure, and of a page of structures.

Plain functions over `incidents.selectors.recurring_structures_for`, so every figure comes
from the reviews the reader may see: a restricted member never appears, is never counted and
never lends its action items to "what was tried". Pages and the API both read from here.

One structure costs a fixed number of queries whatever its number of members: the selector's
(the structure, its visible members, their components, its patterns) and one for the action
items of those members.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.http import Http404
from django.utils import timezone

from similarity.text import content_words
from taxonomy.models import StructuralPattern

from .analysis.cost import Cost, total_cost, weighted_hours
from .models import ActionItem, Component, Incident, RecurrenceMembership, RecurringStructure
from .selectors import Reader, recurring_structures_for

# The kinds of structure, as a lead reads them (the model's own labels are for the admin).
KIND_LABELS = {
    "pattern": "Pattern",
    "mechanism": "Mechanism of a pattern",
    "pair": "Two patterns together",
}


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


def _cost(memberships: list[RecurrenceMembership]) -> Cost:
    return total_cost(
        (m.incident.severity, m.incident.started_at, m.incident.resolved_at,
         m.incident.users_affected_count)
        for m in memberships
    )  # fmt: skip


def _recurred(membership: RecurrenceMembership) -> bool:
    """Whether this member recurred as the reader may know it: the selector's per-reader
    flag where it gives one, otherwise "an earlier member the reader may see came first"."""
    flag = getattr(membership, "reader_recurred", None)
    if flag is not None:
        return bool(flag)
    return getattr(membership, "reader_previous_id", None) is not None


@dataclass(frozen=True)
class Card:
    """One structure in the list: what a lead compares before opening it."""

    structure: RecurringStructure
    name: str
    kind: str
    members: int
    recurrences: int
    cost: Cost
    last_seen: datetime | None
    despite_remediation: bool


def card(structure: RecurringStructure) -> Card:
    """A list card from a structure of `recurring_structures_for` (no query of its own)."""
    members = structure.visible_memberships
    dated = [m.occurred_at for m in members if m.occurred_at is not None]
    return Card(
        structure=structure,
        name=structure_name(structure),
        kind=kind_label(structure),
        members=len(members),
        recurrences=sum(1 for m in members if _recurred(m)),
        cost=_cost(members),
        last_seen=max(dated, default=None),
        despite_remediation=bool(structure.reader_despite_remediation),
    )


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
    action items across members that look like it (none: not yet tried)."""

    pattern: StructuralPattern
    text: str
    tried_by: list[Action] = field(default_factory=list)


@dataclass(frozen=True)
class StructureView:
    structure: RecurringStructure
    name: str
    kind: str
    patterns: list[StructuralPattern]
    dated: list[Member]
    undated: list[Member]
    components: list[ComponentUse]
    actions: list[Action]
    came_back: list[CameBack]
    untried: list[Fix]
    tried: list[Fix]
    cost: Cost

    @property
    def members(self) -> list[Member]:
        return self.dated + self.undated

    @property
    def recurrences(self) -> int:
        return sum(1 for m in self.members if m.recurred)

    @property
    def despite_remediation(self) -> bool:
        return bool(self.structure.reader_despite_remediation)

    @property
    def last_seen(self) -> datetime | None:
        return self.dated[-1].incident.started_at if self.dated else None


def visible_structure(user: Reader, pk: int) -> RecurringStructure:
    """The structure as this reader may see it, or 404 when it does not recur for them
    (fewer than two members they may see): the same answer as for no structure at all."""
    structure = recurring_structures_for(user).filter(pk=pk).first()
    if structure is None:
        raise Http404("No such recurring structure.")
    return structure


def structure_view(structure: RecurringStructure) -> StructureView:
    """Everything the structure page and the API detail show, from a structure of
    `recurring_structures_for` and one more query (the members' action items)."""
    memberships = list(structure.visible_memberships)
    patterns = structure_patterns(structure)
    pattern_ids = {p.pk for p in patterns}
    items = list(
        ActionItem.objects.filter(incident_id__in=[m.incident_id for m in memberships])
        .select_related("leverage_level", "pattern")
        .order_by("incident_id", "id")
    )
    by_incident: dict[int, list[ActionItem]] = {}
    for item in items:
        by_incident.setdefault(item.incident_id, []).append(item)

    members = [
        Member(
            membership=m,
            incident=m.incident,
            weighted_hours=weighted_hours(
                m.incident.severity, m.incident.started_at, m.incident.resolved_at
            ),
            recurred=_recurred(m),
            after_remediation=bool(m.reader_after_remediation),
        )
        for m in memberships
    ]
    dated = sorted(
        (m for m in members if m.incident.started_at is not None),
        key=lambda m: (m.incident.started_at, m.incident.pk),
    )
    undated = sorted(
        (m for m in members if m.incident.started_at is None), key=lambda m: m.incident.pk
    )

    uses: Counter[int] = Counter()
    components: dict[int, Component] = {}
    for m in memberships:
        for component in m.incident.components.all():
            uses[component.pk] += 1
            components[component.pk] = component
    component_uses = [
        ComponentUse(components[pk], count)
        for pk, count in sorted(uses.items(), key=lambda kv: (-kv[1], components[kv[0]].name))
    ]

    incidents = {m.incident.pk: m.incident for m in members}
    order = {m.incident.pk: n for n, m in enumerate(dated + undated)}
    actions = sorted(
        (
            Action(item, incidents[item.incident_id], item.pattern_id in pattern_ids)
            for item in items
        ),
        key=lambda a: (order[a.incident.pk], a.item.pk),
    )

    came_back = []
    for member in dated + undated:
        previous_id = getattr(member.membership, "reader_previous_id", None)
        if not member.after_remediation or previous_id not in incidents:
            continue
        began = member.incident.started_at
        came_back.append(
            CameBack(
                member=member,
                previous=incidents[previous_id],
                remediation=[
                    item
                    for item in by_incident.get(previous_id, [])
                    if item.status == ActionItem.Status.DONE
                    and (began is None or item.completed_at is None or item.completed_at <= began)
                ],
            )
        )

    untried, tried = [], []
    for pattern in patterns:
        for text in catalogue_fixes(pattern):
            matches = [a for a in actions if resembles(a.item.title, text)]
            (tried if matches else untried).append(Fix(pattern, text, matches))

    return StructureView(
        structure=structure,
        name=structure_name(structure),
        kind=kind_label(structure),
        patterns=patterns,
        dated=dated,
        undated=undated,
        components=component_uses,
        actions=actions,
        came_back=came_back,
        untried=untried,
        tried=tried,
        cost=_cost(memberships),
    )


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


def _stems(text: str) -> set[str]:
    stems = set()
    for word in content_words(text):
        stem = _SUFFIX.sub("", word)
        stems.add(stem if len(stem) >= 4 else word)
    return stems


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
