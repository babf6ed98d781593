"""Recurring structures: the same structure coming back in a later incident after the earlier
one was reviewed, whatever the components. The definition, and its thresholds with the
measurements behind them, are in docs/recurrence.md; in short:

- An incident *shows* a pattern when an author linked it, or its text shows it confidently
  (score ≥ `text_threshold()`). Where the text names one of the pattern's catalogue
  mechanisms (certificate expiry under expiry no one owns) the incident shows that mechanism
  too; a pattern found only in the text then counts at the mechanism level alone, while a
  linked pattern also counts as itself (the author's claim, which action items aim at). A
  mechanism structure with exactly its pattern's incidents is left out. Two patterns
  together form a structure only when they co-occur well beyond chance
  (`pair_is_meaningful`) and their incidents are not simply those of one of the two.
- A member *recurred* when an earlier incident of the same organisation with the same
  structure had been reviewed (its review existed) before this one began. An undated
  incident cannot be placed, so it never recurs (it can still be the earlier one: its review
  existed). Only structures that recurred at least once are stored.
- It recurred *despite remediation* when such an earlier incident's action items aimed at
  the structure (see `aimed_at`) were all done before this one began.

Analysing one incident touches only the structures of its own signatures, through indexed
lookups; a pair becomes or stops being meaningful at the full recompute (`recompute_all`,
nightly and after catalogue changes), which rebuilds everything in bulk.
"""

from __future__ import annotations

import itertools
import logging
import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Sum
from django.dispatch import Signal
from django.utils import timezone

from incidents.models import (
    ActionItem,
    ContributingFactor,
    Incident,
    PatternLink,
    PatternScore,
    RecurrenceMembership,
    RecurringStructure,
    SuggestionDecision,
    TimelineEvent,
)
from taxonomy.models import StructuralPattern
from taxonomy.selectors import mechanisms as catalogue_mechanisms

from .cost import total_cost, weighted_hours
from .similarity import (
    PhraseFinder,
    catalogue_phrases,
    catalogue_pinned,
    normalise,
    suggest_patterns,
)

logger = logging.getLogger(__name__)


# Sent inside the analysis transaction with the analysed incident (its factors and timeline
# prefetched), and once per chunk of a full recompute with the chunk's incidents. Capabilities
# built on the analysis (the similarity index, duplicate detection) listen here, so this
# module never has to import them.
incident_analysed = Signal()  # sender=Incident, incident=…
incidents_rescored = Signal()  # sender=Incident, incidents=[…]
recompute_started = Signal()  # sender=Incident, before the first chunk
recompute_finished = Signal()  # sender=Incident, after the last chunk was scored
# Sent after a full recompute has committed, with the signatures of the recurring structures
# it found that were not there before it (a catalogue change, new mechanisms, a first import).
structures_recognised = Signal()  # sender=RecurringStructure, signatures=[…]

# A pair of patterns is a structure of its own only if at least this many incidents show both,
# they co-occur at least PAIR_MIN_LIFT times as often as chance would have them, and the
# chance of seeing that many together by accident (hypergeometric tail) is at most PAIR_MAX_P.
PAIR_MIN_SUPPORT = 3
PAIR_MIN_LIFT = 2.0
PAIR_MAX_P = 0.01
# A review recorded elsewhere first (imported, or loaded from a file) existed before Seams
# saw it; when exactly is unknown, so it is taken to exist this long after the incident
# ended — or when Seams received it, if that is earlier.
OUTSIDE_REVIEW_LAG = timedelta(days=30)
EARLIEST = datetime.min.replace(tzinfo=UTC)


def text_threshold() -> float:
    """How strongly a review's text must show a pattern for it to count structurally: a
    confident suggestion (two precise phrases or more), not a single word."""
    return getattr(settings, "SEAMS_TEXT_PATTERN_THRESHOLD", 0.6)


def signature_for(slugs: Iterable[str]) -> str:
    """The signature of a pattern or a pair of patterns, sorted."""
    ordered = sorted(slugs)
    return ("pattern:" if len(ordered) == 1 else "pair:") + "+".join(ordered)


def mechanism_signature(slug: str) -> str:
    return f"mechanism:{slug}"


@dataclass(frozen=True)
class AnalysisResult:
    """What one analysis did: the structures the incident belongs to now."""

    incident_id: int
    structures: tuple[int, ...]
    skipped: bool = False


def review_text(incident: Incident) -> str:
    """All the prose of a review, for finding the mechanisms it describes."""
    return _prose(
        (incident.title, incident.summary, incident.impact, incident.narrative),
        (f.text for f in incident.contributing_factors.all()),
        ((e.text, e.why_reasonable) for e in incident.timeline.all()),
    )


# --- mechanisms -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    """What the analysis needs of the catalogue, read once per analysis or recompute."""

    slug_to_id: dict[str, int]
    names: dict[str, str]  # pattern slug → name
    # pattern slug → [(mechanism slug, mechanism name, normalised phrases)]
    mechanisms: dict[str, list[tuple[str, str, tuple[str, ...]]]] = field(default_factory=dict)

    @property
    def slug_of(self) -> dict[int, str]:
        return {v: k for k, v in self.slug_to_id.items()}

    def mechanism(self, slug: str) -> tuple[str, str] | None:
        """(pattern slug, mechanism name) of a mechanism."""
        for pattern, found in self.mechanisms.items():
            for mech, name, _ in found:
                if mech == slug:
                    return pattern, name
        return None


