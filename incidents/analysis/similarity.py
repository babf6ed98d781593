"""Which structural patterns a text shows, by the catalogue's mechanism phrases (and the
bounded structural look-ups `similarity.retrieval` builds on).

The method is deliberately simple and explainable: each pattern's catalogue entry lists
phrases that describe its mechanism without naming components (`match_terms`, aliases, the
name). Text that contains those phrases is evidence for the pattern, and every suggestion
carries the phrases that matched, so an author can check it. Past incidents are suggested
through the patterns they are linked to — shared structure, not shared vocabulary.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

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
    # Titles of the similar past reviews that show the pattern, when the text itself does not
    # name it (see `similarity.patterns.completed`).
    shown_by: tuple[str, ...] = ()

    @property
    def why(self) -> str:
        if not self.matched and self.shown_by:
            titles = ", ".join(f"“{t}”" for t in self.shown_by)
            return f"Similar past reviews show it: {titles}."
        return "The text mentions " + ", ".join(f"“{m}”" for m in self.matched) + "."


# How evidence adds up in `suggest_patterns`: a phrase counts for its number of words, up to
# PHRASE_WORDS_CAP, and the score is 1 - exp(-words / PHRASE_SATURATION).
PHRASE_WORDS_CAP = 4
PHRASE_SATURATION = 4.0


@lru_cache(maxsize=8)
def _pattern_phrases(catalogue_key: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(slug, name, normalised phrases) per pattern; cached per catalogue state."""
    rows = []
    for pattern in StructuralPattern.objects.all():
        phrases = {pattern.name, *pattern.aliases, *pattern.entry.get("match_terms", [])}
        normalised = tuple(sorted({normalise(p).strip() for p in phrases if p.strip()}))
        rows.append((pattern.slug, pattern.name, normalised))
    return rows


_pinned: dict[str, str] = {}


@contextmanager
def catalogue_pinned() -> Iterator[None]:
    """Within the block, read the catalogue's state once instead of before every text.

    The full recompute scores every review against the catalogue as it stood when it
    began (it fixes its slug-to-id map then, too), so checking for catalogue edits before
    each of 100,000 reviews would buy nothing and cost a query each.
    """
    _pinned["key"] = _catalogue_key()
    try:
        yield
    finally:
        _pinned.pop("key", None)


def _catalogue_key() -> str:
    """A digest of everything the phrase lists are made of (each pattern's slug, name,
    aliases and match terms), so the cache follows additions, removals and local edits.

    One query of short columns: the match terms are read out of the entry by the database.
    """
    if "key" in _pinned:
        return _pinned["key"]
    rows = StructuralPattern.objects.order_by("id").values_list(
        "id", "slug", "name", "aliases", "entry__match_terms"
    )
    return hashlib.sha256(json.dumps(list(rows), default=str).encode()).hexdigest()


class PhraseFinder:
    """Which of a fixed set of phrases a normalised text (`normalise`) contains, each exactly
    as `f" {phrase} " in text` would say, without searching for every phrase in every text.

    A normalised text is words between single spaces, so a phrase of one word occurs in it
    if and only if it is one of its words, a phrase of two words if and only if they are two
    consecutive words of it, and a longer phrase only if its first two words are: single
    words and pairs are looked up in the text's sets of words and of pairs, and a longer
    phrase is searched for only when its first pair is there. Phrases of any other shape
    (empty, or with leading, trailing or doubled spaces) are always searched for, and so is
    every phrase in a text that does not begin and end with a space.
    """

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = frozenset(phrases)
        single: set[str] = set()
        pairs: dict[tuple[str, str], str] = {}
        longer: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._always: list[tuple[str, str]] = []
        for p in sorted(self.phrases):
            words = p.split(" ")
            if not all(words):
                self._always.append((p, f" {p} "))
            elif len(words) == 1:
                single.add(p)
            elif len(words) == 2:
                pairs[(words[0], words[1])] = p
            else:
                longer.setdefault((words[0], words[1]), []).append((p, f" {p} "))
        self._single = frozenset(single)
        self._pairs, self._pair_keys = pairs, frozenset(pairs)
        self._longer, self._longer_keys = longer, frozenset(longer)

    def __call__(self, haystack: str) -> set[str]:
        """The phrases `haystack` contains."""
        if not (haystack.startswith(" ") and haystack.endswith(" ")):
            return {p for p in self.phrases if f" {p} " in haystack}
        words = haystack.split(" ")
        found = set(self._single.intersection(words))
        consecutive = set(pairwise(words))
        found.update(self._pairs[pair] for pair in self._pair_keys & consecutive)
        for pair in self._longer_keys & consecutive:
            found.update(p for p, needle in self._longer[pair] if needle in haystack)
        found.update(p for p, needle in self._always if needle in haystack)
        return found


