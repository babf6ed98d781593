"""Suggestions while writing: which structural patterns the text shows, and which past
incidents share them.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from django.db.models import Count, QuerySet
from django.db.models.functions import Substr

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


def suggest_patterns(
    *, text: str, limit: int = 5, exclude: frozenset[str] = frozenset()
) -> list[PatternSuggestion]:
    """The patterns whose mechanism phrases appear in `text`, best first.

    A phrase of several words is stronger evidence than a single word, and each further
    phrase adds less (the score saturates towards 1), so one long list of weak matches does
    not outrank two precise ones: one single word scores 0.22, one two-word phrase 0.39, a
    four-word phrase (or two two-word ones) 0.63.
    """
    haystack = normalise(text)
    suggestions = []
    for slug, name, phrases in _pattern_phrases(_catalogue_key()):
        if slug in exclude:
            continue
        matched = [p for p in phrases if f" {p} " in haystack]
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

STOP_WORDS = frozenset(
    re.findall(
        r"\w+",
        """a an and are as at be been but by for from had has have in into is it its of on or
        our that the their them then there these they this to was we were which while with
        after all also any because before both can could during each more most not now only
        other over so some such than through under until up very what when where who will
        would about against between out off down again further once here why how no nor own
        same too just should incident outage issue customers customer users service services""",
    )
)
# The ranking (tuned on the dev half of bench/similarity/labels.json; see docs/similarity.md):
#   score     = STRUCTURE_WEIGHT · structure + (1 - STRUCTURE_WEIGHT) · lexical
#   structure = (1 - PHRASE_SHARE) · patterns + PHRASE_SHARE · phrases
# `patterns`: how much of the query's pattern vector the candidate also shows, each pattern
# weighted by its rarity in the archive (a pattern most incidents show says little);
# `phrases`: cosine of the mechanism phrases both texts matched, weighted by their rarity
# among the candidates ("leap second" says more than "globally");
# `lexical`: TF-IDF cosine of titles and summaries.
STRUCTURE_WEIGHT = 0.3  # share of the score that comes from shared structure
PHRASE_SHARE = 0.3  # share of the structural part that comes from shared mechanism phrases
CANDIDATES_PER_PATTERN = 50
# Only the query's strongest patterns fetch candidates; weaker ones still count in re-ranking.
CANDIDATE_PATTERNS = 5
# Re-ranking reads the start of each summary: it says what happened; the rest is detail.
LEXICAL_CHARS = 500
PATTERN_WEIGHTS_TTL = 300.0  # seconds the archive-wide pattern counts are reused


def terms(text: str) -> list[str]:
    """Content words of a text, lower-cased, without stop words or numbers."""
    return [
        w for w in normalise(text).split() if w not in STOP_WORDS and len(w) > 2 and not w.isdigit()
    ]


@dataclass(frozen=True)
class SharedPattern:
    """A pattern both the query and a candidate show, with each side's evidence."""

    slug: str
    name: str
    query_evidence: tuple[str, ...]
    candidate_evidence: tuple[str, ...]


@dataclass(frozen=True)
class SimilarIncident:
    """A similar incident, its score, and what makes it similar (checkable by a human)."""

    incident: Incident
    score: float
    structure: float
    lexical: float
    shared_patterns: tuple[SharedPattern, ...]
    matched_terms: tuple[str, ...]

    @property
    def why(self) -> str:
        parts = []
        if self.shared_patterns:
            parts.append("same structure: " + ", ".join(p.name for p in self.shared_patterns))
        if self.matched_terms:
            parts.append("same words: " + ", ".join(self.matched_terms[:6]))
        return "; ".join(parts) or "weakly related"