def read_catalogue() -> Catalogue:
    rows = list(StructuralPattern.objects.values_list("slug", "id", "name"))
    mechs: dict[str, list[tuple[str, str, tuple[str, ...]]]] = defaultdict(list)
    for m in catalogue_mechanisms():
        phrases = tuple(
            sorted({normalise(p).strip() for p in (m.name, *m.match_terms) if p.strip()})
        )
        mechs[m.pattern_slug].append((m.slug, m.name, phrases))
    return Catalogue({s: i for s, i, _ in rows}, {s: n for s, _, n in rows}, dict(mechs))


def mechanisms_named(haystack: str, pattern_slug: str, catalogue: Catalogue) -> list[str]:
    """The pattern's mechanisms whose name or phrases the (normalised) text contains."""
    return [
        slug
        for slug, _, phrases in catalogue.mechanisms.get(pattern_slug, ())
        if any(f" {p} " in haystack for p in phrases)
    ]


def score_incident(
    incident: Incident,
    *,
    catalogue: Catalogue | None = None,
    rejected: set[str] | None = None,
) -> list[PatternScore]:
    """Unsaved PatternScore rows: linked patterns at 1.0, and patterns the text shows,
    except those the authors rejected, each with the mechanisms the text names. Bulk
    callers pass `catalogue` and `rejected` to save queries per incident."""
    if rejected is None:
        rejected = set(
            SuggestionDecision.objects.filter(
                incident=incident, kind="pattern", decision="rejected"
            ).values_list("pattern__slug", flat=True)
        )
    if catalogue is None:
        catalogue = read_catalogue()
    links = [(link.pattern_id, link.rationale) for link in incident.pattern_links.all()]
    return [
        PatternScore(incident=incident, **row._asdict())
        for row in _scores(normalise(review_text(incident)), links, rejected, catalogue)
    ]


def confident(score: PatternScore) -> bool:
    return score.basis == PatternScore.Basis.LINKED or score.score >= text_threshold()