@lru_cache(maxsize=8)
def _pattern_finder(catalogue_key: str) -> PhraseFinder:
    return PhraseFinder(p for _, _, phrases in _pattern_phrases(catalogue_key) for p in phrases)


def catalogue_phrases() -> list[str]:
    """Every phrase of every pattern of the catalogue as it is now (or as pinned)."""
    return sorted(_pattern_finder(_catalogue_key()).phrases)


def suggest_patterns(
    *,
    text: str = "",
    limit: int = 5,
    exclude: frozenset[str] = frozenset(),
    haystack: str | None = None,
    found: set[str] | None = None,
) -> list[PatternSuggestion]:
    """The patterns whose mechanism phrases appear in `text`, best first.

    A phrase of several words is stronger evidence than a single word, and each further
    phrase adds less (the score saturates towards 1), so one long list of weak matches does
    not outrank two precise ones: one single word scores 0.22, one two-word phrase 0.39, a
    four-word phrase (or two two-word ones) 0.63.

    Bulk callers that have already normalised the text pass it as `haystack` (then `text`
    is not read), and may pass `found`: the phrases it contains, from a `PhraseFinder` over
    at least the catalogue's pattern phrases (`catalogue_phrases`).
    """
    if haystack is None:
        haystack = normalise(text)
    key = _catalogue_key()
    if found is None:
        found = _pattern_finder(key)(haystack)
    suggestions = []
    for slug, name, phrases in _pattern_phrases(key):
        if slug in exclude or found.isdisjoint(phrases):
            continue
        matched = [p for p in phrases if p in found]
        if not matched:
            continue
        # A phrase inside a longer one that also matched ("backoff" in "exponential
        # backoff") is the same piece of evidence, not a second one. (Both stay in
        # `matched`: other incidents may have matched only the shorter one.)
        distinct = [p for p in matched if not any(p != o and f" {p} " in f" {o} " for o in matched)]
        weight = sum(min(len(p.split()), PHRASE_WORDS_CAP) for p in distinct)
        score = round(1 - math.exp(-weight / PHRASE_SATURATION), 3)
        suggestions.append(PatternSuggestion(slug, name, score, tuple(matched)))
    suggestions.sort(key=lambda s: (-s.score, s.name))
    return suggestions[:limit]


# --- similar incidents --------------------------------------------------------------------

# Candidates by structure (used by `similarity.retrieval`): the incidents most strongly
# showing each of the query's strongest patterns, through the (pattern, score) index.
CANDIDATES_PER_PATTERN = 50
CANDIDATE_PATTERNS = 5  # only the strongest patterns fetch candidates
PATTERN_WEIGHTS_TTL = 300.0  # seconds the archive-wide pattern counts are reused


def incidents_showing_patterns(
    query_patterns: list[PatternSuggestion], visible: QuerySet[Incident], exclude: frozenset[int]
) -> set[int]:
    """Incidents showing the query's patterns most strongly, through the (pattern, score)
    index: a bounded number per pattern, whatever the size of the archive."""
    from incidents.models import PatternScore

    ids: set[int] = set()
    by_slug = dict(StructuralPattern.objects.filter(
        slug__in=[p.slug for p in query_patterns]).values_list("slug", "id"))  # fmt: skip
    for suggestion in query_patterns[:CANDIDATE_PATTERNS]:
        pattern_id = by_slug.get(suggestion.slug)
        if pattern_id is None:
            continue
        scores = PatternScore.objects.filter(pattern_id=pattern_id)
        # A reader who sees everything needs no visibility subquery (costly at 100k rows).
        scores = scores.filter(incident__in=visible) if visible.query.where else scores
        ids.update(
            scores.exclude(incident_id__in=exclude)
            .order_by("-score", "-incident_id")
            .values_list("incident_id", flat=True)[:CANDIDATES_PER_PATTERN]
        )
    return ids


_pattern_counts: dict = {}


def pattern_rarity() -> dict[str, float]:
    """slug → inverse document frequency of the pattern among analysed incidents.

    One grouped count over the (pattern, score) index, reused for PATTERN_WEIGHTS_TTL
    seconds, so a lookup does not pay for a scan of the archive.
    """
    from incidents.models import PatternScore

    now = time.monotonic()
    cached = _pattern_counts.get("weights")
    if cached and now - cached[0] < PATTERN_WEIGHTS_TTL:
        return cached[1]
    counts = dict(
        PatternScore.objects.values_list("pattern__slug").annotate(n=Count("id")).order_by()
    )
    total = Incident.objects.count()
    weights = {slug: math.log((total + 1) / (n + 1)) + 1 for slug, n in counts.items()}
    _pattern_counts["weights"] = (now, weights)
    return weights
