"""The floor for `POST /api/v1/similar/`: a bare WSGI callable, no Django, no DRF.

    DATABASE_URL=postgres://…/seams_bench_100k \
        .venv/bin/gunicorn floor_wsgi:application --chdir bench -w 2 -b 127.0.0.1:8766

It answers the same request (`Authorization: Token <key>`, `{"text", "limit", "scope",
"organisation"}`) with the same JSON as Seams, by running, through psycopg, the statements
and the scoring of the PostgreSQL path of `similarity.retrieval.ask` as
`similarity.questions.similar_to_text` calls it:

1. the token lookup (by SHA-256 digest, with its user; last use recorded at most once a
   minute), the reader's groups, and the reviews merged away into another;
2. boilerplate sentences removed (the learned five-word runs), the question's patterns
   (the catalogue's phrases) and mechanisms;
3. the term statistics (documents per organisation for each question word, mechanism
   phrase and pattern evidence, counted up to `DF_CAP` + 1, in `UNION ALL` statements of 50
   terms) and the archive's size, average length and reviews per organisation;
4. the candidates: BM25-ranked (`ts_rank`) reviews for an OR of the informative terms
   within the match budget, the same over the cause view, the incidents showing the
   question's five strongest patterns most strongly (50 each), and reviews naming each
   mechanism (50 each), all limited to what the reader may see;
5. BM25 of every candidate over the review and over the cause view, from the candidates'
   stored vectors (`unnest`), the pattern scores of the candidates, the rarity of each
   pattern; the score (lexical + cause + structure + mechanisms, weighted), at most two
   results per organisation in the first five when asking across organisations;
6. the titles and bodies of the results returned, to pair their evidence, and — when the
   text names fewer than five patterns — the patterns those results show
   (`similarity.patterns.completed`).

Per process, as Seams does, it keeps term statistics, the archive's figures, pattern rarity
and the learned boilerplate for 300 s and the mechanisms for 60 s. Unlike Seams it reads
the catalogue's pattern phrases and ids once per process (Seams checks a digest of the
catalogue on each question, and looks the suggested patterns' ids up again). What it leaves
out is what a framework adds: Django's ORM and request cycle, DRF's parsing, validation and
serializers. Words, sentences and five-word runs come from `similarity.text`, which is plain
Python (importing it sets nothing of Django up); everything else is written out here, and
`bench/similar_latency.py` checks that the floor's constants equal Seams' and that its
answers name the same incidents.

`GET /healthz` answers without touching anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from similarity.text import content_words, sentences, shingles, words  # plain Python

DSN = (os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/seams_bench").replace(
    "postgres://", "postgresql://", 1
)

# similarity.index
K1, B = 1.2, 0.75
TITLE_WEIGHT = 2.0
DF_CAP = 5000
MATCH_BUDGET = 12_000
STATS_SECONDS = 300.0
# similarity.retrieval
LEXICAL_WEIGHT = 1.0
CAUSE_WEIGHT = 0.5
STRUCTURE_WEIGHT = 0.35
MECHANISM_WEIGHT = 0.35
MAX_TERMS = 24
CONCENTRATED_SHARE = 0.8
CONCENTRATED_WEIGHT = 0.2
FOCUS_WORDS = 80
FOCUS_BOOST = 5.0
PER_ORGANISATION_IN_TOP5 = 2
STRONG_SCORE = 0.55
POSSIBLE_SCORE = 0.35
# similarity.documents
CAUSE_CHARS = 4_000
CAUSAL = re.compile(
    r"\b(because|caus(e|ed|es|ing)|due to|root[- ]cause|trigger(ed|s)?|led to|lead to|"
    r"result(ed)? in|as a result|owing to|stemm(ed|ing) from|failed to|was not|were not|"
    r"did not|could not|never|without|exceeded|expired|ran out|misconfigur\w*)\b",
    re.IGNORECASE,
)
# similarity.boilerplate
SHINGLE = 5
SENTENCE_SHARE = 0.5
BOILERPLATE_SECONDS = 300.0
# similarity.mechanisms
MECHANISM_SECONDS = 60.0
# incidents.analysis.similarity
PHRASE_WORDS_CAP = 4
PHRASE_SATURATION = 4.0
CANDIDATES_PER_PATTERN = 50
CANDIDATE_PATTERNS = 5
PATTERN_WEIGHTS_TTL = 300.0
SUGGESTED_PATTERNS = 8
# similarity.patterns
PATTERNS_OFFERED = 5
NAMED_NEIGHBOURS = 3
EVIDENCE_WORDS = 150

SQL_TOKEN = """
SELECT t.id, t.revoked_at IS NULL AND u.is_active, u.id, u.is_superuser
FROM incidents_apitoken t JOIN auth_user u ON u.id = t.user_id WHERE t.digest = %s
"""
SQL_TOUCH_TOKEN = "UPDATE incidents_apitoken SET last_used_at = now() WHERE id = %s"
SQL_GROUPS = "SELECT group_id FROM auth_user_groups WHERE user_id = %s"
SQL_MERGED_AWAY = """
SELECT i.id FROM incidents_incident i
WHERE i.id IN (SELECT first_id FROM duplicates_possibleduplicate
               WHERE status = 'merged' AND NOT (primary_id = first_id AND primary_id IS NOT NULL))
   OR i.id IN (SELECT second_id FROM duplicates_possibleduplicate
               WHERE status = 'merged' AND NOT (primary_id = second_id AND primary_id IS NOT NULL))
