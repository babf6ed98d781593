""" "Have we seen this before?" — ranked retrieval over whole reviews, with structure and
explanations on top, and a confidence a bot can act on.

1. **Terms.** The question's content words (boilerplate sentences removed), each weighted by
   how specific it is in the archive (BM25's idf). A word found mostly in one organisation's
   write-ups — a product or company name — counts for little when asking across
   organisations: names must not decide a match.
2. **Candidates** come from bounded, indexed lookups over the whole archive: BM25 over the
   whole review for an OR of the most informative terms (their matches capped by
   `index.MATCH_BUDGET`), BM25 over the cause view, the incidents most strongly showing the
   question's patterns, and those naming the same mechanisms.
3. **Score** = lexical BM25 (as a share of the most the question's terms could score) + the
   cause view at a lower weight + shared structure (patterns weighted by rarity, mechanism
   phrases by specificity) + shared mechanisms. Across organisations, at most two results of
   one organisation are shown among the first five.
4. **Confidence** per result and overall, from score thresholds measured on labelled public
   post-mortems (docs/similarity.md gives the precision at each level).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from incidents.analysis.similarity import (
    PatternSuggestion,
    incidents_showing_patterns,
    pattern_rarity,
)
from incidents.models import Incident, PatternScore

from . import boilerplate, index
from .documents import focus
from .mechanisms import by_slug as mechanisms_by_slug
from .mechanisms import match_mechanisms
from .patterns import completed, of_question
from .text import content_words, words

# The weights of the score's parts (tuned on the dev groups of bench/similarity/labels.json
# only; see docs/similarity.md).
LEXICAL_WEIGHT = 1.0
CAUSE_WEIGHT = 0.5
STRUCTURE_WEIGHT = 0.35
MECHANISM_WEIGHT = 0.35
# Terms the question is reduced to: enough for a whole review, few enough to stay fast.
MAX_TERMS = 24
# A question longer than FOCUS_WORDS words picks its terms from its opening FOCUS_WORDS words
# and its causal sentences first (their weight counts FOCUS_BOOST times when choosing the
# MAX_TERMS terms; the scoring weights are unchanged). Swept on the tuning corpus's dev groups
# (40 to 200 words, boost 2 to 8): whole-review cross-company hit@5 0.51 → 0.64 there, 0.61 → 0.61
# on its test groups.
FOCUS_WORDS = 80
FOCUS_BOOST = 5.0
# A term whose matches come this much from one organisation is that organisation's
# vocabulary (a product, a team, the company's name)…
CONCENTRATED_SHARE = 0.8
# …and counts this much when asking across organisations.
CONCENTRATED_WEIGHT = 0.2
# Across organisations, at most this many results of one organisation among the first five.
PER_ORGANISATION_IN_TOP5 = 2
# Confidence levels: score thresholds (see docs/similarity.md for their measured precision).
STRONG_SCORE = 0.55
POSSIBLE_SCORE = 0.35

SCOPES = ("anywhere", "organisation")


@dataclass(frozen=True)
class SharedPattern:
    """A pattern both the question and a result show, with each side's evidence."""

    slug: str
    name: str
    query_evidence: tuple[str, ...]
    candidate_evidence: tuple[str, ...]


@dataclass(frozen=True)
class SharedMechanism:
    """A catalogue mechanism both texts name, with the phrases each used."""

    slug: str
    name: str
    pattern_name: str
    query_evidence: tuple[str, ...]
    candidate_evidence: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    """One past incident, why it was returned, and how sure Seams is."""

    incident: Incident
    score: float
    confidence: str
    lexical: float
    cause: float
    structure: float
    shared_patterns: tuple[SharedPattern, ...]
    shared_mechanisms: tuple[SharedMechanism, ...]
    matched_terms: tuple[str, ...]
    same_organisation: bool
    possible_duplicate: bool = False
    duplicate_reasons: tuple[str, ...] = ()

    @property
    def why(self) -> str:
        parts = []
        if self.possible_duplicate:
            parts.append("possibly the same incident: " + ", ".join(self.duplicate_reasons))
        if self.shared_mechanisms:
            parts.append("same mechanism: " + ", ".join(m.name for m in self.shared_mechanisms))
        if self.shared_patterns:
            parts.append("same structure: " + ", ".join(p.name for p in self.shared_patterns))
        if self.matched_terms:
            parts.append("same words: " + ", ".join(self.matched_terms[:6]))
        return "; ".join(parts) or "weakly related"


