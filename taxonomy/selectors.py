"""Reading the catalogue: search, grouping by shape, mechanisms. Plain functions, no HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from .models import EmergentShape, PatternRelation, StructuralPattern


def patterns_with_shapes() -> QuerySet[StructuralPattern]:
    """Every pattern with its typical shapes and outgoing relations prefetched."""
    return StructuralPattern.objects.prefetch_related(
        "typical_shapes",
        Prefetch(
            "relations_out",
            PatternRelation.objects.select_related("target").order_by("kind", "target__name"),
        ),
    ).order_by("name")


def search_patterns(
    patterns: Iterable[StructuralPattern], *, query: str = "", shape: str = ""
) -> list[StructuralPattern]:
    """Patterns whose name, slug, alias or summary contains every word of `query`, and that
    typically produce `shape` when one is given.

    The catalogue holds dozens of entries, so matching in Python is cheap, and it searches
    the aliases list the same way on every database.
    """
    words = [w for w in query.lower().split() if w]
    found = []
    for pattern in patterns:
        if shape and shape not in {s.slug for s in pattern.typical_shapes.all()}:
            continue
        haystack = " ".join([pattern.name, pattern.slug, pattern.summary, *pattern.aliases]).lower()
        if all(word in haystack for word in words):
            found.append(pattern)
    return found


def group_by_shape(
    patterns: Iterable[StructuralPattern], shapes: Iterable[EmergentShape]
) -> list[tuple[EmergentShape | None, list[StructuralPattern]]]:
    """Patterns grouped under each shape they typically produce (a pattern may appear under
    several), then those linked to no shape, under None."""
    patterns = list(patterns)
    groups: list[tuple[EmergentShape | None, list[StructuralPattern]]] = []
    for shape in shapes:
        members = [p for p in patterns if shape in p.typical_shapes.all()]
        if members:
            groups.append((shape, members))
    unshaped = [p for p in patterns if not p.typical_shapes.all()]
    if unshaped:
        groups.append((None, unshaped))
    return groups


@dataclass(frozen=True)
class Mechanism:
    """A named, finer-grained way a structural pattern happens (e.g. certificate expiry under
    expiry no one owns), with the phrases that show it in a review's text."""

    pattern_slug: str
    pattern_name: str
    slug: str
    name: str
    summary: str
    match_terms: tuple[str, ...]


def mechanisms() -> list[Mechanism]:
    """Every mechanism in the catalogue as the database holds it now (shipped ones as synced,
    with any local edits, and an organisation's own), ordered by pattern then as listed.

    A malformed stored mechanism (edited by hand into something without a slug or name) is
    skipped rather than failing the whole list: matching should lose one entry, not all.
    """
    found = []
    for pattern in StructuralPattern.objects.order_by("slug").only("slug", "name", "entry"):
        entry = pattern.entry if isinstance(pattern.entry, dict) else {}
        stored = entry.get("mechanisms", [])
        for item in stored if isinstance(stored, list) else []:
            if not isinstance(item, dict) or not item.get("slug") or not item.get("name"):
                continue
            terms = item.get("match_terms", [])
            found.append(
                Mechanism(
                    pattern_slug=pattern.slug,
                    pattern_name=pattern.name,
                    slug=str(item["slug"]),
                    name=str(item["name"]),
                    summary=str(item.get("summary", "")),
                    match_terms=tuple(
                        str(t) for t in (terms if isinstance(terms, list) else []) if str(t).strip()
                    ),
                )
            )
    return found
