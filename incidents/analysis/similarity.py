"""Suggestions while writing: which structural patterns the text shows, and which past
incidents share them.

The method is deliberately simple and explainable: each pattern's catalogue entry lists
phrases that describe its mechanism without naming components (`match_terms`, aliases, the
name). Text that contains those phrases is evidence for the pattern, and every suggestion
carries the phrases that matched, so an author can check it. Past incidents are suggested
through the patterns they are linked to — shared structure, not shared vocabulary.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.db.models import Count, QuerySet

from incidents.models import Incident
from taxonomy.models import StructuralPattern

_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces: Markdown and punctuation removed."""
    return " " + " ".join(_WORD.findall(text.lower().replace("_", " "))) + " "


@dataclass(frozen=True)
class PatternSuggestion:
    """A pattern the text may show, with the phrases that suggest it."""

    slug: str
    name: str
    score: float
    matched: tuple[str, ...]

    @property
    def why(self) -> str:
        return "The text mentions " + ", ".join(f"“{m}”" for m in self.matched) + "."


@dataclass(frozen=True)
class IncidentSuggestion:
    """A past incident that shares suggested patterns, and which ones."""

    incident: Incident
    score: float
    shared: tuple[str, ...] = field(default_factory=tuple)

    @property
    def why(self) -> str:
        return "Also shows " + ", ".join(self.shared) + "."


@lru_cache(maxsize=8)
def _pattern_phrases(catalogue_key: tuple) -> list[tuple[str, str, tuple[str, ...]]]:
    """(slug, name, normalised phrases) per pattern; cached per catalogue state."""
    rows = []
    for pattern in StructuralPattern.objects.all():
        phrases = {pattern.name, *pattern.aliases, *pattern.entry.get("match_terms", [])}
        normalised = tuple(sorted({normalise(p).strip() for p in phrases if p.strip()}))
        rows.append((pattern.slug, pattern.name, normalised))
    return rows


def _catalogue_key() -> tuple:
    """Changes whenever a pattern is added, removed or edited, so the cache stays honest."""
    from django.db.models import Max

    stats = StructuralPattern.objects.aggregate(n=Count("id"), last=Max("id"))
    digests = tuple(StructuralPattern.objects.order_by("id").values_list("shipped_digest", "name"))
    return (stats["n"], stats["last"], hash(digests))


def suggest_patterns(
    *, text: str, limit: int = 5, exclude: frozenset[str] = frozenset()
) -> list[PatternSuggestion]:
    """The patterns whose mechanism phrases appear in `text`, best first.

    A phrase of several words is stronger evidence than a single word, and each further
    phrase adds less (the score saturates towards 1), so one long list of weak matches does
    not outrank two precise ones.
    """
    haystack = normalise(text)
    suggestions = []
    for slug, name, phrases in _pattern_phrases(_catalogue_key()):
        if slug in exclude:
            continue
        matched = [p for p in phrases if f" {p} " in haystack]
        if not matched:
            continue
        weight = sum(min(len(p.split()), 4) for p in matched)
        score = round(1 - math.exp(-weight / 4), 3)
        suggestions.append(PatternSuggestion(slug, name, score, tuple(matched)))
    suggestions.sort(key=lambda s: (-s.score, s.name))
    return suggestions[:limit]


def similar_incidents(
    *,
    patterns: list[PatternSuggestion],
    visible: QuerySet[Incident],
    exclude_ids: frozenset[int] = frozenset(),
    limit: int = 5,
) -> list[IncidentSuggestion]:
    """Visible incidents linked to the suggested patterns, most shared structure first."""
    if not patterns:
        return []
    by_slug = {p.slug: p for p in patterns}
    candidates = (
        visible.filter(pattern_links__pattern__slug__in=by_slug)
        .exclude(pk__in=exclude_ids)
        .annotate(shared_count=Count("pattern_links", distinct=True))
        .order_by("-shared_count", "-started_at", "-id")
        .prefetch_related("pattern_links__pattern", "components")[: limit * 3]
    )
    results = []
    for incident in candidates:
        shared = [
            link.pattern for link in incident.pattern_links.all() if link.pattern.slug in by_slug
        ]
        score = round(sum(by_slug[p.slug].score for p in shared) / len(by_slug), 3)
        results.append(IncidentSuggestion(incident, score, tuple(p.name for p in shared)))
    results.sort(key=lambda r: (-r.score, r.incident.pk))
    return results[:limit]