@dataclass(frozen=True)
class Answer:
    """The answer to one question: results best first, the question's patterns, and the
    overall confidence."""

    results: list[Match]
    patterns: list[PatternSuggestion]
    mechanisms: dict[str, list[str]] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return self.results[0].score if self.results else 0.0

    @property
    def confidence(self) -> str:
        return self.results[0].confidence if self.results else "weak"

    @property
    def confident_match(self) -> bool:
        return self.confidence != "weak"


def level(score: float) -> str:
    """The confidence level of a score."""
    if score >= STRONG_SCORE:
        return "strong"
    if score >= POSSIBLE_SCORE:
        return "possible"
    return "weak"


def _stem(word: str) -> str:
    """A crude stem, only for telling which query words a result shares (the index does the
    real stemming): "retries", "retried" and "retry" meet at "retr"."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _weighted_terms(
    text: str, *, across_organisations: bool
) -> tuple[list[str], dict[str, float], dict[str, float]]:
    """The question's informative terms, their weights, and their idf."""
    counts = Counter(content_words(text))
    focused = _focus_words(text)
    ordered = _question_words(counts)
    stats = index.term_stats(ordered)
    total, _, per_org = index.archive()
    weights: dict[str, float] = {}
    idfs: dict[str, float] = {}
    for term in ordered:
        s = stats[term]
        if s.documents == 0 or s.documents > index.DF_CAP:
            continue  # in no review, or in so many that it selects nothing
        idfs[term] = index.idf(s.documents, total)
        weight = 1.0
        org_share = per_org.get(s.top_organisation, 0) / total if total else 0.0
        if (
            across_organisations
            and s.documents >= 2
            and s.top_share >= CONCENTRATED_SHARE
            and org_share < 0.5
        ):
            weight = CONCENTRATED_WEIGHT
        weights[term] = weight
    boost = {t: FOCUS_BOOST if t in focused else 1.0 for t in weights}
    chosen = sorted(
        weights, key=lambda t: -(weights[t] * boost[t] * idfs[t] * (1 + math.log(counts[t])))
    )[:MAX_TERMS]
    return chosen, {t: weights[t] for t in chosen}, {t: idfs[t] for t in chosen}


def _focus_words(text: str) -> set[str]:
    """The words of a long question's opening and of its sentences that give a reason
    (`documents.focus`); empty for a short question, whose words are all its focus."""
    focused = focus(text, FOCUS_WORDS)
    return set(content_words(focused)) if focused is not None else set()


def _question_words(counts: Counter) -> list[str]:
    """The words worth counting: the most frequent, longer first among equals (usually the
    more specific)."""
    return sorted(counts, key=lambda w: (-counts[w], -len(w), w))[: MAX_TERMS * 3]


def _budgeted(terms: list[str], weights: dict[str, float]) -> list[str]:
    """The terms that select candidates: full-weight ones, most specific first, while the
    reviews they match stay within the budget."""
    stats = index.term_stats(terms)
    kept, spent = [], 0
    for term in sorted(terms, key=lambda t: stats[t].documents):
        if weights[term] < 1.0:
            continue
        if kept and spent + stats[term].documents > index.MATCH_BUDGET:
            break
        kept.append(term)
        spent += stats[term].documents
    return kept