def own_signatures(
    scores: Iterable[PatternScore], slug_of: dict[int, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(signature → basis of its pattern or mechanism structures, confident pattern slug →
    basis). Pairs are judged over the whole archive (`pair_is_meaningful`)."""
    mine: dict[str, str] = {}
    patterns: dict[str, str] = {}
    for s in scores:
        if not confident(s) or s.pattern_id not in slug_of:
            continue
        slug = slug_of[s.pattern_id]
        patterns[slug] = s.basis
        for mech in s.mechanisms:
            mine[mechanism_signature(mech)] = s.basis
        if s.basis == PatternScore.Basis.LINKED or not s.mechanisms:
            mine[signature_for([slug])] = s.basis
    return mine, patterns


def pair_signatures(patterns: dict[str, str]) -> dict[str, str]:
    """Every pair of the confident patterns, as candidates."""
    out = {}
    for a, b in itertools.combinations(sorted(patterns), 2):
        basis = "linked" if patterns[a] == patterns[b] == "linked" else "text"
        out[signature_for([a, b])] = basis
    return out


def hypergeometric_tail(total: int, a: int, b: int, both: int) -> float:
    """P(X ≥ both) when `b` incidents are drawn from `total` of which `a` show the other
    pattern: how likely this much co-occurrence is by chance alone."""
    top = min(a, b)
    if both <= max(0, a + b - total):
        return 1.0
    log_denominator = _log_comb(total, b)
    p = 0.0
    for k in range(both, top + 1):
        p += math.exp(_log_comb(a, k) + _log_comb(total - a, b - k) - log_denominator)
    return min(1.0, p)


def _log_comb(n: int, k: int) -> float:
    if k < 0 or k > n:
        return -math.inf
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def pair_is_meaningful(total: int, a: int, b: int, both: int) -> bool:
    """Two patterns form a structure of their own: shown together by at least
    PAIR_MIN_SUPPORT incidents, PAIR_MIN_LIFT times as often as chance, with a chance
    probability of at most PAIR_MAX_P — and not simply the incidents of one of them."""
    if both < PAIR_MIN_SUPPORT or total <= 0 or both in (a, b):
        return False
    lift = both * total / (a * b)
    return lift >= PAIR_MIN_LIFT and hypergeometric_tail(total, a, b, both) <= PAIR_MAX_P


# --- the recurrence of one structure ----------------------------------------------------------


def reviewed_at(
    created_at: datetime,
    external_id: str | None,
    started_at: datetime | None,
    mitigated_at: datetime | None,
    resolved_at: datetime | None,
) -> datetime:
    """When the review came to exist, so the organisation could learn from it."""
    if external_id:
        end = resolved_at or mitigated_at or started_at
        if end is not None:
            return min(created_at, end + OUTSIDE_REVIEW_LAG)
    return created_at


@dataclass
class Member:
    """What the recurrence of a structure needs to know of one of its incidents."""

    pk: int
    organisation: str
    occurred_at: datetime | None
    reviewed_at: datetime
    basis: str = "linked"
    # severity, started_at, resolved_at, users_affected_count
    cost: tuple = ()
    # From when its action items aimed at the structure were all done (None: never), and
    # the kinds of those items: what a later member recurring after it is judged on.
    remediated_from: datetime | None = None
    aimed_kinds: tuple[str, ...] = ()


def aimed_at(items, pattern_ids: set[int]) -> list[tuple[str, datetime | None, str]]:
    """The action items (pattern_id, status, completed_at, kind) aimed at a structure made
    of `pattern_ids`: those linked to one of its patterns, and structural fixes linked to
    no pattern (an incident's structural fix is aimed at the structures it shows)."""
    return [
        (status, completed, kind)
        for pattern_id, status, completed, kind in items
        if pattern_id in pattern_ids
        or (pattern_id is None and kind == ActionItem.Kind.STRUCTURAL_FIX)
    ]


def remediated_from(items: list[tuple[str, datetime | None, str]]) -> datetime | None:
    """From when every aimed item was done (None: never — none aimed, or one not done). An
    item marked done without a date counts as done from the start."""
    if not items or any(status != ActionItem.Status.DONE for status, _, _ in items):
        return None
    return max((c for _, c, _ in items if c is not None), default=EARLIEST)


@dataclass
class Link:
    previous: int | None = None
    recurred: bool = False
    after_remediation: bool = False
    kinds: list[str] = field(default_factory=list)


def aim(members: list[Member], items: dict[int, list], pattern_ids: set[int]) -> None:
    """Give each member its `remediated_from` and `aimed_kinds` for a structure made of
    `pattern_ids`, from its action items (pattern_id, status, completed_at, kind)."""
    for m in members:
        aimed = aimed_at(items.get(m.pk, ()), pattern_ids)
        m.remediated_from = remediated_from(aimed)
        m.aimed_kinds = tuple(sorted({kind for _, _, kind in aimed}))


def link_members(members: list[Member]) -> dict[int, Link]:
    """Each member's recurrence: the earlier member it recurred after (the latest one whose
    aimed action items were all done before it began, else the latest one reviewed before
    it began), whether it recurred, and whether despite remediation. Members carry their
    remediation (`aim`). The same rule, one member at a time in SQL, is `earlier_reviewed`.

    Within one organisation, members sorted by review time; a sweep keeps each incident's
    cost at O(log n) for the look-up (plus the earlier members scanned for remediation)."""
    links: dict[int, Link] = {}
    by_org: dict[str, list[Member]] = defaultdict(list)
    for m in members:
        by_org[m.organisation].append(m)
    for group in by_org.values():
        group.sort(key=lambda m: (m.reviewed_at, m.pk))
        reviewed = [m.reviewed_at for m in group]
        # Only members with all aimed items done can make a later one "despite remediation":
        # usually few, so scanning them back from the cut stays short.
        fixable = [(i, m) for i, m in enumerate(group) if m.remediated_from is not None]
        fixable_at = [i for i, _ in fixable]
        for m in group:
            link = links.setdefault(m.pk, Link())
            if m.occurred_at is None:
                continue  # cannot be placed in time: never a recurrence
            cut = bisect_left(reviewed, m.occurred_at)
            latest = next((group[i] for i in range(cut - 1, -1, -1) if group[i].pk != m.pk), None)
            if latest is None:
                continue
            remedied = None
            for j in range(bisect_left(fixable_at, cut) - 1, -1, -1):
                e = fixable[j][1]
                if e.pk != m.pk and e.remediated_from <= m.occurred_at:
                    remedied = e
                    break
            chosen = remedied or latest
            link.recurred = True
            link.previous = chosen.pk
            link.after_remediation = remedied is not None
            link.kinds = list(chosen.aimed_kinds)
    return links


# --- writing structures -----------------------------------------------------------------------


def _member_rows(ids: Iterable[int]) -> Iterator[Member]:
    """Members from incident ids, in chunks (one query per 2,000)."""
    ids = list(ids)
    for start in range(0, len(ids), 2000):
        for row in Incident.objects.filter(pk__in=ids[start : start + 2000]).values_list(
            "pk", "organisation", "started_at", "created_at", "external_id", "mitigated_at",
            "resolved_at", "severity", "users_affected_count",
        ):  # fmt: skip
            yield _member(row)


def _member(row) -> Member:
    pk, org, started, created, external, mitigated, resolved, severity, users = row
    return Member(
        pk=pk,
        organisation=org or "",
        occurred_at=started,
        reviewed_at=reviewed_at(created, external, started, mitigated, resolved),
        cost=(severity, started, resolved, users),
    )


def _items_of(ids: Iterable[int]) -> dict[int, list]:
    items: dict[int, list] = defaultdict(list)
    ids = list(ids)
    for start in range(0, len(ids), 5000):
        for incident_id, *rest in ActionItem.objects.filter(
            incident_id__in=ids[start : start + 5000]
        ).values_list("incident_id", "pattern_id", "status", "completed_at", "kind"):
            items[incident_id].append(tuple(rest))
    return items


def describe(signature: str, catalogue: Catalogue) -> tuple[str, str, list[str], str]:
    """(kind, mechanism slug, pattern slugs, human name) of a signature."""
    kind, rest = signature.split(":", 1)
    if kind == "mechanism":
        found = catalogue.mechanism(rest)
        pattern, mech_name = found if found else ("", rest)
        pattern_name = catalogue.names.get(pattern, pattern)
        return "mechanism", rest, [pattern] if pattern else [], f"{pattern_name}: {mech_name}"
    slugs = rest.split("+")
    return kind, "", slugs, " + ".join(catalogue.names.get(s, s) for s in slugs)


def write_structure(
    signature: str, members: list[Member], items: dict[int, list], catalogue: Catalogue
) -> RecurringStructure | None:
    """Store a structure with all its members if one of them recurred; otherwise remove it.
    Replaces what was stored (idempotent)."""
    kind, mechanism, slugs, name = describe(signature, catalogue)
    pattern_ids = {catalogue.slug_to_id[s] for s in slugs if s in catalogue.slug_to_id}
    aim(members, items, pattern_ids)
    links = link_members(members) if pattern_ids else {}
    if not any(link.recurred for link in links.values()):
        RecurringStructure.objects.filter(signature=signature).delete()
        return None
    structure, created = RecurringStructure.objects.get_or_create(
        signature=signature,
        defaults={"pattern_id": catalogue.slug_to_id[slugs[0]], "kind": kind, "name": name},
    )
    if created:
        structure.patterns.set(sorted(pattern_ids))
    rows = [
        (
            m.pk, m.occurred_at, m.reviewed_at, m.basis, links[m.pk].previous,
            links[m.pk].recurred, links[m.pk].after_remediation, tuple(links[m.pk].kinds),
            weighted_hours(*m.cost[:3]) if m.cost else None, m.cost[3] if m.cost else None,
            m.remediated_from, tuple(m.aimed_kinds),
        )
        for m in members
    ]  # fmt: skip
    # The nightly recompute mostly finds a structure's members as it left them: rewriting
    # hundreds of thousands of identical rows would be most of its cost, and so would
    # building a model instance for each only to compare it.
    if created or _stored_rows(structure) != set(rows):
        structure.memberships.all().delete()
        RecurrenceMembership.objects.bulk_create(
            (
                RecurrenceMembership(
                    structure=structure, **dict(zip(_MEMBERSHIP_FIELDS, row, strict=True))
                )
                for row in rows
            ),
            batch_size=2000,
        )
    _fill(structure, kind, mechanism, name, members, links)
    return structure


# In the order of the tuples `write_structure` compares; the two lists stored as JSON are
# compared as tuples.
_MEMBERSHIP_FIELDS = (
    "incident_id", "occurred_at", "reviewed_at", "basis", "previous_id", "recurred",
    "after_remediation", "remediation_kinds", "weighted_hours", "users_affected",
    "remediated_from", "aimed_kinds",
)  # fmt: skip


def _stored_rows(structure: RecurringStructure) -> set[tuple]:
    """Every stored field of each of the structure's memberships but its id and structure."""
    return {
        (a, b, c, d, e, f, g, tuple(h or ()), i, j, k, tuple(l_ or ()))
        for a, b, c, d, e, f, g, h, i, j, k, l_ in structure.memberships.values_list(
            *_MEMBERSHIP_FIELDS
        )
    }


def _fill(structure, kind, mechanism, name, members: list[Member], links: dict[int, Link]):
    dated = [m.occurred_at for m in members if m.occurred_at is not None]
    recurred = [m for m in members if links[m.pk].recurred]
    cost = total_cost(m.cost for m in members)
    structure.kind, structure.mechanism, structure.name = kind, mechanism, name
    structure.incident_count = len(members)
    structure.dated_count = len(dated)
    structure.first_seen = min(dated, default=None)
    structure.last_seen = max(dated, default=None)
    structure.recurrence_count = len(recurred)
    structure.last_recurred_at = max((m.occurred_at for m in recurred), default=None)
    structure.recurred_despite_remediation = any(links[m.pk].after_remediation for m in members)
    structure.weighted_hours = cost.weighted_hours
    structure.weighted_hours_unknown = cost.weighted_hours_unknown
    structure.users_affected = cost.users_affected
    structure.users_affected_unknown = cost.users_affected_unknown
    structure.save()


def _candidates(signature: str, catalogue: Catalogue) -> dict[int, str]:
    """incident id → basis for every incident whose stored scores carry a pattern or
    mechanism signature (through the (pattern, score) index)."""
    kind, rest = signature.split(":", 1)
    if kind == "mechanism":
        found = catalogue.mechanism(rest)
        if not found:
            return {}
        pattern = found[0]
    else:
        pattern = rest
    rows = PatternScore.objects.filter(
        Q(basis=PatternScore.Basis.LINKED) | Q(score__gte=text_threshold()),
        pattern_id=catalogue.slug_to_id[pattern],
    ).values_list("incident_id", "basis", "mechanisms")
    if kind == "mechanism":
        return {i: b for i, b, mechs in rows if rest in (mechs or [])}
    return {i: b for i, b, mechs in rows if b == PatternScore.Basis.LINKED or not mechs}


def _shown_by_another(signature: str, me: Member, catalogue: Catalogue) -> bool:
    """Does another incident of the same organisation carry this pattern or mechanism
    signature? (Indexed by pattern and by organisation; bounded by one organisation.)"""
    kind, rest = signature.split(":", 1)
    found = catalogue.mechanism(rest) if kind == "mechanism" else (rest, "")
    if not found or found[0] not in catalogue.slug_to_id:
        return False
    rows = (
        PatternScore.objects.filter(
            Q(basis=PatternScore.Basis.LINKED) | Q(score__gte=text_threshold()),
            pattern_id=catalogue.slug_to_id[found[0]],
            incident__organisation=me.organisation,
        )
        .exclude(incident_id=me.pk)
        .values_list("basis", "mechanisms")
    )
    if kind == "mechanism":
        return any(rest in (mechs or []) for _, mechs in rows.iterator())
    return any(b == PatternScore.Basis.LINKED or not m for b, m in rows.iterator())


def _pair_candidates(signature: str, catalogue: Catalogue) -> dict[int, str]:
    a, b = signature.split(":", 1)[1].split("+")
    both = None
    for slug in (a, b):
        found = dict(
            PatternScore.objects.filter(
                Q(basis=PatternScore.Basis.LINKED) | Q(score__gte=text_threshold()),
                pattern_id=catalogue.slug_to_id[slug],
            ).values_list("incident_id", "basis")
        )
        both = (
            found
            if both is None
            else {
                i: ("linked" if basis == found[i] == "linked" else "text")
                for i, basis in both.items()
                if i in found
            }
        )
    return both or {}


def rebuild_structure(signature: str, catalogue: Catalogue) -> RecurringStructure | None:
    """Rebuild one structure from the stored scores (when a member leaves it, or when an
    incident may make it recur for the first time)."""
    found = (
        _pair_candidates(signature, catalogue)
        if signature.startswith("pair:")
        else _candidates(signature, catalogue)
    )
    if len(found) < 2:
        RecurringStructure.objects.filter(signature=signature).delete()
        return None
    members = list(_member_rows(found))
    for m in members:
        m.basis = found[m.pk]
    return write_structure(signature, members, _items_of(found), catalogue)


def earlier_reviewed(structure_id, organisation, began, incident_id) -> QuerySet:
    """`link_members`' rule as indexed look-ups: the members of a structure of the same
    organisation whose review existed before the incident `incident_id` began, the latest
    first. The arguments are values, or expressions of an outer query
    (`incidents.selectors` judges many members at once through them)."""
    return (
        RecurrenceMembership.objects.filter(
            structure_id=structure_id,
            incident__organisation=organisation,
            reviewed_at__lt=began,
        )
        .exclude(incident_id=incident_id)
        .order_by("-reviewed_at", "-incident_id")
    )


def remedied_by(earlier: QuerySet, began) -> QuerySet:
    """Those of `earlier_reviewed` whose aimed action items were all done when it began
    (each carries from when: `aim`)."""
    return earlier.filter(remediated_from__lte=began)


def _link_one(structure: RecurringStructure, me: Member, catalogue: Catalogue) -> Link:
    """One member's link, by indexed look-ups among the structure's earlier members."""
    link = Link()
    if me.occurred_at is None:
        return link
    earlier = earlier_reviewed(structure.pk, me.organisation, me.occurred_at, me.pk)
    latest = earlier.values_list("incident_id", "aimed_kinds").first()
    if latest is None:
        return link
    remedied = (
        remedied_by(earlier, me.occurred_at).values_list("incident_id", "aimed_kinds").first()
    )
    chosen = remedied or latest
    link.recurred, link.previous, link.after_remediation = True, chosen[0], remedied is not None
    link.kinds = list(chosen[1] or [])
    return link
    pattern_ids = set(structure.patterns.values_list("id", flat=True))
    aimed = ActionItem.objects.filter(
        Q(pattern_id__in=pattern_ids) | Q(pattern__isnull=True, kind=ActionItem.Kind.STRUCTURAL_FIX)
    )
    # Per earlier member, newest first, through its own action items (incident index):
    # not a semi-join over every aimed action item of the archive.
    own = aimed.filter(incident_id=OuterRef("incident_id"))
    remedied = (
        earlier.filter(Exists(own))
        .exclude(
            Exists(
                own.filter(~Q(status=ActionItem.Status.DONE) | Q(completed_at__gt=me.occurred_at))
            )
        )
        .values_list("incident_id", flat=True)
        .first()
    )
    chosen = remedied or latest
    link.recurred, link.previous, link.after_remediation = True, chosen, remedied is not None
    link.kinds = sorted(set(aimed.filter(incident_id=chosen).values_list("kind", flat=True)))
    return link


def _refresh(structure: RecurringStructure) -> None:
    """A structure's figures from its stored memberships, in one aggregate statement over
    them (each carries its incident's cost), after one member changed."""
    recurred = Q(recurred=True)
    stats = structure.memberships.aggregate(
        n=Count("pk"),
        dated=Count("occurred_at"),
        first=Min("occurred_at"),
        last=Max("occurred_at"),
        recurrences=Count("pk", filter=recurred),
        last_recurred=Max("occurred_at", filter=recurred),
        despite=Count("pk", filter=Q(after_remediation=True)),
        hours=Sum("weighted_hours"),
        hours_unknown=Count("pk", filter=Q(weighted_hours__isnull=True)),
        users=Sum("users_affected"),
        users_unknown=Count("pk", filter=Q(users_affected__isnull=True)),
    )
    structure.incident_count = stats["n"]
    structure.dated_count = stats["dated"]
    structure.first_seen, structure.last_seen = stats["first"], stats["last"]
    structure.recurrence_count = stats["recurrences"]
    structure.last_recurred_at = stats["last_recurred"]
    structure.recurred_despite_remediation = stats["despite"] > 0
    structure.weighted_hours = round(stats["hours"] or 0.0, 1)
    structure.weighted_hours_unknown = stats["hours_unknown"]
    structure.users_affected = stats["users"]
    structure.users_affected_unknown = stats["users_unknown"]
    structure.save()


def analyse_incident(*, incident_id: int) -> AnalysisResult:
    """Score the incident's patterns and bring its recurrence memberships in line.

    Idempotent: scores are replaced, memberships guarded by unique constraints, and the
    incident is marked analysed only if no newer save asked for analysis meanwhile. A
    pair of patterns is joined only if it is already a structure: whether a pair co-occurs
    beyond chance is an archive-wide question the full recompute answers.
    """
    with transaction.atomic():
        incident = (
            Incident.objects.filter(pk=incident_id)
            .prefetch_related("pattern_links", "contributing_factors", "timeline")
            .first()
        )
        if incident is None:
            # Deleted after the job was queued: nothing to analyse, nothing to retry.
            return AnalysisResult(incident_id, (), skipped=True)
        requested = incident.analysis_requested_at
        catalogue = read_catalogue()

        scores = score_incident(incident, catalogue=catalogue)
        PatternScore.objects.filter(incident=incident).delete()
        PatternScore.objects.bulk_create(scores)
        wanted, patterns = own_signatures(scores, catalogue.slug_of)
        pairs = pair_signatures(patterns)
        wanted.update(
            (sig, pairs[sig])
            for sig in RecurringStructure.objects.filter(signature__in=pairs).values_list(
                "signature", flat=True
            )
        )
        me = _member(
            (
                incident.pk, incident.organisation, incident.started_at, incident.created_at,
                incident.external_id, incident.mitigated_at, incident.resolved_at,
                incident.severity, incident.users_affected_count,
            )
        )  # fmt: skip

        stale = list(
            RecurringStructure.objects.filter(memberships__incident=incident)
            .exclude(signature__in=wanted)
            .values_list("signature", flat=True)
        )
        RecurrenceMembership.objects.filter(
            incident=incident, structure__signature__in=stale
        ).delete()
        for signature in stale:
            rebuild_structure(signature, catalogue)

        member_of: list[int] = []
        own_items = list(
            ActionItem.objects.filter(incident=incident).values_list(
                "pattern_id", "status", "completed_at", "kind"
            )
        )
        for signature, basis in wanted.items():
            structure = RecurringStructure.objects.filter(signature=signature).first()
            if structure is None:
                # Perhaps this incident makes it recur for the first time: only if another
                # incident of its organisation shows it.
                if signature.startswith("pair:") or not _shown_by_another(signature, me, catalogue):
                    continue
                structure = rebuild_structure(signature, catalogue)
                if structure is not None:
                    member_of.append(structure.pk)
                continue
            me.basis = basis
            link = _link_one(structure, me, catalogue)
            own_aimed = aimed_at(own_items, set(structure.patterns.values_list("id", flat=True)))
            fixed_from = remediated_from(own_aimed)
            RecurrenceMembership.objects.update_or_create(
                structure=structure,
                incident=incident,
                defaults={
                    "occurred_at": me.occurred_at, "reviewed_at": me.reviewed_at,
                    "basis": basis, "previous_id": link.previous, "recurred": link.recurred,
                    "after_remediation": link.after_remediation,
                    "remediation_kinds": link.kinds,
                    "weighted_hours": weighted_hours(*me.cost[:3]),
                    "users_affected": me.cost[3],
                    "remediated_from": fixed_from,
                    "aimed_kinds": sorted({kind for _, _, kind in own_aimed}),
                },
            )  # fmt: skip
            # A review that existed before later members began (an old review imported
            # late, or one whose action items changed) may change what those members
            # recurred after: those that did not recur, those that recurred after it, and,
            # if its aimed items are all done, those not yet counted despite remediation
            # since then. (A new review, written now, has no later members at all.)
            affected = Q(recurred=False) | Q(previous_id=incident.pk)
            if fixed_from is not None:
                affected |= Q(after_remediation=False, occurred_at__gte=fixed_from)
            for later in (
                RecurrenceMembership.objects.filter(
                    affected,
                    structure=structure,
                    occurred_at__gt=me.reviewed_at,
                    incident__organisation=me.organisation,
                )
                .exclude(incident=incident)
                .select_related("incident")
            ):
                row = later.incident
                other = _member(
                    (
                        row.pk, row.organisation, row.started_at, row.created_at,
                        row.external_id, row.mitigated_at, row.resolved_at, row.severity,
                        row.users_affected_count,
                    )
                )  # fmt: skip
                relink = _link_one(structure, other, catalogue)
                RecurrenceMembership.objects.filter(pk=later.pk).update(
                    previous_id=relink.previous, recurred=relink.recurred,
                    after_remediation=relink.after_remediation, remediation_kinds=relink.kinds,
                )  # fmt: skip
            _refresh(structure)
            member_of.append(structure.pk)

        incident_analysed.send(sender=Incident, incident=incident)
        Incident.objects.filter(pk=incident_id, analysis_requested_at=requested).update(
            analysed_at=timezone.now()
        )
    return AnalysisResult(incident_id, tuple(sorted(member_of)))


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class _Score(NamedTuple):
    """One pattern score of a review, as `PatternScore` stores it (without the incident)."""

    pattern_id: int
    score: float
    basis: str
    evidence: list[str]
    mechanisms: list[str]


def _scores(
    haystack: str,
    links: list[tuple[int, str]],
    rejected: Iterable[str],
    catalogue: Catalogue,
    *,
    slug_of: dict[int, str] | None = None,
    found: set[str] | None = None,
) -> list[_Score]:
    """A review's pattern scores (what `score_incident` describes), from its normalised text
    (`normalise(review_text(…))`) and its pattern links ((pattern id, rationale), in order).

    `found`: the phrases the text contains, from a `PhraseFinder` over every pattern's and
    every mechanism's phrases (the full recompute finds them once per review); without it,
    each phrase is searched for in the text."""
    if slug_of is None:
        slug_of = catalogue.slug_of

    def named(pattern_slug: str) -> list[str]:
        if found is None:
            return mechanisms_named(haystack, pattern_slug, catalogue)
        return [
            slug
            for slug, _, phrases in catalogue.mechanisms.get(pattern_slug, ())
            if any(p in found for p in phrases)
        ]

    linked = dict(links)
    rows = [
        _Score(pattern_id, 1.0, PatternScore.Basis.LINKED, [rationale[:300]],
               named(slug_of.get(pattern_id, "")))
        for pattern_id, rationale in linked.items()
    ]  # fmt: skip
    suggestions = suggest_patterns(
        haystack=haystack, found=found, limit=50, exclude=frozenset(rejected)
    )
    for suggestion in suggestions:
        pattern_id = catalogue.slug_to_id.get(suggestion.slug)
        if pattern_id is None or pattern_id in linked:
            continue
        rows.append(
            _Score(pattern_id, suggestion.score, PatternScore.Basis.TEXT,
                   list(suggestion.matched), named(suggestion.slug))
        )  # fmt: skip
    return rows


def _prose(
    fields: Iterable[str], factors: Iterable[str], timeline: Iterable[tuple[str, str]]
) -> str:
    """`review_text` from the parts themselves: the review's title, summary, impact and
    narrative, its factors in order, its timeline entries (text, why it looked right) in
    order."""
    parts = [*fields, *factors, *(f"{text} {why}" for text, why in timeline)]
    return "\n".join(p for p in parts if p)


def _reviews(batch: list[int]) -> Iterator[tuple[int, str, list[tuple[int, str]]]]:
    """(id, `review_text`, pattern links) of each review of a chunk, in `Incident`'s order,
    from only the columns they are made of: four queries, no model instances."""
    factors: dict[int, list[str]] = defaultdict(list)
    for pk, text in ContributingFactor.objects.filter(incident_id__in=batch).values_list(
        "incident_id", "text"
    ):
        factors[pk].append(text)
    timeline: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for pk, text, why in TimelineEvent.objects.filter(incident_id__in=batch).values_list(
        "incident_id", "text", "why_reasonable"
    ):
        timeline[pk].append((text, why))
    links: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pk, pattern_id, rationale in PatternLink.objects.filter(incident_id__in=batch).values_list(
        "incident_id", "pattern_id", "rationale"
    ):
        links[pk].append((pattern_id, rationale))
    for pk, *fields in Incident.objects.filter(pk__in=batch).values_list(
        "pk", "title", "summary", "impact", "narrative"
    ):
        yield pk, _prose(fields, factors[pk], timeline[pk]), links[pk]


def _score_all(
    ids: list[int],
    chunk: int,
    progress,
    catalogue: Catalogue,
    by_signature: dict[str, dict[int, str]],
    by_pattern: dict[str, dict[int, str]],
) -> None:
    """The scoring pass of `recompute_all`: every review's pattern scores, chunk by chunk,
    each chunk in its own transaction; collects each review's signatures and confident
    patterns.

    Only the scores that differ from the stored ones are written (the stored row deleted, the
    new one inserted), and stored scores of patterns a review no longer shows are deleted: a
    rerun over unchanged reviews and catalogue writes nothing. Each review is read as the
    columns its text is made of, normalised once, and the phrases of every pattern and
    mechanism it contains are found in one pass (`PhraseFinder`)."""
    slug_of = catalogue.slug_of
    finder = PhraseFinder(
        [
            *catalogue_phrases(),
            *(p for found in catalogue.mechanisms.values() for _, _, ps in found for p in ps),
        ]
    )
    for batch in progress(_chunks(ids, chunk), (len(ids) + chunk - 1) // chunk):
        rejected: dict[int, set[str]] = defaultdict(set)
        for incident_id, slug in SuggestionDecision.objects.filter(
            incident_id__in=batch, kind="pattern", decision="rejected"
        ).values_list("incident_id", "pattern__slug"):
            rejected[incident_id].add(slug)
        with transaction.atomic():
            stored = {
                (incident_id, pattern_id): (pk, *row)
                for pk, incident_id, pattern_id, *row in PatternScore.objects.filter(
                    incident_id__in=batch
                ).values_list(
                    "pk", "incident_id", "pattern_id", "score", "basis", "evidence", "mechanisms"
                )
            }
            new: list[PatternScore] = []
            gone: list[int] = []
            for pk, text, links in _reviews(batch):
                haystack = normalise(text)
                scores = _scores(
                    haystack, links, rejected[pk], catalogue, slug_of=slug_of,
                    found=finder(haystack),
                )  # fmt: skip
                for score in scores:
                    old = stored.pop((pk, score.pattern_id), None)
                    if old is not None and old[1:] == score[1:]:
                        continue
                    if old is not None:
                        gone.append(old[0])
                    new.append(PatternScore(incident_id=pk, **score._asdict()))
                mine, patterns = own_signatures(scores, slug_of)
                for signature, basis in mine.items():
                    by_signature[signature][pk] = basis
                for slug, basis in patterns.items():
                    by_pattern[slug][pk] = basis
            gone.extend(old[0] for old in stored.values())
            if gone:
                PatternScore.objects.filter(pk__in=gone).delete()
            if new:
                PatternScore.objects.bulk_create(new, batch_size=2000)
            # Read by the listeners only as far as they need (the similarity index: the
            # versions, then only the reviews whose indexed copy is stale).
            incidents_rescored.send(
                sender=Incident,
                incidents=Incident.objects.filter(pk__in=batch).prefetch_related(
                    "contributing_factors", "timeline"
                ),
            )


def meaningful_pairs(
    by_pattern: dict[str, dict[int, str]], total: int
) -> dict[str, dict[int, str]]:
    """signature → members of every pair of patterns that co-occurs beyond chance."""
    together: dict[tuple[str, str], int] = defaultdict(int)
    per_incident: dict[int, list[str]] = defaultdict(list)
    for slug, members in by_pattern.items():
        for pk in members:
            per_incident[pk].append(slug)
    for slugs in per_incident.values():
        for pair in itertools.combinations(sorted(slugs), 2):
            together[pair] += 1
    out = {}
    for (a, b), both in together.items():
        if pair_is_meaningful(total, len(by_pattern[a]), len(by_pattern[b]), both):
            members_b = by_pattern[b]
            out[signature_for([a, b])] = {
                pk: "linked" if basis == members_b[pk] == "linked" else "text"
                for pk, basis in by_pattern[a].items()
                if pk in members_b
            }
    return out


def recompute_all(*, chunk: int = 500, progress=lambda it, total: it) -> int:
    """Rebuild every score and structure from the reviews. Safe to interrupt and rerun: each
    chunk of scores and each structure is rewritten in its own transaction, replacing what
    was there, so a rerun after a crash converges to the same complete result. Returns the
    number of recurring structures."""
    started = timezone.now()
    catalogue = read_catalogue()
    ids = list(Incident.objects.order_by("pk").values_list("pk", flat=True))
    known = set(RecurringStructure.objects.values_list("signature", flat=True))

    by_signature: dict[str, dict[int, str]] = defaultdict(dict)
    by_pattern: dict[str, dict[int, str]] = defaultdict(dict)
    recompute_started.send(sender=Incident)
    with catalogue_pinned():
        _score_all(ids, chunk, progress, catalogue, by_signature, by_pattern)
    recompute_finished.send(sender=Incident)
    by_signature.update(meaningful_pairs(by_pattern, len(ids)))

    shared = {sig: found for sig, found in by_signature.items() if len(found) >= 2}
    for sig in [s for s in shared if s.startswith("mechanism:")]:
        # A mechanism whose incidents are exactly its pattern's adds nothing to it.
        found = catalogue.mechanism(sig.split(":", 1)[1])
        coarser = shared.get(signature_for([found[0]])) if found else None
        if coarser is not None and coarser.keys() == shared[sig].keys():
            del shared[sig]
    wanted_ids = set().union(*shared.values()) if shared else set()
    facts = {m.pk: m for m in _member_rows(sorted(wanted_ids))}
    items = _items_of(sorted(wanted_ids))
    kept: set[str] = set()
    for signature, found in shared.items():
        members = []
        for pk, basis in found.items():
            m = facts[pk]
            members.append(
                Member(m.pk, m.organisation, m.occurred_at, m.reviewed_at, basis, m.cost)
            )
        with transaction.atomic():
            if write_structure(signature, members, items, catalogue) is not None:
                kept.add(signature)
    with transaction.atomic():
        RecurringStructure.objects.exclude(signature__in=kept).delete()
        Incident.objects.filter(analysis_requested_at__lte=started).update(
            analysed_at=timezone.now()
        )
    if recognised := sorted(kept - known):
        structures_recognised.send(sender=RecurringStructure, signatures=recognised)
    return len(kept)