def _candidate_ids(
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


def _lexical_candidate_ids(
    words: list[str], visible: QuerySet[Incident], exclude: frozenset[int], limit: int
) -> set[int]:
    from incidents.search import text_search

    # Every word OR-ed together matches most of a large archive, and ranking all of that is
    # what made lookups slow; the longest words of the query are usually its most specific,
    # so ask for incidents with all of the three longest, then two, and rank only those.
    distinctive = sorted(set(words), key=lambda w: (-len(w), w))[:3]
    incidents = visible.exclude(pk__in=exclude)
    for size in (3, 2):
        if len(distinctive) < size:
            continue
        found = set(
            text_search(incidents, " ".join(distinctive[:size])).values_list("pk", flat=True)[
                :limit
            ]
        )
        if found:
            return found
    return set()


def _tf(words: list[str]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    return counts


_pattern_counts: dict = {}


def _pattern_weights() -> dict[str, float]:
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


def similar_to(
    *,
    text: str,
    visible: QuerySet[Incident],
    query_patterns: list[PatternSuggestion] | None = None,
    exclude: frozenset[int] = frozenset(),
    limit: int = 5,
) -> list[SimilarIncident]:
    """The incidents most similar to `text`: shared structure first, shared words second.

    Candidates come from two bounded lookups — incidents showing the same patterns, and a
    full-text search for the text's words — and are re-ranked by a mix of shared structure
    (the patterns both show, weighted by how rare each is, and the mechanism phrases both
    matched) and the TF-IDF cosine of their titles and summaries.
    """
    from incidents.models import PatternScore

    if query_patterns is None:
        query_patterns = suggest_patterns(text=text, limit=8)
    query_terms = terms(text)
    candidates = _candidate_ids(query_patterns, visible, exclude)
    candidates |= _lexical_candidate_ids(query_terms, visible, exclude, limit=100)
    if not candidates:
        return []

    rows = list(
        PatternScore.objects.filter(incident_id__in=candidates).values_list(
            "incident_id", "pattern__slug", "pattern__name", "score", "evidence", "basis"
        )
    )
    vectors: dict[int, dict[str, tuple[float, str, list]]] = {}
    phrases: dict[int, set[str]] = {}
    for incident_id, slug, name, score, evidence, basis in rows:
        vectors.setdefault(incident_id, {})[slug] = (score, name, evidence)
        if basis == PatternScore.Basis.TEXT:
            phrases.setdefault(incident_id, set()).update(evidence)
    incidents = {
        i.pk: i
        for i in Incident.objects.filter(pk__in=candidates)
        .only("id", "title", "started_at", "created_at", "restricted_to_id", "status")
        .annotate(summary_head=Substr("summary", 1, LEXICAL_CHARS))
    }

    # IDF over the candidates plus one pseudo-document, so a word in every candidate still
    # counts a little and a word in none counts most. Mechanism phrases get the same.
    docs = {pk: _tf(terms(f"{i.title} {i.summary_head}")) for pk, i in incidents.items()}
    n_docs = len(docs) + 1
    df: dict[str, int] = {}
    for tf in docs.values():
        for w in tf:
            df[w] = df.get(w, 0) + 1
    phrase_df: dict[str, int] = {}
    for pk in docs:
        for p in phrases.get(pk, ()):
            phrase_df[p] = phrase_df.get(p, 0) + 1

    # Each word's weight once, not once per candidate that contains it.
    idfs = {w: math.log((n_docs + 1) / (n + 1)) + 1 for w, n in df.items()}
    unseen = math.log(n_docs + 1) + 1  # a query word that no candidate contains

    def phrase_idf(p: str) -> float:
        return math.log((n_docs + 1) / (phrase_df.get(p, 0) + 1)) + 1

    q_tf = _tf(query_terms)
    q_vec = {w: c * idfs.get(w, unseen) for w, c in q_tf.items()}
    q_norm = math.sqrt(sum(v * v for v in q_vec.values())) or 1.0
    q_pat = {p.slug: p for p in query_patterns}
    rarity = _pattern_weights()
    q_weighted = {p.slug: p.score * rarity.get(p.slug, 1.0) for p in query_patterns}
    q_pat_sq = sum(v * v for v in q_weighted.values()) or 1.0
    q_phrases = {m for p in query_patterns for m in p.matched}
    q_phrase_norm = math.sqrt(sum(phrase_idf(m) ** 2 for m in q_phrases)) or 1.0

    # Score every candidate first; only the few returned are described (shared patterns,
    # their evidence, the words in common), which cost more than the scoring itself.
    scored: list[tuple[float, int, float, float, dict[str, float], set[str]]] = []
    for pk in incidents:
        c_vec = {w: c * idfs[w] for w, c in docs[pk].items()}
        c_norm = math.sqrt(sum(v * v for v in c_vec.values())) or 1.0
        lexical = sum(q_vec[w] * c_vec[w] for w in q_vec.keys() & c_vec.keys()) / (q_norm * c_norm)
        pats = vectors.get(pk, {})
        by_pattern = min(
            1.0,
            sum(q_weighted[s] * pats[s][0] * rarity.get(s, 1.0) for s in pats if s in q_pat)
            / q_pat_sq,
        )
        c_phrases = phrases.get(pk, set())
        both = q_phrases & c_phrases
        by_phrase = 0.0
        if both:
            c_phrase_norm = math.sqrt(sum(phrase_idf(m) ** 2 for m in c_phrases))
            by_phrase = sum(phrase_idf(m) ** 2 for m in both) / (q_phrase_norm * c_phrase_norm)
        structure = (1 - PHRASE_SHARE) * by_pattern + PHRASE_SHARE * by_phrase
        score = STRUCTURE_WEIGHT * structure + (1 - STRUCTURE_WEIGHT) * lexical
        if score > 0:
            scored.append((round(score, 4), pk, structure, lexical, c_vec, both))
    # Ties broken by the newer incident: the same answer from every process.
    scored.sort(key=lambda s: (-s[0], -s[1]))

    results = []
    for score, pk, structure, lexical, c_vec, both in scored[:limit]:
        pats = vectors.get(pk, {})
        shared = [slug for slug in pats if slug in q_pat]
        common = q_vec.keys() & c_vec.keys()
        results.append(
            SimilarIncident(
                incident=incidents[pk],
                score=score,
                structure=round(structure, 4),
                lexical=round(lexical, 4),
                shared_patterns=tuple(
                    SharedPattern(
                        slug=s,
                        name=pats[s][1],
                        query_evidence=q_pat[s].matched,
                        # The phrases both texts share come first: they are the reason.
                        candidate_evidence=tuple(
                            sorted(pats[s][2], key=lambda e: (e not in both, str(e)))[:5]
                        ),
                    )
                    for s in sorted(shared, key=lambda s: -q_pat[s].score)
                ),
                # Ties broken by the word itself: the same answer from every process.
                matched_terms=tuple(sorted(common, key=lambda w: (-q_vec[w] * c_vec[w], w))[:8]),
            )
        )
    return results


def similar_to_incident(
    *, incident: Incident, visible: QuerySet[Incident], limit: int = 5
) -> tuple[list[PatternSuggestion], list[SimilarIncident]]:
    """Patterns and similar incidents for a stored incident, from its stored scores."""
    from incidents.models import PatternScore

    scores = (
        PatternScore.objects.filter(incident=incident).select_related("pattern").order_by("-score")
    )
    patterns = [
        PatternSuggestion(s.pattern.slug, s.pattern.name, round(s.score, 3), tuple(s.evidence))
        for s in scores[:8]
    ]
    text = f"{incident.title}\n{incident.summary}"
    similar = similar_to(
        text=text,
        visible=visible,
        query_patterns=patterns,
        exclude=frozenset({incident.pk}),
        limit=limit,
    )
    return patterns, similar