def ask(
    *,
    text: str,
    visible: QuerySet[Incident],
    reader_groups: tuple[int, ...] | None,
    scope: str = "anywhere",
    organisation: str = "",
    exclude: frozenset[int] = frozenset(),
    query_patterns: list[PatternSuggestion] | None = None,
    limit: int = 5,
    window: tuple[datetime | None, datetime | None] = (None, None),
    exclude_patterns: frozenset[str] = frozenset(),
) -> Answer:
    """Past incidents most like `text`, best first, each explained and rated.

    `reader_groups` is None for a reader who sees every review, else the groups whose
    restricted reviews they may see. `scope` "organisation" asks "has this happened to us?":
    only reviews of `organisation` ("" is the organisation running Seams). The answer's
    patterns are the text's own, completed by those its results show
    (`similarity.patterns.completed`), never one of `exclude_patterns`.
    """
    text = boilerplate.strip(text)
    if query_patterns is None:
        query_patterns = of_question(text, exclude=exclude_patterns)
    query_mechanisms = match_mechanisms(text)
    across = scope != "organisation"
    where = index.Scope(
        restricted_groups=reader_groups,
        exclude=tuple(sorted(exclude)),
        organisation=None if across else organisation,
    )

    # Every count the answer needs, in one statement: the question's words, its mechanism
    # phrases and its pattern evidence (the later look-ups find them cached).
    index.term_stats(
        _question_words(Counter(content_words(text)))
        + [p for phrases in query_mechanisms.values() for p in phrases]
        + [m for p in query_patterns for m in p.matched]
    )
    terms, weights, idfs = _weighted_terms(text, across_organisations=across)
    selecting = _budgeted(terms, weights)
    candidates: list[int] = []
    candidates += index.ranked(selecting, where, view="review", limit=200)
    candidates += index.ranked(selecting, where, view="cause", limit=100)
    candidates += _structural_candidates(query_patterns, query_mechanisms, visible, where)
    candidates = list(dict.fromkeys(candidates))
    if not candidates:
        return Answer([], query_patterns, query_mechanisms)

    review = index.bm25_scores(terms, weights, candidates, view="review")
    cause = index.bm25_scores(terms, weights, candidates, view="cause")
    ceiling = sum(weights[t] * idfs[t] * (index.K1 + 1) for t in terms) or 1.0

    documents = {
        d["incident_id"]: d
        for d in index.IndexedDocument.objects.filter(incident_id__in=candidates).values(
            "incident_id", "organisation", "mechanisms"
        )
    }
    structure = _structure(query_patterns, candidates)
    mech_idf = _mechanism_idf(query_mechanisms)
    mech_total = sum(mech_idf.values()) or 1.0

    scored = []
    for pk in candidates:
        doc = documents.get(pk)
        if doc is None:
            continue
        lexical = min(1.0, review.get(pk, 0.0) / ceiling)
        by_cause = min(1.0, cause.get(pk, 0.0) / ceiling)
        shared_mech = set(query_mechanisms) & set(doc["mechanisms"] or {})
        mechanism = sum(mech_idf.get(m, 0.0) for m in shared_mech) / mech_total
        struct = structure.get(pk, (0.0, {}))[0]
        score = (
            LEXICAL_WEIGHT * lexical
            + CAUSE_WEIGHT * by_cause
            + STRUCTURE_WEIGHT * struct
            + MECHANISM_WEIGHT * mechanism
        )
        if score > 0:
            scored.append((round(score, 4), pk, lexical, by_cause, struct, shared_mech))
    # Ties broken by the newer incident: the same answer from every process.
    scored.sort(key=lambda s: (-s[0], -s[1]))
    if across:
        scored = _diversified(scored, {pk: d["organisation"] for pk, d in documents.items()})
    top = scored[:limit]
    results = _describe(
        top, documents, structure, query_patterns, query_mechanisms, terms, organisation
    )
    neighbours = [(m.incident.pk, m.incident.title, m.score) for m in results]
    patterns = completed(query_patterns, neighbours, exclude=exclude_patterns)
    return Answer(results, patterns, query_mechanisms)


def _structural_candidates(query_patterns, query_mechanisms, visible, where) -> list[int]:
    ids = list(incidents_showing_patterns(query_patterns, visible, frozenset(where.exclude)))
    if where.organisation is not None:
        allowed = set(
            index.IndexedDocument.objects.filter(
                incident_id__in=ids, organisation__iexact=where.organisation
            ).values_list("incident_id", flat=True)
        )
        ids = [i for i in ids if i in allowed]
    for phrases in query_mechanisms.values():
        ids += index.ranked(list(phrases), where, view="review", limit=50)
    return ids


def _mechanism_idf(query_mechanisms: dict[str, list[str]]) -> dict[str, float]:
    """How specific each of the question's mechanisms is: the idf of its rarest phrase."""
    total, _, _ = index.archive()
    out = {}
    for slug, phrases in query_mechanisms.items():
        stats = index.term_stats(list(phrases))
        rarest = min((s.documents for s in stats.values() if s.documents), default=0)
        out[slug] = index.idf(rarest, total) if rarest else 1.0
    return out


def _phrase_idf(phrases: set[str]) -> dict[str, float]:
    total, _, _ = index.archive()
    stats = index.term_stats(sorted(phrases))
    return {p: index.idf(min(stats[p].documents, total), total) for p in phrases}