"""
SQL_BOILERPLATE = "SELECT hash FROM similarity_recurringshingle"
SQL_PATTERNS = (
    "SELECT id, slug, name, aliases, entry -> 'match_terms' FROM taxonomy_structuralpattern "
    "ORDER BY name"
)
SQL_MECHANISMS = "SELECT name, entry FROM taxonomy_structuralpattern ORDER BY slug"
SQL_ARCHIVE = "SELECT count(*), avg(length) FROM similarity_indexeddocument"
SQL_PER_ORGANISATION = (
    "SELECT organisation, count(*) FROM similarity_indexeddocument GROUP BY organisation"
)
SQL_TERM_COUNTS = (
    "SELECT %s AS term, organisation, count(*) FROM (SELECT organisation FROM "
    "similarity_indexeddocument WHERE document @@ phraseto_tsquery('english', %s) "
    "LIMIT %s) m{i} GROUP BY organisation"
)
SQL_RANKED = (
    "SELECT d.incident_id FROM similarity_indexeddocument d, to_tsquery('english', %s) q "
    "WHERE d.{column} @@ q{where} "
    "ORDER BY ts_rank(d.{column}, q, 1) DESC, d.incident_id DESC LIMIT %s"
)
SQL_BY_PATTERN = (
    "SELECT ps.incident_id FROM incidents_patternscore ps WHERE ps.pattern_id = %s{visible}"
    "{exclude} ORDER BY ps.score DESC, ps.incident_id DESC LIMIT %s"
)
SQL_VISIBLE = (
    " AND ps.incident_id IN (SELECT v.id FROM incidents_incident v WHERE v.restricted_to_id "
    "IS NULL OR v.restricted_to_id IN (SELECT g.id FROM auth_group g INNER JOIN "
    "auth_user_groups ug ON g.id = ug.group_id WHERE ug.user_id = %s))"
)
SQL_IN_ORGANISATION = (
    "SELECT incident_id FROM similarity_indexeddocument "
    "WHERE incident_id = ANY(%s) AND upper(organisation) = upper(%s)"
)
SQL_LEXEMES = (
    "SELECT t, (SELECT array_agg(lexeme) FROM unnest(to_tsvector('english', t))) "
    "FROM unnest(%s::text[]) t"
)
SQL_TERM_WEIGHTS = (
    "SELECT d.incident_id, d.length, u.lexeme, u.weights FROM similarity_indexeddocument d, "
    "unnest(d.{column}) u WHERE d.incident_id = ANY(%s) AND u.lexeme = ANY(%s)"
)
SQL_DOCUMENTS = (
    "SELECT incident_id, organisation, mechanisms FROM similarity_indexeddocument "
    "WHERE incident_id IN ({ids})"
)
SQL_PATTERN_COUNTS = (
    "SELECT p.slug, count(ps.id) FROM incidents_patternscore ps "
    "JOIN taxonomy_structuralpattern p ON ps.pattern_id = p.id GROUP BY 1"
)
SQL_INCIDENT_COUNT = "SELECT count(*) FROM incidents_incident"
SQL_PATTERN_SCORES = (
    "SELECT ps.incident_id, p.slug, p.name, ps.score, ps.evidence FROM incidents_patternscore ps "
    "JOIN taxonomy_structuralpattern p ON ps.pattern_id = p.id "
    "WHERE ps.incident_id IN ({ids}) AND p.slug IN ({slugs})"
)
SQL_NEIGHBOUR_PATTERNS = (
    "SELECT ps.incident_id, p.slug, p.name, ps.score FROM incidents_patternscore ps "
    "JOIN taxonomy_structuralpattern p ON ps.pattern_id = p.id "
    "WHERE ps.incident_id IN ({ids}){own}"
)
SQL_INCIDENTS = "SELECT id, title, organisation FROM incidents_incident WHERE id IN ({ids})"
SQL_BODIES = "SELECT incident_id, body FROM similarity_indexeddocument WHERE incident_id IN ({ids})"


def _in(values) -> str:
    return ", ".join(["%s"] * len(values))


# --- text (incidents.analysis.similarity.normalise, similarity.boilerplate.strip) -----------

_NORMAL_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")


def normalise(text: str) -> str:
    return " " + " ".join(_NORMAL_WORD.findall(text.lower().replace("_", " "))) + " "


def focus(text: str, opening_words: int) -> str | None:
    all_words = words(text)
    if len(all_words) <= opening_words:
        return None
    causes = "\n".join(c for c in sentences(text) if CAUSAL.search(c))[:CAUSE_CHARS]
    return " ".join(all_words[:opening_words]) + "\n" + causes


def strip_boilerplate(text: str, runs: frozenset[int]) -> str:
    if not runs:
        return text
    kept = []
    for sentence in sentences(text):
        hashes = shingles(words(sentence), SHINGLE)
        if hashes and sum(h in runs for h in hashes) / len(hashes) >= SENTENCE_SHARE:
            continue
        kept.append(sentence)
    return "\n".join(kept)


def stem(word: str) -> str:
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def idf(documents: int, total: int) -> float:
    return math.log(1 + (total - documents + 0.5) / (documents + 0.5))


# --- what a process keeps ---------------------------------------------------------------------

_local = threading.local()
_cache: dict = {}


def connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        # The session settings of Seams' own connections (config/settings/base.py: no JIT).
        conn = _local.conn = psycopg.connect(DSN, autocommit=True, options="-c jit=off")
    return conn


def _cached(key: str, seconds: float, load):
    now = time.monotonic()
    hit = _cache.get(key)
    if hit and now - hit[0] < seconds:
        return hit[1]
    value = load()
    _cache[key] = (now, value)
    return value


def patterns(conn) -> list[tuple[int, str, str, tuple[str, ...]]]:
    """(id, slug, name, normalised phrases) per pattern, by name; once per process."""
    if "patterns" not in _cache:
        _cache["patterns"] = [
            (pk, slug, name, tuple(sorted({normalise(p).strip()
                                           for p in (name, *(aliases or []), *(terms or []))
                                           if p.strip()})))
            for pk, slug, name, aliases, terms in conn.execute(SQL_PATTERNS)
        ]  # fmt: skip
    return _cache["patterns"]


def mechanisms(conn) -> list[dict]:
    """The catalogue's mechanisms with their normalised phrases (as taxonomy.selectors)."""

    def load():
        found = []
        for name, entry in conn.execute(SQL_MECHANISMS):
            entry = entry if isinstance(entry, dict) else {}
            stored = entry.get("mechanisms", [])
            for item in stored if isinstance(stored, list) else []:
                if not isinstance(item, dict) or not item.get("slug") or not item.get("name"):
                    continue
                terms = item.get("match_terms", [])
                terms = [
                    str(t) for t in (terms if isinstance(terms, list) else []) if str(t).strip()
                ]
                phrases = {normalise(p).strip() for p in (str(item["name"]), *terms) if p.strip()}
                found.append({"slug": str(item["slug"]), "name": str(item["name"]),
                              "pattern_name": name, "phrases": tuple(sorted(phrases))})  # fmt: skip
        return found

    return _cached("mechanisms", MECHANISM_SECONDS, load)


