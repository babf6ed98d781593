"""The floor for the incident list API: a bare WSGI callable, no Django, no DRF.

    FLOOR_API_PLAN=/tmp/plan.json DATABASE_URL=postgres://…/seams_bench_100k \
        .venv/bin/gunicorn floor_api:application --chdir bench -w 2 -b 127.0.0.1:8781

`bench/api_latency.py` writes the plan: for each benchmarked request (the list, the list
filtered by pattern, the full-text search), the SQL statements and parameters that Seams'
`GET /api/v1/incidents/…` sent to PostgreSQL, captured once in-process with an execute
wrapper, each with its role:

- `token`: the API-token lookup (with its user), by the SHA-256 digest of the header's key;
- `lookup`: what a filter resolves first (the pattern by its slug);
- `count`: the total a page-number page reports (`q` is paginated by page number);
- `main`: the page itself (51 rows for a cursor page: one more than the page, to know
  whether there is a next one; 50 for a numbered page);
- `rows`: for ranked search, whose `main` statement ranks ids only, the columns of the
  page's rows, by their ids (put back in rank order here, as Seams does);
- `prefetch`: shapes, components, pattern links and action items of those rows (the
  child rows, by the page's ids).

The floor replays exactly those statements through psycopg with the same client-side
parameter binding as Django (`psycopg.ClientCursor`), substituting what comes from the
request or from an earlier statement (the digest, the `q` text, the pattern slug and id,
the ids of the rows), and builds the same JSON as `IncidentSerializer` with the same
pagination links (cursor or page number). What it leaves out is what a framework adds:
URL routing, middleware, authentication/permission/throttling classes, django-filter,
the ORM's query building and model instances, and DRF's serializers and renderer.

A planned `POST /api/v1/similar/` (mode "replay") runs the statements Seams ran for that
body — the token lookup by the header's digest, then the captured statements as they were,
since for one body they do not change — and answers with Seams' captured answer, encoded
again: the database's work and the JSON encoding, without Seams' Python ranking (the ranking
decides which statements run, so it is not repeated). An unplanned similar request goes to
`floor_wsgi.application` (the hand-written similar floor). `GET /healthz` answers without
touching anything.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import floor_wsgi  # the similar floor, imported from beside this file

DSN = (os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/seams_bench").replace(
    "postgres://", "postgresql://", 1
)
TOUCH_TOKEN = "UPDATE incidents_apitoken SET last_used_at = now() WHERE id = %s"

_local = threading.local()
_touched: dict[int, float] = {}


def connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        # The session settings of Seams' own connections (config/settings/base.py: no JIT).
        conn = psycopg.connect(
            DSN, autocommit=True, cursor_factory=psycopg.ClientCursor, options="-c jit=off"
        )
        conn.execute("SET TIME ZONE 'UTC'")
        _local.conn = conn
    return conn


# --- reading a statement's SELECT list ---------------------------------------------------


def select_columns(sql: str) -> list[str]:
    """The names of a SELECT's result columns: "table.column" for plain column references,
    the alias for expressions (`… AS "alias"`). Only top-level commas split the list."""
    body = re.sub(r"^\s*SELECT\s+(DISTINCT\s+)?", "", sql, flags=re.I)
    items, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(body):
        ch = body[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ch == ",":
            items.append(body[start:i].strip())
            start = i + 1
        elif depth == 0 and body[i : i + 6].upper() == " FROM ":
            items.append(body[start:i].strip())
            break
        i += 1
    names = []
    for item in items:
        plain = re.fullmatch(r'"(\w+)"\."(\w+)"', item)
        alias = re.search(r'\sAS\s+"(\w+)"$', item, flags=re.I)
        names.append(f"{plain[1]}.{plain[2]}" if plain else alias[1] if alias else item)
    return names


def _with_placeholders(sql: str, captured: int, wanted: int) -> str:
    """The statement with its `IN (%s, …)` list resized from `captured` to `wanted` ids."""
    if captured == wanted:
        return sql
    old = "IN (" + ", ".join(["%s"] * captured) + ")"
    new = "IN (" + ", ".join(["%s"] * max(wanted, 1)) + ")"
    return sql.replace(old, new, 1)


class Step:
    def __init__(self, data: dict) -> None:
        self.role = data["role"]
        self.name = data.get("name", "")
        self.sql = data["sql"]
        self.params = data["params"]
        self.kinds = data["kinds"]
        # prefetch ids: the rows read ("main"), only the page's rows ("page"), or sorted
        self.order = data.get("order", "main")
        self.columns = select_columns(self.sql)
        self.index = {}
        for i, column in enumerate(self.columns):
            self.index.setdefault(column, i)

    def col(self, name: str) -> int:
        """The position of "table.column", or of its alias "column" (`.values()` aliases)."""
        if name in self.index:
            return self.index[name]
        return self.index[name.rsplit(".", 1)[-1]]


class Endpoint:
    def __init__(self, data: dict) -> None:
        self.mode = data["mode"]  # "list" (rows to JSON) or "replay" (statements, then answer)
        self.method = data["method"]
        self.path = data["path"]
        self.query = data["query"]
        self.body_sha1 = data.get("body_sha1", "")
        self.pagination = data.get("pagination")
        self.page_size = data.get("page_size")
        self.answer = data.get("answer")
        self.steps = [Step(s) for s in data["steps"]]


def request_key(method: str, path: str, query: dict, body_sha1: str) -> tuple:
    return method, path, urlencode(sorted(query.items())), body_sha1


def load_plan(path: str | None) -> dict[tuple, Endpoint]:
    """The benchmarked requests by (method, path, sorted query string, body digest)."""
    if not path:
        return {}
    plan = json.loads(Path(path).read_text())
    endpoints = [Endpoint(e) for e in plan["endpoints"].values()]
    return {request_key(e.method, e.path, e.query, e.body_sha1): e for e in endpoints}


ENDPOINTS = load_plan(os.environ.get("FLOOR_API_PLAN"))


# --- JSON as IncidentSerializer writes it ------------------------------------------------


_TEXT_TIMESTAMP = re.compile(
    r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:\+00(?::00)?)?"
)


def iso(value):
    """DRF's DateTimeField / DateField output: ISO 8601, UTC as "Z". Seams reads list
    timestamps as PostgreSQL's text ("2025-05-01 10:00:00.5+00"); those are reshaped."""
    if value is None:
        return None
    if isinstance(value, str):
        match = _TEXT_TIMESTAMP.fullmatch(value)
        if match is None:
            return iso(datetime.fromisoformat(value))
        day, clock, fraction = match.groups()
        fraction = (fraction or "").ljust(6, "0")
        return f"{day}T{clock}.{fraction}Z" if fraction != "000000" else f"{day}T{clock}Z"
    if isinstance(value, datetime):
        text = value.astimezone(UTC).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date):
        return value.isoformat()
    return value