def _structure(
    query_patterns: list[PatternSuggestion], candidates: list[int]
) -> dict[int, tuple[float, dict]]:
    """Shared structure per candidate: the question's patterns the candidate also shows,
    each weighted by the pattern's rarity and by how specific the question's evidence for it
    is (a pattern suggested by one common word is weak evidence of anything)."""
    if not query_patterns:
        return {}
    rarity = pattern_rarity()
    phrase_idf = _phrase_idf({m for p in query_patterns for m in p.matched})
    total, _, _ = index.archive()
    strength = {}
    for p in query_patterns:
        specific = sum(phrase_idf.get(m, 1.0) for m in p.matched) / max(1.0, math.log(total + 1))
        strength[p.slug] = (1 - math.exp(-2 * specific)) * rarity.get(p.slug, 1.0)
    norm = sum(strength.values()) or 1.0
    rows = PatternScore.objects.filter(
        incident_id__in=candidates, pattern__slug__in=list(strength)
    ).values_list("incident_id", "pattern__slug", "pattern__name", "score", "evidence")
    out: dict[int, tuple[float, dict]] = {}
    for pk, slug, name, score, evidence in rows:
        value, shared = out.get(pk, (0.0, {}))
        shared[slug] = (name, evidence)
        out[pk] = (value + strength[slug] * score / norm, shared)
    return out


def _diversified(scored: list, organisation_of: dict[int, str]) -> list:
    """At most PER_ORGANISATION_IN_TOP5 results of one organisation among the first five;
    the others move down, nothing is dropped."""
    first, later, seen = [], [], Counter()
    for row in scored:
        org = (organisation_of.get(row[1]) or "").strip().lower()
        if len(first) < 5 and seen[org] >= PER_ORGANISATION_IN_TOP5:
            later.append(row)
            continue
        seen[org] += 1
        (first if len(first) < 5 else later).append(row)
    return first + later


def _describe(top, documents, structure, query_patterns, query_mechanisms, terms, organisation):
    """Only the few results returned are described (their words read, evidence paired)."""
    if not top:
        return []
    ids = [row[1] for row in top]
    incidents = {
        i.pk: i
        for i in Incident.objects.filter(pk__in=ids).only(
            "id", "title", "started_at", "resolved_at", "created_at", "restricted_to_id",
            "status", "organisation",
        )
    }  # fmt: skip
    texts = dict(
        index.IndexedDocument.objects.filter(incident_id__in=ids).values_list("incident_id", "body")
    )
    titles = {pk: incidents[pk].title for pk in incidents}
    catalogue = mechanisms_by_slug()
    q_pat = {p.slug: p for p in query_patterns}
    results = []
    for score, pk, lexical, by_cause, struct, shared_mech in top:
        incident = incidents.get(pk)
        if incident is None:
            continue
        doc_stems = {_stem(w) for w in words(f"{titles[pk]} {texts.get(pk, '')}")}
        common = [t for t in terms if _stem(t) in doc_stems]
        shared = structure.get(pk, (0.0, {}))[1]
        candidate_mechs = documents[pk]["mechanisms"] or {}
        results.append(
            Match(
                incident=incident,
                score=score,
                confidence=level(score),
                lexical=round(lexical, 4),
                cause=round(by_cause, 4),
                structure=round(struct, 4),
                shared_patterns=tuple(
                    SharedPattern(
                        slug=s,
                        name=shared[s][0],
                        query_evidence=q_pat[s].matched,
                        candidate_evidence=tuple(
                            sorted(
                                map(str, shared[s][1]),
                                key=lambda e, s=s: (e not in q_pat[s].matched, e),
                            )[:5]
                        ),
                    )
                    for s in sorted(shared, key=lambda s: -q_pat[s].score)
                ),
                shared_mechanisms=tuple(
                    SharedMechanism(
                        slug=m,
                        name=catalogue[m].name if m in catalogue else m,
                        pattern_name=catalogue[m].pattern_name if m in catalogue else "",
                        query_evidence=tuple(query_mechanisms[m]),
                        candidate_evidence=tuple(candidate_mechs.get(m, ())),
                    )
                    for m in sorted(shared_mech)
                ),
                matched_terms=tuple(common[:8]),
                same_organisation=(incident.organisation or "").strip().lower()
                == (organisation or "").strip().lower(),
            )
        )
    return results
