"""The floor for `POST /api/v1/similar/`: a bare WSGI callable, no Django, no DRF.

    DATABASE_URL=postgres://…/seams_bench_100k \
        .venv/bin/gunicorn floor_wsgi:application --chdir bench -w 2 -b 127.0.0.1:8766

It answers the same request (`Authorization: Token <key>`, `{"text": …, "limit": …}`) with the
same JSON shape, running the same SQL as `incidents.analysis.similarity.similar_to` with
psycopg directly:

1. the token lookup (by SHA-256 digest, with its user);
2. for each pattern the text suggests, the incidents that show it most strongly
   (`incidents_patternscore` by pattern, best score first, 200 at most, visible ones only);
3. a full-text search for the text's three longest content words (all of them), ranked with
   `ts_rank` over the same expression as the GIN index, 100 at most, visible ones only;
4. the pattern scores and the title and summary of every candidate.

Candidates are then ranked in Python by a simplified version of the application's score (the
cosine of pattern scores and the TF-IDF cosine of title and summary, the same tokenisation),
and the top `limit` are returned. What the floor leaves out is what a framework adds: Django's
ORM and request cycle, DRF's parsing and serializers — and it loads the catalogue's phrases
and pattern ids once per process instead of checking them on each request.

`POST /sql-only/` does steps 1–4 and returns the candidate ids in SQL order, with no Python
ranking: what the database alone costs. `GET /healthz` answers without touching anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading

import psycopg

DSN = (os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/seams_bench").replace(
    "postgres://", "postgresql://", 1
)
CANDIDATES_PER_PATTERN = 50
CANDIDATE_PATTERNS = 5
LEXICAL_CANDIDATES = 100
STRUCTURE_WEIGHT = 0.3

_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
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

# The stored, GIN-indexed column (migration 0006 / incidents.search.SEARCH_VECTOR).
VECTOR = "i.search_vector"
VISIBLE = (
    "(i.restricted_to_id IS NULL OR i.restricted_to_id IN "
    "(SELECT ug.group_id FROM auth_user_groups ug WHERE ug.user_id = %(user)s))"
)
SQL_TOKEN = """
SELECT t.revoked_at IS NULL AND u.is_active, u.id, u.is_superuser, t.scope
FROM incidents_apitoken t JOIN auth_user u ON u.id = t.user_id WHERE t.digest = %s
"""
SQL_BY_PATTERN = """
SELECT ps.incident_id FROM incidents_patternscore ps
WHERE ps.pattern_id = %(pattern)s
  AND ps.incident_id IN (SELECT i.id FROM incidents_incident i WHERE {visible})