def incident_json(row, main: Step, host: str, related: dict[str, dict[int, list]]) -> dict:
    c = main.col

    def timestamp(name: str) -> int:
        return main.index[f"{name}_text"]  # Seams' list reads timestamps as text

    pk = row[c("incidents_incident.id")]
    return {
        "id": pk,
        "url": f"http://{host}/api/v1/incidents/{pk}/",
        "title": row[c("incidents_incident.title")],
        "status": row[c("incidents_incident.status")],
        "severity": row[c("incidents_incident.severity")],
        "started_at": iso(row[timestamp("started_at")]),
        "detected_at": iso(row[timestamp("detected_at")]),
        "mitigated_at": iso(row[timestamp("mitigated_at")]),
        "resolved_at": iso(row[timestamp("resolved_at")]),
        "summary": row[c("incidents_incident.summary")],
        "shapes": related["shapes"].get(pk, []),
        "patterns": related["pattern_links"].get(pk, []),
        "components": related["components"].get(pk, []),
        "action_items": related["action_items"].get(pk, []),
        "external_id": row[c("incidents_incident.external_id")],
        "source_url": row[c("incidents_incident.source_url")],
        "organisation": row[c("incidents_incident.organisation")],
        "restricted": row[c("incidents_incident.restricted_to_id")] is not None,
        "version": row[c("incidents_incident.version")],
        "created_at": iso(row[timestamp("created_at")]),
        "updated_at": iso(row[timestamp("updated_at")]),
    }


def related_json(step: Step, rows) -> dict[int, list]:
    """Rows of one child-row statement grouped by incident, in the statement's order.

    Seams reads child rows with plain statements whose columns carry the aliases a
    `values_list` would give (e.g. "pattern__slug"); those names are looked up here.
    """
    c = step.index.__getitem__
    out: dict[int, list] = {}
    key = c("incident_id")
    if step.name == "shapes":
        slug = c("emergentshape__slug")

        def make(r):
            return r[slug]
    elif step.name == "components":
        name = c("component__name")

        def make(r):
            return r[name]
    elif step.name == "pattern_links":
        cols = {"slug": c("pattern__slug"), "name": c("pattern__name"),
                "rationale": c("rationale")}  # fmt: skip

        def make(r):
            return {k: r[i] for k, i in cols.items()}
    elif step.name == "action_items":
        cols = {
            field: c(f"{field}_text" if field == "completed_at" else field)
            for field in ("title", "owner", "status", "due", "completed_at", "tracker_url", "kind")
        }
        cols["leverage_level"] = c("leverage_level__slug")
        cols["pattern"] = c("pattern__slug")
        dated = {"due", "completed_at"}

        def make(r):
            return {k: iso(r[i]) if k in dated else r[i] for k, i in cols.items()}
    else:
        raise ValueError(f"unknown prefetch {step.name!r}")
    for r in rows:
        out.setdefault(r[key], []).append(make(r))
    return out