def boilerplate_runs(conn) -> frozenset[int]:
    return _cached(
        "boilerplate",
        BOILERPLATE_SECONDS,
        lambda: frozenset(r[0] for r in conn.execute(SQL_BOILERPLATE)),
    )


def archive(conn) -> tuple[int, float, dict[str, int]]:
    def load():
        n, avg = conn.execute(SQL_ARCHIVE).fetchone()
        per_org = dict(conn.execute(SQL_PER_ORGANISATION).fetchall())
        return (n or 0, float(avg or 1.0), per_org)

    return _cached("archive", STATS_SECONDS, load)


def pattern_rarity(conn) -> dict[str, float]:
    def load():
        counts = dict(conn.execute(SQL_PATTERN_COUNTS).fetchall())
        total = conn.execute(SQL_INCIDENT_COUNT).fetchone()[0]
        return {slug: math.log((total + 1) / (n + 1)) + 1 for slug, n in counts.items()}

    return _cached("rarity", PATTERN_WEIGHTS_TTL, load)


def term_stats(conn, terms: list[str]) -> dict[str, tuple[int, str, float]]:
    """(documents, top organisation, its share) per term, as `similarity.index.term_stats`:
    cached for STATS_SECONDS, except terms found in no review."""
    now = time.monotonic()
    cache = _cache.setdefault("terms", {})
    out, missing = {}, []
    for term in dict.fromkeys(terms):
        hit = cache.get(term)
        if hit and now - hit[0] < STATS_SECONDS:
            out[term] = hit[1]
        else:
            missing.append(term)
    counts: dict[str, list[tuple[str, int]]] = {t: [] for t in missing}
    for start in range(0, len(missing), 50):
        chunk = missing[start : start + 50]
        parts, params = [], []
        for i, term in enumerate(chunk):
            parts.append(SQL_TERM_COUNTS.format(i=i))
            params += [term, term, DF_CAP + 1]
        for term, organisation, n in conn.execute(" UNION ALL ".join(parts), params):
            counts[term].append((organisation, n))
    if len(cache) > 50_000:
        cache.clear()
    for term, rows in counts.items():
        total = sum(n for _, n in rows)
        top_org, top_n = max(rows, key=lambda r: r[1]) if rows else ("", 0)
        stats = (total, top_org, top_n / total if total else 0.0)
        if total:
            cache[term] = (now, stats)
        out[term] = stats
    return out