ORDER BY ps.score DESC, ps.incident_id DESC LIMIT %(limit)s
"""
SQL_FULL_TEXT = f"""
SELECT i.id FROM incidents_incident i
WHERE {{visible}} AND {VECTOR} @@ plainto_tsquery('english'::regconfig, %(query)s)
ORDER BY ts_rank({VECTOR}, plainto_tsquery('english'::regconfig, %(query)s)) DESC, i.id DESC
LIMIT %(limit)s
"""
SQL_SCORES = """
SELECT ps.incident_id, p.slug, p.name, ps.score, ps.evidence
FROM incidents_patternscore ps JOIN taxonomy_structuralpattern p ON p.id = ps.pattern_id
WHERE ps.incident_id = ANY(%s)
"""
SQL_INCIDENTS = (
    "SELECT id, title, SUBSTRING(summary FROM 1 FOR 500) FROM incidents_incident WHERE id = ANY(%s)"
)


def normalise(text: str) -> str:
    return " " + " ".join(_WORD.findall(text.lower().replace("_", " "))) + " "


def terms(text: str) -> list[str]:
    return [
        w for w in normalise(text).split() if w not in STOP_WORDS and len(w) > 2 and not w.isdigit()
    ]


_local = threading.local()
_catalogue: list[tuple[int, str, str, tuple[str, ...]]] | None = None


def connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DSN, autocommit=True)
    return conn


def catalogue(conn) -> list[tuple[int, str, str, tuple[str, ...]]]:
    """(id, slug, name, normalised phrases) per pattern, loaded once per process."""
    global _catalogue
    if _catalogue is None:
        rows = conn.execute(
            "SELECT id, slug, name, aliases, entry -> 'match_terms' "
            "FROM taxonomy_structuralpattern ORDER BY name"
        ).fetchall()
        _catalogue = [
            (
                pk,
                slug,
                name,
                tuple(
                    sorted(
                        {
                            normalise(p).strip()
                            for p in [name, *(aliases or []), *(terms_ or [])]
                            if p.strip()
                        }
                    )
                ),
            )
            for pk, slug, name, aliases, terms_ in rows
        ]
    return _catalogue


def suggest(conn, text: str, limit: int) -> list[dict]:
    haystack = normalise(text)
    found = []
    for pk, slug, name, phrases in catalogue(conn):
        matched = [p for p in phrases if f" {p} " in haystack]
        if matched:
            weight = sum(min(len(p.split()), 4) for p in matched)
            score = round(1 - math.exp(-weight / 4), 3)
            found.append({"id": pk, "slug": slug, "name": name, "score": score, "matched": matched})
    found.sort(key=lambda s: (-s["score"], s["name"]))
    return found[:limit]


def candidates(conn, user: int, superuser: bool, patterns: list[dict], words: list[str]):
    visible = "TRUE" if superuser else VISIBLE
    ids: list[int] = []
    for p in patterns[:CANDIDATE_PATTERNS]:
        ids += [
            row[0]
            for row in conn.execute(
                SQL_BY_PATTERN.format(visible=visible),
                {"pattern": p["id"], "user": user, "limit": CANDIDATES_PER_PATTERN},
            )
        ]
    # As incidents.analysis.similarity: all of the three longest words, then two.
    distinctive = sorted(set(words), key=lambda w: (-len(w), w))[:3]
    for size in (3, 2):
        if len(distinctive) < size:
            continue
        found = [
            row[0]
            for row in conn.execute(
                SQL_FULL_TEXT.format(visible=visible),
                {"query": " ".join(distinctive[:size]), "user": user, "limit": LEXICAL_CANDIDATES},
            )
        ]
        if found:
            ids += found
            break
    return list(dict.fromkeys(ids))


def _tf(words: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    return counts


def rank(conn, ids: list[int], patterns: list[dict], words: list[str], limit: int, host: str):
    vectors: dict[int, dict[str, tuple]] = {}
    for incident_id, slug, name, score, evidence in conn.execute(SQL_SCORES, [ids]):
        vectors.setdefault(incident_id, {})[slug] = (score, name, evidence)
    rows = conn.execute(SQL_INCIDENTS, [ids]).fetchall()
    docs = {pk: _tf(terms(f"{title} {summary}")) for pk, title, summary in rows}
    titles = {pk: title for pk, title, _ in rows}
    n_docs = len(docs) + 1
    df: dict[str, int] = {}
    for tf in docs.values():
        for w in tf:
            df[w] = df.get(w, 0) + 1

    def idf(w: str) -> float:
        return math.log((n_docs + 1) / (df.get(w, 0) + 1)) + 1

    q_vec = {w: c * idf(w) for w, c in _tf(words).items()}
    q_norm = math.sqrt(sum(v * v for v in q_vec.values())) or 1.0
    q_pat = {p["slug"]: p for p in patterns}
    q_pat_norm = math.sqrt(sum(p["score"] ** 2 for p in patterns)) or 1.0
    results = []
    for pk, tf in docs.items():
        c_vec = {w: c * idf(w) for w, c in tf.items()}
        c_norm = math.sqrt(sum(v * v for v in c_vec.values())) or 1.0
        common = set(q_vec) & set(c_vec)
        lexical = sum(q_vec[w] * c_vec[w] for w in common) / (q_norm * c_norm)
        pats = vectors.get(pk, {})
        p_norm = math.sqrt(sum(v[0] ** 2 for v in pats.values())) or 1.0
        shared = [s for s in pats if s in q_pat]
        structure = sum(q_pat[s]["score"] * pats[s][0] for s in shared) / (q_pat_norm * p_norm)
        score = STRUCTURE_WEIGHT * structure + (1 - STRUCTURE_WEIGHT) * lexical
        if score > 0:
            results.append((score, pk, structure, lexical, shared, common, q_vec, c_vec))
    results.sort(key=lambda r: (-r[0], -r[1]))
    out = []
    for score, pk, structure, lexical, shared, common, q_vec, c_vec in results[:limit]:
        pats = vectors.get(pk, {})
        matched = sorted(common, key=lambda w: -q_vec[w] * c_vec[w])[:8]
        names = [pats[s][1] for s in shared]
        why = []
        if names:
            why.append("same structure: " + ", ".join(names))
        if matched:
            why.append("same words: " + ", ".join(matched[:6]))
        out.append(
            {
                "id": pk,
                "title": titles[pk],
                "url": f"http://{host}/api/v1/incidents/{pk}/",
                "score": round(score, 4),
                "structure": round(structure, 4),
                "lexical": round(lexical, 4),
                "shared_patterns": [
                    {
                        "slug": s,
                        "name": pats[s][1],
                        "query_evidence": list(q_pat[s]["matched"]),
                        "candidate_evidence": list(pats[s][2][:5]),
                    }
                    for s in shared
                ],
                "matched_terms": matched,
                "why": "; ".join(why) or "weakly related",
            }
        )
    return out


def _respond(start_response, status: str, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _respond(start_response, "200 OK", {"status": "ok"})
    if environ.get("REQUEST_METHOD") != "POST" or path not in ("/api/v1/similar/", "/sql-only/"):
        return _respond(start_response, "404 Not Found", {"error": "not found"})
    conn = connection()
    header = environ.get("HTTP_AUTHORIZATION", "").split()
    if len(header) != 2 or header[0].lower() != "token":
        return _respond(start_response, "401 Unauthorized", {"error": "no token"})
    row = conn.execute(SQL_TOKEN, [hashlib.sha256(header[1].encode()).hexdigest()]).fetchone()
    if row is None or not row[0]:
        return _respond(start_response, "401 Unauthorized", {"error": "invalid token"})
    _, user, superuser, _ = row
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(length) or b"{}")
        text = str(payload["text"]).strip()
        limit = int(payload.get("limit", 5))
        if not text or not 1 <= limit <= 50:
            raise ValueError
    except (KeyError, ValueError, TypeError):
        return _respond(start_response, "400 Bad Request", {"error": "text and limit 1–50"})
    patterns = suggest(conn, text, limit)
    words = terms(text)
    ids = candidates(conn, user, superuser, patterns, words)
    if path == "/sql-only/":
        if ids:
            conn.execute(SQL_SCORES, [ids]).fetchall()
            conn.execute(SQL_INCIDENTS, [ids]).fetchall()
        return _respond(start_response, "200 OK", {"candidates": ids})
    host = environ.get("HTTP_HOST", "127.0.0.1")
    incidents = rank(conn, ids, patterns, words, limit, host) if ids else []
    body = {
        "incidents": incidents,
        "patterns": [
            {
                "slug": p["slug"],
                "name": p["name"],
                "score": p["score"],
                "matched": p["matched"],
                "why": "The text mentions " + ", ".join(f"“{m}”" for m in p["matched"]) + ".",
            }
            for p in patterns
        ],
    }
    return _respond(start_response, "200 OK", body)