def _link(host: str, path: str, query: dict[str, str], key: str, value: str) -> str:
    """DRF's replace_query_param on the request's absolute URI (keys sorted)."""
    params = {**query, key: value}
    return f"http://{host}{path}?{urlencode(sorted(params.items()))}"


# --- the request -------------------------------------------------------------------------


def _respond(start_response, status: str, body: dict) -> list[bytes]:
    data = orjson.dumps(body)  # the encoder Seams' API uses (drf-orjson-renderer)
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def answer(environ, start_response, endpoint: Endpoint, query: dict[str, str]):
    conn = connection()
    header = environ.get("HTTP_AUTHORIZATION", "").split()
    if len(header) != 2 or header[0].lower() != "token":
        return _respond(start_response, "401 Unauthorized", {"error": "no token"})
    values = {
        "digest": hashlib.sha256(header[1].encode()).hexdigest(),
        "q": query.get("q"),
        "pattern_slug": query.get("pattern"),
    }
    host = environ.get("HTTP_HOST", "127.0.0.1")
    count, rows, main, related = None, [], None, {}
    for step in endpoint.steps:
        sql, params = step.sql, step.params
        if step.role in ("prefetch", "rows"):
            ids = values["ids"]
            if not ids:
                related[step.name] = {}
                continue
            if step.order == "sorted":
                ids = sorted(ids)
            elif step.order == "page" or step.role == "rows":
                ids = ids[: endpoint.page_size]
            sql, params = _with_placeholders(sql, len(params), len(ids)), ids
        else:
            params = [values[k] if k else p for p, k in zip(params, step.kinds, strict=True)]
        cursor = conn.execute(sql, params)
        result = cursor.fetchall() if cursor.description else []
        if step.role == "token":
            row = result[0] if result else None
            if (
                row is None
                or row[step.col("incidents_apitoken.revoked_at")] is not None
                or not row[step.col("auth_user.is_active")]
            ):
                return _respond(start_response, "401 Unauthorized", {"error": "invalid token"})
            token = row[step.col("incidents_apitoken.id")]
            if time.monotonic() - _touched.get(token, -1e9) > 60:  # as the app: once a minute
                conn.execute(TOUCH_TOKEN, [token])
                _touched[token] = time.monotonic()
        elif step.role == "lookup":
            if not result:
                return _respond(start_response, "400 Bad Request", {"error": "unknown slug"})
            values["pattern_id"] = result[0][step.col("taxonomy_structuralpattern.id")]
        elif step.role == "count":
            count = result[0][0]
        elif step.role == "main":
            main, rows = step, result
            at = step.index["pk"] if "pk" in step.index else step.col("incidents_incident.id")
            values["ids"] = [r[at] for r in rows]
            values["more"] = len(rows) > endpoint.page_size
        elif step.role == "rows":
            by_id = {r[step.col("incidents_incident.id")]: r for r in result}
            main = step
            rows = [by_id[pk] for pk in values["ids"][: endpoint.page_size] if pk in by_id]
        elif step.role == "prefetch":
            related[step.name] = related_json(step, result)
    if endpoint.mode == "replay":
        return _respond(start_response, "200 OK", endpoint.answer)
    page = rows[: endpoint.page_size]
    results = [incident_json(r, main, host, related) for r in page]
    if endpoint.pagination == "cursor":
        following = None
        if len(rows) > endpoint.page_size:
            position = str(page[-1][main.col("incidents_incident.id")])
            cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()
            following = _link(host, endpoint.path, query, "cursor", cursor)
        body = {"next": following, "previous": None, "results": results}
    elif count is not None:  # page numbers with a total (DRF's PageNumberPagination)
        following = None
        if count > endpoint.page_size:
            following = _link(host, endpoint.path, query, "page", "2")
        body = {"count": count, "next": following, "previous": None, "results": results}
    else:  # ranked page numbers without a total: the extra row says whether there is a next
        following = None
        if values["more"]:
            following = _link(host, endpoint.path, query, "page", "2")
        body = {"next": following, "previous": None, "results": results}
    return _respond(start_response, "200 OK", body)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/healthz":
        return _respond(start_response, "200 OK", {"status": "ok"})
    method = environ.get("REQUEST_METHOD", "GET")
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    body = b""
    if method == "POST":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    digest = hashlib.sha1(body).hexdigest() if body else ""
    endpoint = ENDPOINTS.get(request_key(method, path, query, digest))
    if endpoint is None:
        if path == "/api/v1/similar/" and method == "POST":  # not planned: the similar floor
            environ["wsgi.input"] = io.BytesIO(body)
            return floor_wsgi.application(environ, start_response)
        return _respond(start_response, "404 Not Found", {"error": "not in the plan"})
    return answer(environ, start_response, endpoint, query)