# --- the question -----------------------------------------------------------------------------


def suggest_patterns(conn, text: str) -> list[dict]:
    focused = focus(text, EVIDENCE_WORDS)
    haystack = normalise(text if focused is None else focused)
    found = []
    for pk, slug, name, phrases in patterns(conn):
        matched = [p for p in phrases if f" {p} " in haystack]
        if not matched:
            continue
        distinct = [p for p in matched if not any(p != o and f" {p} " in f" {o} " for o in matched)]
        weight = sum(min(len(p.split()), PHRASE_WORDS_CAP) for p in distinct)
        score = round(1 - math.exp(-weight / PHRASE_SATURATION), 3)
        found.append({"id": pk, "slug": slug, "name": name, "score": score, "matched": matched})
    found.sort(key=lambda s: (-s["score"], s["name"]))
    return found[:SUGGESTED_PATTERNS]


def match_mechanisms(conn, text: str) -> dict[str, list[str]]:
    haystack = normalise(text)
    found: dict[str, list[str]] = {}
    for mechanism in mechanisms(conn):
        matched = [p for p in mechanism["phrases"] if f" {p} " in haystack]
        if matched:
            found[mechanism["slug"]] = matched
    return found


def question_words(counts: Counter) -> list[str]:
    return sorted(counts, key=lambda w: (-counts[w], -len(w), w))[: MAX_TERMS * 3]


def weighted_terms(conn, text: str, across: bool):
    counts = Counter(content_words(text))
    focused = focus(text, FOCUS_WORDS)
    in_focus = set(content_words(focused)) if focused is not None else set()
    ordered = question_words(counts)
    stats = term_stats(conn, ordered)
    total, _, per_org = archive(conn)
    weights: dict[str, float] = {}
    idfs: dict[str, float] = {}
    for term in ordered:
        documents, top_org, top_share = stats[term]
        if documents == 0 or documents > DF_CAP:
            continue
        idfs[term] = idf(documents, total)
        weight = 1.0
        org_share = per_org.get(top_org, 0) / total if total else 0.0
        if across and documents >= 2 and top_share >= CONCENTRATED_SHARE and org_share < 0.5:
            weight = CONCENTRATED_WEIGHT
        weights[term] = weight
    boost = {t: FOCUS_BOOST if t in in_focus else 1.0 for t in weights}
    chosen = sorted(
        weights, key=lambda t: -(weights[t] * boost[t] * idfs[t] * (1 + math.log(counts[t])))
    )[:MAX_TERMS]
    return chosen, {t: weights[t] for t in chosen}, {t: idfs[t] for t in chosen}


