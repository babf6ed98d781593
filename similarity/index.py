"""The similarity index: writing reviews into it, and asking it ranked questions.

Two backends behind one set of functions. The embedded mode (SQLite) uses an FTS5 table with
the Porter stemmer and ranks with FTS5's own BM25; PostgreSQL uses two stored, GIN-indexed
tsvector columns (the review, and the cause view) and BM25 computed from the term counts of the
candidates. Both answer with BM25 scores over the same texts, so the ranking and the
confidence thresholds built on them mean the same on either database.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Avg, Count, Exists, OuterRef, QuerySet

from incidents.models import Incident

from .documents import Document, document_for
from .mechanisms import match_mechanisms
from .models import IndexedDocument, RecurringShingle
from .text import words

# BM25's constants (the usual ones; FTS5 uses the same).
K1, B = 1.2, 0.75
# Column weights: a word in the title says more than one in the body.
TITLE_WEIGHT = 2.0
# A term's document frequency is counted up to this many documents: beyond it the term is
# too common to select candidates with, and counting further would cost a scan.
DF_CAP = 5000
# Candidate selection ORs terms together only while the documents they match add up to at
# most this many, so ranking never reads a large part of a big archive.
MATCH_BUDGET = 12_000
STATS_SECONDS = 300.0


def _vendor() -> str:
    return connection.vendor


# --- writing -----------------------------------------------------------------------------


def index_incident(incident: Incident, document: Document | None = None) -> None:
    """Put one review (as it is now) into the index, replacing what was there."""
    document = document or document_for(incident)
    IndexedDocument.objects.update_or_create(
        incident_id=incident.pk,
        defaults={
            "organisation": incident.organisation.strip(),
            "title": document.title,
            "body": document.body,
            "cause": document.cause,
            "length": document.length,
            "mechanisms": match_mechanisms(f"{document.title}\n{document.body}"),
            "indexed_version": incident.version,
        },
    )


def index_many(incidents: Iterable[Incident]) -> int:
    """Index a batch (factors and timeline prefetched); returns how many."""
    count = 0
    with transaction.atomic():
        for incident in incidents:
            index_incident(incident)
            count += 1
    return count


def index_stale(incidents: Iterable[Incident]) -> int:
    """Index those of a batch whose indexed copy is missing or older than the review (its
    `version`); returns how many. One query for the batch's indexed versions; given a
    queryset (the full recompute's chunk), only the stale reviews are read from it."""
    if isinstance(incidents, QuerySet):
        fresh = IndexedDocument.objects.filter(
            incident_id=OuterRef("pk"), indexed_version=OuterRef("version")
        )
        return index_many(incidents.exclude(Exists(fresh)))
    incidents = list(incidents)
    indexed = dict(
        IndexedDocument.objects.filter(incident_id__in=[i.pk for i in incidents]).values_list(
            "incident_id", "indexed_version"
        )
    )
    return index_many(i for i in incidents if indexed.get(i.pk) != i.version)


def basis() -> str:
    """A digest of what the indexed texts depend on besides the reviews themselves: the
    catalogue's mechanisms (their slugs and phrases) and the learned boilerplate runs.
    While it is unchanged, a review indexed when it was saved is still indexed correctly."""
    from .mechanisms import _with_phrases

    digest = hashlib.sha256()
    for m, phrases in sorted(_with_phrases(), key=lambda found: found[0].slug):
        digest.update(json.dumps([m.slug, list(phrases)]).encode())
    for h in sorted(RecurringShingle.objects.values_list("hash", flat=True)):
        digest.update(h.to_bytes(8, "big", signed=True))
    return digest.hexdigest()


def rebuild(*, chunk: int = 500, progress=lambda it, total: it) -> int:
    """Re-index every review, chunk by chunk (safe to interrupt and rerun)."""
    ids = list(Incident.objects.order_by("pk").values_list("pk", flat=True))
    done = 0
    batches = [ids[i : i + chunk] for i in range(0, len(ids), chunk)]
    for batch in progress(batches, len(batches)):
        done += index_many(
            Incident.objects.filter(pk__in=batch).prefetch_related(
                "contributing_factors", "timeline"
            )
        )
    IndexedDocument.objects.exclude(incident_id__in=Incident.objects.values("pk")).delete()
    _stats.clear()
    return done


# --- statistics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TermStats:
    """How a query term is spread over the archive."""

    documents: int  # documents containing it, counted up to DF_CAP + 1
    top_organisation: str  # the organisation most of them come from
    top_share: float  # the share of them from that organisation


_stats: dict = {}


def archive() -> tuple[int, float, dict[str, int]]:
    """(number of indexed reviews, their average length, reviews per organisation); cached."""
    now = time.monotonic()
    cached = _stats.get("archive")
    if cached and now - cached[0] < STATS_SECONDS:
        return cached[1]
    total = IndexedDocument.objects.aggregate(n=Count("pk"), avg=Avg("length"))
    per_org = dict(
        IndexedDocument.objects.values_list("organisation").annotate(n=Count("pk")).order_by()
    )
    value = (total["n"] or 0, float(total["avg"] or 1.0), per_org)
    _stats["archive"] = (now, value)
    return value


def fts_phrase(text: str) -> str:
    """An FTS5 phrase for these words (only letters and digits reach the query)."""
    return '"' + " ".join(words(text)) + '"'


def term_stats(terms: list[str]) -> dict[str, TermStats]:
    """Document frequency and organisation concentration of each term (or phrase), cached
    for STATS_SECONDS; the uncached ones are counted in one bounded query."""
    now = time.monotonic()
    cache = _stats.setdefault("terms", {})
    out: dict[str, TermStats] = {}
    missing = []
    for term in dict.fromkeys(terms):
        hit = cache.get(term)
        if hit and now - hit[0] < STATS_SECONDS:
            out[term] = hit[1]
        else:
            missing.append(term)
    counts: dict[str, list[tuple[str, int]]] = {t: [] for t in missing}
    for start in range(0, len(missing), 50):
        for term, organisation, n in _organisation_counts(missing[start : start + 50]):
            counts[term].append((organisation, n))
    if len(cache) > 50_000:
        cache.clear()
    for term, rows in counts.items():
        total = sum(n for _, n in rows)
        top_org, top_n = max(rows, key=lambda r: r[1]) if rows else ("", 0)
        stats = TermStats(total, top_org, top_n / total if total else 0.0)
        # A term in no review yet is not remembered: the next review saved may bring it,
        # and a question about it must find that review at once.
        if total:
            cache[term] = (now, stats)
        out[term] = stats
    return out


def _organisation_counts(terms: list[str]) -> list[tuple[str, str, int]]:
    """(term, organisation, documents) for each term, each term counted up to DF_CAP + 1
    documents: one statement, one bounded index look-up per term."""
    if not terms:
        return []
    parts, params = [], []
    for i, term in enumerate(terms):
        if _vendor() == "postgresql":
            parts.append(
                f"SELECT %s AS term, organisation, count(*) FROM (SELECT organisation FROM "
                f"similarity_indexeddocument WHERE document @@ phraseto_tsquery('english', %s) "
                f"LIMIT %s) m{i} GROUP BY organisation"
            )
            params += [term, term, DF_CAP + 1]
        else:
            parts.append(
                f"SELECT * FROM (SELECT %s AS term, d.organisation, count(*) FROM (SELECT rowid "
                f"AS id FROM similarity_fts WHERE similarity_fts MATCH %s LIMIT %s) m{i} JOIN "
                f"similarity_indexeddocument d ON d.incident_id = m{i}.id GROUP BY d.organisation)"
            )
            params += [term, "{title body} : " + fts_phrase(term), DF_CAP + 1]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return list(cursor.fetchall())


def idf(documents: int, total: int) -> float:
    """BM25's inverse document frequency (never negative)."""
    return math.log(1 + (total - documents + 0.5) / (documents + 0.5))


# --- asking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which reviews a question may return: visibility, exclusions, organisation."""

    restricted_groups: tuple[int, ...] | None  # None: the reader sees every review
    exclude: tuple[int, ...] = ()
    organisation: str | None = None  # only this organisation ("" is the reader's own)

    def sql(self, column: str) -> tuple[str, list]:
        """A WHERE fragment (starting with AND) limiting `column` (an incident id)."""
        clauses, params = [], []
        if self.restricted_groups is not None:
            placeholders = ", ".join(["%s"] * len(self.restricted_groups)) or "NULL"
            clauses.append(
                f"{column} IN (SELECT id FROM incidents_incident WHERE restricted_to_id IS NULL "
                f"OR restricted_to_id IN ({placeholders}))"
            )
            params.extend(self.restricted_groups)
        if self.exclude:
            clauses.append(f"{column} NOT IN ({', '.join(['%s'] * len(self.exclude))})")
            params.extend(self.exclude)
        if self.organisation is not None:
            clauses.append(
                f"{column} IN (SELECT incident_id FROM similarity_indexeddocument "
                "WHERE lower(organisation) = lower(%s))"
            )
            params.append(self.organisation)
        return "".join(f" AND {c}" for c in clauses), params


def ranked(terms: list[str], scope: Scope, *, view: str = "review", limit: int = 200) -> list[int]:
    """Ids of the reviews best matching any of the terms (BM25), best first.

    `view` is "review" (title and whole review) or "cause" (the cause view).
    """
    if not terms:
        return []
    where, params = scope.sql("m.id" if _vendor() != "postgresql" else "d.incident_id")
    with connection.cursor() as cursor:
        if _vendor() == "postgresql":
            column = "document" if view == "review" else "cause_document"
            query = " | ".join(f"({_pg_phrase(t)})" for t in terms)
            cursor.execute(
                f"SELECT d.incident_id FROM similarity_indexeddocument d, "
                f"to_tsquery('english', %s) q WHERE d.{column} @@ q{where} "
                f"ORDER BY ts_rank(d.{column}, q, 1) DESC, d.incident_id DESC LIMIT %s",
                [query, *params, limit],
            )
        else:
            columns = "{title body}" if view == "review" else "{cause}"
            weights = f"{TITLE_WEIGHT}, 1.0, 0.0" if view == "review" else "0.0, 0.0, 1.0"
            match = f"{columns} : ({' OR '.join(fts_phrase(t) for t in terms)})"
            cursor.execute(
                f"SELECT m.id FROM (SELECT rowid AS id, bm25(similarity_fts, {weights}) AS r "
                f"FROM similarity_fts WHERE similarity_fts MATCH %s) m WHERE 1 = 1{where} "
                f"ORDER BY m.r, m.id DESC LIMIT %s",
                [match, *params, limit],
            )
        return [row[0] for row in cursor.fetchall()]


def _pg_phrase(term: str) -> str:
    parts = [w for w in words(term) if w]
    # Each word goes through to_tsquery's own parser as a quoted literal: no operator can be
    # smuggled in, and the English stemmer applies as it does to the stored vectors.
    return " <-> ".join(f"'{w}'" for w in parts) or "''"


def bm25_scores(
    terms: list[str], weights: dict[str, float], ids: list[int], *, view: str = "review"
) -> dict[int, float]:
    """BM25 of each listed review for the terms, each term's contribution multiplied by its
    weight (1.0 normally; less for a term concentrated in one organisation's write-ups)."""
    if not terms or not ids:
        return {}
    if _vendor() == "postgresql":
        return _pg_bm25(terms, weights, ids, view)
    columns = "{title body}" if view == "review" else "{cause}"
    col_weights = f"{TITLE_WEIGHT}, 1.0, 0.0" if view == "review" else "0.0, 0.0, 1.0"
    placeholders = ", ".join(["%s"] * len(ids))
    scores: dict[int, float] = {}
    # FTS5's bm25() weighs every term of a query alike, so terms with different weights are
    # asked in groups of equal weight and the scores added up.
    groups: dict[float, list[str]] = {}
    for term in terms:
        groups.setdefault(round(weights.get(term, 1.0), 3), []).append(term)
    with connection.cursor() as cursor:
        for weight, group in groups.items():
            match = f"{columns} : ({' OR '.join(fts_phrase(t) for t in group)})"
            cursor.execute(
                f"SELECT rowid, bm25(similarity_fts, {col_weights}) FROM similarity_fts "
                f"WHERE similarity_fts MATCH %s AND rowid IN ({placeholders})",
                [match, *ids],
            )
            for pk, rank in cursor.fetchall():
                # FTS5 answers minus the score (smaller is better).
                scores[pk] = scores.get(pk, 0.0) + weight * -rank
    return scores


def _pg_bm25(
    terms: list[str], weights: dict[str, float], ids: list[int], view: str
) -> dict[int, float]:
    """BM25 from the candidates' own term counts, read out of their stored vectors."""
    total, avg_length, _ = archive()
    stats = term_stats(terms)
    column = "document" if view == "review" else "cause_document"
    single = [t for t in terms if " " not in t.strip()]
    with connection.cursor() as cursor:
        # The stemmed form of each single-word term, as the stored vectors hold it.
        cursor.execute(
            "SELECT t, (SELECT array_agg(lexeme) FROM unnest(to_tsvector('english', t))) "
            "FROM unnest(%s::text[]) t",
            [single],
        )
        lexeme_of = {t: (lex or [None])[0] for t, lex in cursor.fetchall()}
        lexemes = [x for x in lexeme_of.values() if x]
        if not lexemes:
            return {}
        cursor.execute(
            f"SELECT d.incident_id, d.length, u.lexeme, u.weights FROM "
            f"similarity_indexeddocument d, unnest(d.{column}) u "
            f"WHERE d.incident_id = ANY(%s) AND u.lexeme = ANY(%s)",
            [ids, lexemes],
        )
        rows = cursor.fetchall()
    # Several terms can share a lexeme ("retry", "retries"): each scores, as each is its own
    # phrase in the FTS5 query of the embedded mode.
    terms_of: dict[str, list[str]] = {}
    for t, lex in lexeme_of.items():
        if lex:
            terms_of.setdefault(lex, []).append(t)
    scores: dict[int, float] = {}
    for pk, length, lexeme, position_weights in rows:
        tf = sum(TITLE_WEIGHT if w == "A" else 1.0 for w in position_weights or [])
        norm = 1 - B + B * (length or 1) / avg_length
        for term in terms_of[lexeme]:
            part = idf(stats[term].documents, total) * tf * (K1 + 1) / (tf + K1 * norm)
            scores[pk] = scores.get(pk, 0.0) + weights.get(term, 1.0) * part
    return scores