def budgeted(conn, terms: list[str], weights: dict[str, float]) -> list[str]:
    stats = term_stats(conn, terms)
    kept, spent = [], 0
    for term in sorted(terms, key=lambda t: stats[t][0]):
        if weights[term] < 1.0:
            continue
        if kept and spent + stats[term][0] > MATCH_BUDGET:
            break
        kept.append(term)
        spent += stats[term][0]
    return kept


def scope_sql(scope: dict, column: str) -> tuple[str, list]:
    clauses, params = [], []
    if scope["groups"] is not None:
        placeholders = ", ".join(["%s"] * len(scope["groups"])) or "NULL"
        clauses.append(
            f"{column} IN (SELECT id FROM incidents_incident WHERE restricted_to_id IS NULL "
            f"OR restricted_to_id IN ({placeholders}))"
        )
        params.extend(scope["groups"])
    if scope["exclude"]:
        clauses.append(f"{column} NOT IN ({_in(scope['exclude'])})")
        params.extend(scope["exclude"])
    if scope["organisation"] is not None:
        clauses.append(
            f"{column} IN (SELECT incident_id FROM similarity_indexeddocument "
            "WHERE lower(organisation) = lower(%s))"
        )
        params.append(scope["organisation"])
    return "".join(f" AND {c}" for c in clauses), params


def pg_phrase(term: str) -> str:
    parts = [w for w in words(term) if w]
    return " <-> ".join(f"'{w}'" for w in parts) or "''"


def ranked(conn, terms: list[str], scope: dict, view: str, limit: int) -> list[int]:
    if not terms:
        return []
    where, params = scope_sql(scope, "d.incident_id")
    column = "document" if view == "review" else "cause_document"
    query = " | ".join(f"({pg_phrase(t)})" for t in terms)
    sql = SQL_RANKED.format(column=column, where=where)
    return [r[0] for r in conn.execute(sql, [query, *params, limit])]


def structural_candidates(conn, query_patterns, query_mechanisms, scope, user) -> list[int]:
    ids: set[int] = set()
    by_slug = {slug: pk for pk, slug, _, _ in patterns(conn)}
    visible = SQL_VISIBLE if scope["groups"] is not None else ""
    exclude = scope["exclude"]
    exclude_sql = f" AND NOT ps.incident_id IN ({_in(exclude)})" if exclude else ""
    sql = SQL_BY_PATTERN.format(visible=visible, exclude=exclude_sql)
    for suggestion in query_patterns[:CANDIDATE_PATTERNS]:
        pattern_id = by_slug.get(suggestion["slug"])
        if pattern_id is None:
            continue
        params = [pattern_id, *([user] if visible else []), *exclude, CANDIDATES_PER_PATTERN]
        ids.update(r[0] for r in conn.execute(sql, params))
    found = list(ids)
    if scope["organisation"] is not None:
        allowed = {r[0] for r in conn.execute(SQL_IN_ORGANISATION, [found, scope["organisation"]])}
        found = [i for i in found if i in allowed]
    for phrases in query_mechanisms.values():
        found += ranked(conn, list(phrases), scope, "review", 50)
    return found


def bm25(conn, terms, weights, ids, view) -> dict[int, float]:
    if not terms or not ids:
        return {}
    total, avg_length, _ = archive(conn)
    stats = term_stats(conn, terms)
    column = "document" if view == "review" else "cause_document"
    single = [t for t in terms if " " not in t.strip()]
    lexeme_of = {t: (lex or [None])[0] for t, lex in conn.execute(SQL_LEXEMES, [single])}
    lexemes = [x for x in lexeme_of.values() if x]
    if not lexemes:
        return {}
    rows = conn.execute(SQL_TERM_WEIGHTS.format(column=column), [ids, lexemes]).fetchall()
    terms_of: dict[str, list[str]] = {}
    for t, lex in lexeme_of.items():
        if lex:
            terms_of.setdefault(lex, []).append(t)
    scores: dict[int, float] = {}
    for pk, length, lexeme, position_weights in rows:
        tf = sum(TITLE_WEIGHT if w == "A" else 1.0 for w in position_weights or [])
        norm = 1 - B + B * (length or 1) / avg_length
        for term in terms_of[lexeme]:
            part = idf(stats[term][0], total) * tf * (K1 + 1) / (tf + K1 * norm)
            scores[pk] = scores.get(pk, 0.0) + weights.get(term, 1.0) * part
    return scores


def structure_of(conn, query_patterns, candidates) -> dict[int, tuple[float, dict]]:
    if not query_patterns:
        return {}
    rarity = pattern_rarity(conn)
    phrases = sorted({m for p in query_patterns for m in p["matched"]})
    total, _, _ = archive(conn)
    stats = term_stats(conn, phrases)
    phrase_idf = {p: idf(min(stats[p][0], total), total) for p in phrases}
    strength = {}
    for p in query_patterns:
        specific = sum(phrase_idf.get(m, 1.0) for m in p["matched"]) / max(1.0, math.log(total + 1))
        strength[p["slug"]] = (1 - math.exp(-2 * specific)) * rarity.get(p["slug"], 1.0)
    norm = sum(strength.values()) or 1.0
    slugs = list(strength)
    sql = SQL_PATTERN_SCORES.format(ids=_in(candidates), slugs=_in(slugs))
    out: dict[int, tuple[float, dict]] = {}
    for pk, slug, name, score, evidence in conn.execute(sql, [*candidates, *slugs]):
        value, shared = out.get(pk, (0.0, {}))
        shared[slug] = (name, evidence)
        out[pk] = (value + strength[slug] * score / norm, shared)
    return out


def mechanism_idf(conn, query_mechanisms) -> dict[str, float]:
    total, _, _ = archive(conn)
    out = {}
    for slug, phrases in query_mechanisms.items():
        stats = term_stats(conn, list(phrases))
        rarest = min((s[0] for s in stats.values() if s[0]), default=0)
        out[slug] = idf(rarest, total) if rarest else 1.0
    return out


def diversified(scored: list, organisation_of: dict[int, str]) -> list:
    first, later, seen = [], [], Counter()
    for row in scored:
        org = (organisation_of.get(row[1]) or "").strip().lower()
        if len(first) < 5 and seen[org] >= PER_ORGANISATION_IN_TOP5:
            later.append(row)
            continue
        seen[org] += 1
        (first if len(first) < 5 else later).append(row)
    return first + later


def level(score: float) -> str:
    if score >= STRONG_SCORE:
        return "strong"
    if score >= POSSIBLE_SCORE:
        return "possible"
    return "weak"


def ask(conn, *, user, groups, text, scope, organisation, exclude, limit):
    """`similarity.retrieval.ask` on PostgreSQL, as `similar_to_text` calls it."""
    text = strip_boilerplate(text, boilerplate_runs(conn))
    query_patterns = suggest_patterns(conn, text)
    query_mechanisms = match_mechanisms(conn, text)
    across = scope != "organisation"
    where = {
        "groups": groups,
        "exclude": tuple(sorted(exclude)),
        "organisation": None if across else organisation,
    }
    term_stats(
        conn,
        question_words(Counter(content_words(text)))
        + [p for phrases in query_mechanisms.values() for p in phrases]
        + [m for p in query_patterns for m in p["matched"]],
    )
    terms, weights, idfs = weighted_terms(conn, text, across)
    selecting = budgeted(conn, terms, weights)
    candidates: list[int] = []
    candidates += ranked(conn, selecting, where, "review", 200)
    candidates += ranked(conn, selecting, where, "cause", 100)
    candidates += structural_candidates(conn, query_patterns, query_mechanisms, where, user)
    candidates = list(dict.fromkeys(candidates))
    if not candidates:
        return [], query_patterns, terms

    review = bm25(conn, terms, weights, candidates, "review")
    cause = bm25(conn, terms, weights, candidates, "cause")
    ceiling = sum(weights[t] * idfs[t] * (K1 + 1) for t in terms) or 1.0
    documents = {
        pk: (org, mechs)
        for pk, org, mechs in conn.execute(SQL_DOCUMENTS.format(ids=_in(candidates)), candidates)
    }
    structure = structure_of(conn, query_patterns, candidates)
    mech_idf = mechanism_idf(conn, query_mechanisms)
    mech_total = sum(mech_idf.values()) or 1.0

    scored = []
    for pk in candidates:
        doc = documents.get(pk)
        if doc is None:
            continue
        lexical = min(1.0, review.get(pk, 0.0) / ceiling)
        by_cause = min(1.0, cause.get(pk, 0.0) / ceiling)
        shared_mech = set(query_mechanisms) & set(doc[1] or {})
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
    scored.sort(key=lambda s: (-s[0], -s[1]))
    if across:
        scored = diversified(scored, {pk: d[0] for pk, d in documents.items()})
    top = scored[:limit]
    results = describe(
        conn, top, documents, structure, query_patterns, query_mechanisms, terms, organisation
    )
    neighbours = [(r["id"], r["title"], r["score"]) for r in results]
    return results, completed(conn, query_patterns, neighbours), terms


def completed(conn, text_patterns: list[dict], neighbours: list[tuple]) -> list[dict]:
    """The text's own patterns, then, up to PATTERNS_OFFERED, those its results show
    (`similarity.patterns.completed`)."""
    if len(text_patterns) >= PATTERNS_OFFERED or not neighbours:
        return text_patterns
    total = sum(score for _, _, score in neighbours) or 1.0
    share = {pk: score / total for pk, _, score in neighbours}
    title = {pk: t for pk, t, _ in neighbours}
    own = list({p["slug"] for p in text_patterns})
    ids = list(share)
    own_sql = f" AND NOT (p.slug IN ({_in(own)}))" if own else ""
    sql = SQL_NEIGHBOUR_PATTERNS.format(ids=_in(ids), own=own_sql)
    votes: dict[str, float] = {}
    names: dict[str, str] = {}
    shown_by: dict[str, list[int]] = {}
    for pk, slug, name, score in conn.execute(sql, [*ids, *own]):
        votes[slug] = votes.get(slug, 0.0) + share[pk] * score
        names[slug] = name
        shown_by.setdefault(slug, []).append(pk)
    order = [pk for pk, _, _ in neighbours]
    extra = [
        {
            "slug": slug,
            "name": names[slug],
            "score": round(vote, 3),
            "matched": [],
            "shown_by": [
                title[pk] for pk in sorted(shown_by[slug], key=order.index)[:NAMED_NEIGHBOURS]
            ],
        }
        for slug, vote in sorted(votes.items(), key=lambda kv: (-kv[1], names[kv[0]]))
    ]
    return text_patterns + extra[: PATTERNS_OFFERED - len(text_patterns)]


def why_pattern(p: dict) -> str:
    if not p["matched"] and p.get("shown_by"):
        titles = ", ".join(f"“{t}”" for t in p["shown_by"])
        return f"Similar past reviews show it: {titles}."
    return "The text mentions " + ", ".join(f"“{m}”" for m in p["matched"]) + "."


def describe(conn, top, documents, structure, query_patterns, query_mechanisms, terms, org):
    """The answer's rows for the results returned, as the API serialises them (without
    their `url`, which depends on the request)."""
    if not top:
        return []
    ids = [row[1] for row in top]
    incidents = {
        pk: (title, organisation)
        for pk, title, organisation in conn.execute(SQL_INCIDENTS.format(ids=_in(ids)), ids)
    }
    texts = dict(conn.execute(SQL_BODIES.format(ids=_in(ids)), ids).fetchall())
    catalogue = {m["slug"]: m for m in mechanisms(conn)}
    q_pat = {p["slug"]: p for p in query_patterns}
    out = []
    for score, pk, lexical, by_cause, struct, shared_mech in top:
        if pk not in incidents:
            continue
        title, organisation = incidents[pk]
        doc_stems = {stem(w) for w in words(f"{title} {texts.get(pk, '')}")}
        common = [t for t in terms if stem(t) in doc_stems]
        shared = structure.get(pk, (0.0, {}))[1]
        candidate_mechs = documents[pk][1] or {}
        shared_mechanisms = [
            {
                "slug": m,
                "name": catalogue[m]["name"] if m in catalogue else m,
                "pattern_name": catalogue[m]["pattern_name"] if m in catalogue else "",
                "query_evidence": list(query_mechanisms[m]),
                "candidate_evidence": list(candidate_mechs.get(m, ())),
            }
            for m in sorted(shared_mech)
        ]
        shared_patterns = [
            {
                "slug": s,
                "name": shared[s][0],
                "query_evidence": list(q_pat[s]["matched"]),
                "candidate_evidence": sorted(
                    map(str, shared[s][1]), key=lambda e, s=s: (e not in q_pat[s]["matched"], e)
                )[:5],
            }
            for s in sorted(shared, key=lambda s: -q_pat[s]["score"])
        ]
        why = []
        if shared_mechanisms:
            why.append("same mechanism: " + ", ".join(m["name"] for m in shared_mechanisms))
        if shared_patterns:
            why.append("same structure: " + ", ".join(p["name"] for p in shared_patterns))
        if common:
            why.append("same words: " + ", ".join(common[:6]))
        out.append(
            {
                "id": pk,
                "title": title,
                "organisation": organisation,
                "score": score,
                "confidence": level(score),
                "lexical": round(lexical, 4),
                "cause": round(by_cause, 4),
                "structure": round(struct, 4),
                "shared_mechanisms": shared_mechanisms,
                "shared_patterns": shared_patterns,
                "matched_terms": common[:8],
                "same_organisation": (organisation or "").strip().lower()
                == (org or "").strip().lower(),
                "possible_duplicate": False,
                "duplicate_reasons": [],
                "why": "; ".join(why) or "weakly related",
            }
        )
    return out


def answer(conn, *, user: int, superuser: bool, payload: dict, host: str) -> dict:
    """The JSON body of `POST /api/v1/similar/` for this user and request body."""
    groups = (
        None if superuser else tuple(r[0] for r in conn.execute(SQL_GROUPS, [user]))
    )  # fmt: skip
    exclude = frozenset(r[0] for r in conn.execute(SQL_MERGED_AWAY))
    scope = payload.get("scope", "anywhere")
    results, query_patterns, _ = ask(
        conn,
        user=user,
        groups=groups,
        text=payload["text"],
        scope=scope,
        organisation=payload.get("organisation", ""),
        exclude=exclude,
        limit=payload.get("limit", 5),
    )
    incidents = []
    for row in results:
        url = f"http://{host}/api/v1/incidents/{row['id']}/"
        incidents.append({"id": row["id"], "title": row["title"], "url": url, **row})
    best = results[0]["score"] if results else 0.0
    confidence = results[0]["confidence"] if results else "weak"
    return {
        "incidents": incidents,
        "patterns": [
            {
                "slug": p["slug"],
                "name": p["name"],
                "score": p["score"],
                "matched": p["matched"],
                "shown_by": p.get("shown_by", []),
                "why": why_pattern(p),
            }
            for p in query_patterns
        ],
        "scope": scope,
        "confidence": {"level": confidence, "score": best},
        "confident_match": confidence != "weak",
    }


# --- the request ------------------------------------------------------------------------------

_touched: dict[int, float] = {}


def _respond(start_response, status: str, body: dict) -> list[bytes]:
    data = orjson.dumps(body)  # the encoder Seams' API uses (drf-orjson-renderer)
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _respond(start_response, "200 OK", {"status": "ok"})
    if environ.get("REQUEST_METHOD") != "POST" or path != "/api/v1/similar/":
        return _respond(start_response, "404 Not Found", {"error": "not found"})
    conn = connection()
    header = environ.get("HTTP_AUTHORIZATION", "").split()
    if len(header) != 2 or header[0].lower() != "token":
        return _respond(start_response, "401 Unauthorized", {"error": "no token"})
    row = conn.execute(SQL_TOKEN, [hashlib.sha256(header[1].encode()).hexdigest()]).fetchone()
    if row is None or not row[1]:
        return _respond(start_response, "401 Unauthorized", {"error": "invalid token"})
    token, _, user, superuser = row
    if time.monotonic() - _touched.get(token, -1e9) > 60:  # as the app: once a minute
        conn.execute(SQL_TOUCH_TOKEN, [token])
        _touched[token] = time.monotonic()
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(length) or b"{}")
        payload["text"] = str(payload["text"]).strip()
        payload["limit"] = int(payload.get("limit", 5))
        if not payload["text"] or not 1 <= payload["limit"] <= 50:
            raise ValueError
        if payload.setdefault("scope", "anywhere") not in ("anywhere", "organisation"):
            raise ValueError
        payload["organisation"] = str(payload.get("organisation", "")).strip()
    except (KeyError, ValueError, TypeError):
        return _respond(start_response, "400 Bad Request", {"error": "text and limit 1–50"})
    host = environ.get("HTTP_HOST", "127.0.0.1")
    body = answer(conn, user=user, superuser=superuser, payload=payload, host=host)
    return _respond(start_response, "200 OK", body)
